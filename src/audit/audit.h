// The tamper-evident audit log: canonical entry form, chain hashing, verification.
//
// Implements ASSENT-AUDIT (spec/schemas/audit.json). Each entry is
//   {seq, time, actor, action, subject, outcome, prev_hash, hash}
// and its hash is
//   hash = hex(BLAKE2b-256(canonical))                       (ASSENT-AUDIT-003)
// where `canonical` is the entry without `hash` — prev_hash included, so each hash
// covers the previous one — as compact JSON: members
// sorted by key (bytewise, i.e. code point order), no whitespace, strings UTF-8 and not
// \u-escaped beyond what JSON requires, `time` in the spec's RFC 3339 form with
// milliseconds. prev_hash is the previous entry's hash as 64 lowercase hex characters
// (64 '0' for seq 1). Anyone can recompute the chain from audit.list, e.g. in Python:
//   blake2b(json.dumps(e_without_hash, sort_keys=True, separators=(",", ":"),
//                      ensure_ascii=False).encode(), digest_size=32).hexdigest()
//
// Editing any column of any entry, deleting one (a hole in seq, or a head that no
// longer matches the last entry) or reordering entries (seq is inside the hash) breaks
// the chain at a reported sequence number.
//
// What goes in an entry: ids, names, roles, token *names* and counts — never a secret
// value, a token, a client key, or reason/note text (a reason appears only as
// reason_hash). Callers build actor and subject with the helpers below.
//
// Append writes inside the caller's write transaction (THE ONE-TRANSACTION RULE): if it
// fails, the caller must abandon the transaction and answer -32007.
//
// Thread safety: stateless functions; the store serializes transactions.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"
#include "store/store.h"

namespace assent::audit {

// prev_hash of the first entry.
const std::string& GenesisHash();

struct Entry {
  TimeMs time = 0;
  nlohmann::json actor = nlohmann::json::object();    // audit.json#/definitions/Actor
  std::string action;                                 // AuditAction
  nlohmann::json subject = nlohmann::json::object();  // audit.json#/definitions/Subject
  std::string outcome = "ok";                         // ok | refused | error
};

// The canonical text that is hashed (see above).
std::string CanonicalForm(int64_t seq, TimeMs time, const nlohmann::json& actor,
                          std::string_view action, const nlohmann::json& subject,
                          std::string_view outcome, std::string_view prev_hash);
// hex(BLAKE2b-256(canonical)).
std::string EntryHash(std::string_view canonical);

// Appends `entry` after the current head, inside `tx`. Returns the stored row.
Result<store::AuditRow> Append(store::Tx& tx, const Entry& entry);

// The entry as audit.list returns it (AuditEntry).
nlohmann::json EntryToJson(const store::AuditRow& row);

struct VerifyReport {
  bool ok = true;
  int64_t entries = 0;                   // rows walked
  std::optional<std::string> head;       // hash of the last row, nullopt when empty
  std::optional<int64_t> first_bad_seq;  // set exactly when !ok
};

// Walks the whole chain in batches of read transactions (so a long log never holds
// the store for long) and checks seq continuity, every prev_hash, every hash, and the
// recorded head. Store errors are returned as errors, not as a bad chain.
Result<VerifyReport> Verify(store::Store& store, int64_t batch_rows = 1000);

// The report as audit.verify returns it (audit.json#/definitions/VerifyResult); also
// what `assent audit verify --db` prints for an offline check.
nlohmann::json VerifyReportToJson(const VerifyReport& report);

// Helpers for subjects: reason text only ever enters the log as this hash.
std::string ReasonHash(std::string_view reason);

}  // namespace assent::audit
