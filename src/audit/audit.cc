#include "audit/audit.h"

#include <algorithm>

#include "crypto/crypto.h"

namespace assent::audit {

namespace {

using json = nlohmann::json;

std::string Dump(const json& j) {
  // Invalid UTF-8 must not throw (TOOLCHAIN.md); it cannot reach here through the
  // validated RPC surface, but the log must never be the thing that crashes.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<json> ParseObject(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

}  // namespace

const std::string& GenesisHash() {
  static const std::string kGenesis(64, '0');
  return kGenesis;
}

std::string CanonicalForm(int64_t seq, TimeMs time, const json& actor, std::string_view action,
                          const json& subject, std::string_view outcome,
                          std::string_view prev_hash) {
  // nlohmann's default object is a std::map: members come out sorted by key.
  json entry = {{"seq", seq},
                {"time", FormatTimeMs(time)},
                {"actor", actor},
                {"action", std::string(action)},
                {"subject", subject},
                {"outcome", std::string(outcome)},
                {"prev_hash", std::string(prev_hash)}};
  return Dump(entry);
}

std::string EntryHash(std::string_view canonical) { return crypto::Blake2b256Hex(canonical); }

Result<store::AuditRow> Append(store::Tx& tx, const Entry& entry) {
  auto head = tx.GetAuditHead();
  if (!head.ok()) return head.status();
  store::AuditRow row;
  row.seq = head->seq + 1;
  row.time = entry.time;
  row.actor_json = Dump(entry.actor);
  row.action = entry.action;
  row.subject_json = Dump(entry.subject);
  row.outcome = entry.outcome;
  row.prev_hash = head->seq == 0 ? GenesisHash() : head->hash;
  // Hash what will be read back, so that verification recomputes the same bytes even
  // if the dump above had to replace invalid UTF-8.
  row.hash = EntryHash(CanonicalForm(row.seq, row.time, *ParseObject(row.actor_json),
                                     row.action, *ParseObject(row.subject_json),
                                     row.outcome, row.prev_hash));
  ASSENT_RETURN_IF_ERROR(tx.AppendAudit(row));
  return row;
}

json EntryToJson(const store::AuditRow& row) {
  auto actor = ParseObject(row.actor_json);
  auto subject = ParseObject(row.subject_json);
  return json{{"seq", row.seq},
              {"time", FormatTimeMs(row.time)},
              {"actor", actor ? *actor : json::object()},
              {"action", row.action},
              {"subject", subject ? *subject : json::object()},
              {"outcome", row.outcome},
              {"prev_hash", row.prev_hash},
              {"hash", row.hash}};
}

Result<VerifyReport> Verify(store::Store& store, int64_t batch_rows) {
  VerifyReport report;
  int64_t last_seq = 0;
  std::string last_hash = GenesisHash();
  auto mark_bad = [&](int64_t seq) {
    if (report.ok) {
      report.ok = false;
      report.first_bad_seq = seq;
    }
  };

  for (;;) {
    std::vector<store::AuditRow> rows;
    store::AuditHead head;
    bool at_end = false;
    Status st = store.WithReadTransaction([&](store::ReadTx& tx) -> Status {
      auto got = tx.ListAudit(last_seq, batch_rows);
      if (!got.ok()) return got.status();
      rows = std::move(*got);
      if (rows.empty()) {
        // Read in the same snapshot that showed nothing after last_seq.
        auto h = tx.GetAuditHead();
        if (!h.ok()) return h.status();
        head = *h;
        at_end = true;
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;

    if (at_end) {
      if (head.seq != last_seq) {
        // head ahead of the rows: the newest rows were cut off; behind: rows were
        // appended without moving the head (not our code).
        mark_bad(std::min(head.seq, last_seq) + 1);
      } else if (last_seq > 0 && head.hash != last_hash) {
        mark_bad(last_seq);
      }
      break;
    }

    for (const auto& row : rows) {
      ++report.entries;
      const int64_t expected = last_seq + 1;
      if (row.seq != expected) mark_bad(expected);  // a hole: rows were deleted
      auto actor = ParseObject(row.actor_json);
      auto subject = ParseObject(row.subject_json);
      if (row.prev_hash != last_hash || !actor || !subject) {
        mark_bad(row.seq);
      } else {
        std::string hash = EntryHash(CanonicalForm(row.seq, row.time, *actor, row.action,
                                                   *subject, row.outcome, row.prev_hash));
        if (hash != row.hash) mark_bad(row.seq);
      }
      last_seq = row.seq;
      last_hash = row.hash;
    }
  }
  if (report.entries > 0) report.head = last_hash;
  return report;
}

json VerifyReportToJson(const VerifyReport& report) {
  return json{{"ok", report.ok},
              {"entries", report.entries},
              {"head", report.head ? json(*report.head) : json(nullptr)},
              {"first_bad_seq", report.first_bad_seq ? json(*report.first_bad_seq) : json(nullptr)}};
}

std::string ReasonHash(std::string_view reason) { return crypto::Blake2b256Hex(reason); }

}  // namespace assent::audit
