#include "events/event_log.h"

#include <algorithm>

namespace assent::events {

namespace {

int64_t OldestFrom(const store::EventBounds& b) {
  return b.oldest_id ? *b.oldest_id : b.last_assigned_id + 1;
}

}  // namespace

store::EventScope ScopeAll() { return store::EventScope{true, ""}; }
store::EventScope ScopeClient(const std::string& client_id) {
  return store::EventScope{false, client_id};
}
store::EventScope ScopeNothing() { return store::EventScope{false, ""}; }

Result<ReadBatch> EventLog::ReadSince(int64_t after_id, const store::EventScope& scope,
                                      int64_t limit) {
  ReadBatch batch;
  after_id = std::max<int64_t>(0, after_id);
  batch.next_after_id = after_id;
  Status st = store_.WithReadTransaction([&](store::ReadTx& tx) -> Status {
    auto bounds = tx.GetEventBounds();
    if (!bounds.ok()) return bounds.status();
    const int64_t oldest = OldestFrom(*bounds);
    int64_t read_after = after_id;
    if (after_id + 1 < oldest && after_id < bounds->last_assigned_id) {
      batch.gap = Gap{after_id + 1, oldest - 1};
      read_after = oldest - 1;
      batch.next_after_id = oldest - 1;
    }
    // An empty scope (an agent without identity) reads nothing but still learns gaps.
    if (!scope.all && scope.originator.empty()) return Status::Ok();
    auto rows = tx.ReadEvents(read_after, scope, std::max<int64_t>(1, limit));
    if (!rows.ok()) return rows.status();
    for (auto& r : *rows) {
      nlohmann::json data = nlohmann::json::parse(r.data_json, nullptr, false);
      if (data.is_discarded()) return Internal("stored event data is not JSON");
      batch.events.push_back(Event{r.id, r.time, std::move(r.type), std::move(data)});
      batch.next_after_id = r.id;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return batch;
}

Result<int64_t> EventLog::OldestRetainedId() {
  int64_t out = 0;
  Status st = store_.WithReadTransaction([&](store::ReadTx& tx) -> Status {
    auto bounds = tx.GetEventBounds();
    if (!bounds.ok()) return bounds.status();
    out = OldestFrom(*bounds);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<int64_t> EventLog::LastId() {
  int64_t out = 0;
  Status st = store_.WithReadTransaction([&](store::ReadTx& tx) -> Status {
    auto bounds = tx.GetEventBounds();
    if (!bounds.ok()) return bounds.status();
    out = bounds->last_assigned_id;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<int64_t> EventLog::PruneOnce() {
  int64_t deleted = 0;
  const TimeMs older_than = clock_.NowMs() - config_.retention_s * 1000;
  Status st = store_.WithTransaction([&](store::Tx& tx) -> Status {
    auto bounds = tx.GetEventBounds();
    if (!bounds.ok()) return bounds.status();
    const int64_t id_at_most = bounds->last_assigned_id - config_.retention_count_max;
    auto n = tx.PruneEvents(older_than, id_at_most, config_.prune_rows_max);
    if (!n.ok()) return n.status();
    deleted = *n;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (deleted > 0) prune_generation_.fetch_add(1);
  return deleted;
}

}  // namespace assent::events
