// Durable Discord bookkeeping, kept in the store's meta table (no schema of its own).
//
// Keys (all prefixed "discord."):
//   msg.<request_id>       MessageRecord as JSON: the per-request button nonce, the
//                          message id once posted, and whether the post was given up
//   ix.<interaction_id>    the answer already given to that interaction (dedupe of
//                          redelivered interactions, ASSENT-DISC-006 "counts once")
//   rx.<request_id>        user ids whose reaction vote was already submitted
//   outbox.inflight        ids of outbox rows claimed by the worker; moved back to
//                          pending at start-up (a crash mid-call), then re-sent with the
//                          same nonce so Discord does not post twice (ASSENT-DISC-007)
//   outbox.dead_unrecorded  ids of outbox rows that turned dead (in the transaction that
//                          marked them) and whose failure the engine has not yet
//                          recorded on the request; the engine's transaction removes
//                          the id, Recover() records what a crash left here
//   bot_user_id            the bot's own user id (author of its posts), ignored when
//                          reading reactions
//
// Every function runs inside the caller's transaction.
//
// Thread safety: as the Tx it is given.
#pragma once

#include <optional>
#include <set>
#include <string>

#include "base/status.h"
#include "store/store.h"

namespace assent::discord {

struct MessageRecord {
  std::string button_nonce;  // lowercase hex
  std::string message_id;    // "" until posted
  std::string channel_id;
  bool dead = false;  // the post was given up for good
};

Result<std::optional<MessageRecord>> GetMessageRecord(store::ReadTx& tx,
                                                      const std::string& request_id);
Status PutMessageRecord(store::Tx& tx, const std::string& request_id,
                        const MessageRecord& record);
// The same read in a transaction of its own (the worker reads before calling Discord).
Result<std::optional<MessageRecord>> ReadMessageRecord(store::Store& store,
                                                       const std::string& request_id);
// The channel a message lives in: the one recorded at posting, else the configured one.
inline const std::string& MessageChannel(const MessageRecord& record,
                                         const std::string& configured_channel) {
  return record.channel_id.empty() ? configured_channel : record.channel_id;
}

Result<std::optional<std::string>> GetInteractionAnswer(store::ReadTx& tx,
                                                        const std::string& interaction_id);
Status PutInteractionAnswer(store::Tx& tx, const std::string& interaction_id,
                            const std::string& answer_json);

Result<std::set<std::string>> GetReactionVoters(store::ReadTx& tx,
                                                const std::string& request_id);
Status PutReactionVoters(store::Tx& tx, const std::string& request_id,
                         const std::set<std::string>& voters);

Result<std::set<int64_t>> GetInflight(store::ReadTx& tx);
Status PutInflight(store::Tx& tx, const std::set<int64_t>& ids);

Result<std::set<int64_t>> GetDeadUnrecorded(store::ReadTx& tx);
Status PutDeadUnrecorded(store::Tx& tx, const std::set<int64_t>& ids);

Result<std::optional<std::string>> GetBotUserId(store::ReadTx& tx);
Status PutBotUserId(store::Tx& tx, const std::string& id);

}  // namespace assent::discord
