#include "approvers/discord/state.h"

#include <nlohmann/json.hpp>

#include "base/json_members.h"

namespace assent::discord {
namespace {

using nlohmann::json;

// Stored values are ours; a malformed one means corruption, reported as internal.
Result<std::optional<json>> GetJson(store::ReadTx& tx, const std::string& key) {
  auto v = tx.GetMeta(key);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::optional<json>();
  json j = json::parse(**v, nullptr, false);
  if (j.is_discarded()) return Internal("discord state " + key + " is corrupt");
  return std::optional<json>(std::move(j));
}

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

Result<std::optional<MessageRecord>> GetMessageRecord(store::ReadTx& tx,
                                                      const std::string& request_id) {
  auto j = GetJson(tx, "discord.msg." + request_id);
  if (!j.ok()) return j.status();
  if (!j->has_value()) return std::optional<MessageRecord>();
  const json& o = **j;
  if (!o.is_object()) return Internal("discord message record is corrupt");
  MessageRecord r;
  r.button_nonce = StrMember(o, "nonce");
  r.message_id = StrMember(o, "message_id");
  r.channel_id = StrMember(o, "channel_id");
  r.dead = TrueMember(o, "dead");
  return std::optional<MessageRecord>(std::move(r));
}

Result<std::optional<MessageRecord>> ReadMessageRecord(store::Store& store,
                                                       const std::string& request_id) {
  std::optional<MessageRecord> rec;
  Status st = store.WithReadTransaction([&](store::ReadTx& tx) -> Status {
    auto r = GetMessageRecord(tx, request_id);
    if (!r.ok()) return r.status();
    rec = *r;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return rec;
}

Status PutMessageRecord(store::Tx& tx, const std::string& request_id,
                        const MessageRecord& r) {
  json o = {{"nonce", r.button_nonce},
            {"message_id", r.message_id},
            {"channel_id", r.channel_id},
            {"dead", r.dead}};
  return tx.PutMeta("discord.msg." + request_id, Dump(o));
}

Result<std::optional<std::string>> GetInteractionAnswer(store::ReadTx& tx,
                                                        const std::string& interaction_id) {
  return tx.GetMeta("discord.ix." + interaction_id);
}

Status PutInteractionAnswer(store::Tx& tx, const std::string& interaction_id,
                            const std::string& answer_json) {
  return tx.PutMeta("discord.ix." + interaction_id, answer_json);
}

Result<std::set<std::string>> GetReactionVoters(store::ReadTx& tx,
                                                const std::string& request_id) {
  auto j = GetJson(tx, "discord.rx." + request_id);
  if (!j.ok()) return j.status();
  std::set<std::string> out;
  if (j->has_value() && (*j)->is_array()) {
    for (const auto& v : **j)
      if (v.is_string()) out.insert(v.get<std::string>());
  }
  return out;
}

Status PutReactionVoters(store::Tx& tx, const std::string& request_id,
                         const std::set<std::string>& voters) {
  return tx.PutMeta("discord.rx." + request_id, Dump(json(voters)));
}

namespace {

Result<std::set<int64_t>> GetIdSet(store::ReadTx& tx, const std::string& key) {
  auto j = GetJson(tx, key);
  if (!j.ok()) return j.status();
  std::set<int64_t> out;
  if (j->has_value() && (*j)->is_array()) {
    for (const auto& v : **j)
      if (v.is_number_integer()) out.insert(v.get<int64_t>());
  }
  return out;
}

constexpr char kInflightKey[] = "discord.outbox.inflight";
constexpr char kDeadUnrecordedKey[] = "discord.outbox.dead_unrecorded";

}  // namespace

Result<std::set<int64_t>> GetInflight(store::ReadTx& tx) { return GetIdSet(tx, kInflightKey); }

Status PutInflight(store::Tx& tx, const std::set<int64_t>& ids) {
  return tx.PutMeta(kInflightKey, Dump(json(ids)));
}

Result<std::set<int64_t>> GetDeadUnrecorded(store::ReadTx& tx) {
  return GetIdSet(tx, kDeadUnrecordedKey);
}

Status PutDeadUnrecorded(store::Tx& tx, const std::set<int64_t>& ids) {
  return tx.PutMeta(kDeadUnrecordedKey, Dump(json(ids)));
}

Result<std::optional<std::string>> GetBotUserId(store::ReadTx& tx) {
  return tx.GetMeta("discord.bot_user_id");
}

Status PutBotUserId(store::Tx& tx, const std::string& id) {
  return tx.PutMeta("discord.bot_user_id", id);
}

}  // namespace assent::discord
