// EventLog: the reader side of the durable event log, and its retention.
//
// Events are written by core/ inside the transaction of the change that caused them
// (THE ONE-TRANSACTION RULE), so this module only reads and prunes. The SSE writer in
// http/ uses it to replay `since` an id and to learn, when it is woken by
// Engine::Subscribe, what to send next:
//
//   auto batch = log.ReadSince(last_sent_id, scope, 256);
//   if (batch->gap) send "gap" {from_id, to_id} with id to_id      (ASSENT-EVT-006)
//   for (auto& e : batch->events) send e                            (ASSENT-EVT-005)
//
// The gap is computed in the same read transaction as the events, so a replay never
// skips silently. Ids are assigned in commit order (the store serializes writers), so
// reading after id N never misses an event that commits later with a smaller id.
//
// Scoping (ASSENT-EVT-008): an agent's scope is its proven client id — events of other
// originators are never returned; approvers and admins read everything. Callers derive
// the scope from the authenticated caller only, never from query parameters.
//
// Retention (ASSENT-EVT-007): an event is pruned once it is older than `retention_s`
// OR more than `retention_count_max` newer events exist — "24 h or 100,000 events,
// whichever is smaller" — but pruning always deletes a prefix of ids, so the gap
// computed from the oldest retained id accounts for every pruned event: after the wall
// clock stepped back, an old-timestamped event that follows a younger one is kept until
// that one goes. Each PruneOnce reads and deletes at most `prune_rows_max` rows, so one
// run's cost is bounded; the daemon calls it periodically.
//
// Thread safety: all methods may be called from any thread (the store serializes).
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "store/store.h"

namespace assent::events {

struct RetentionConfig {
  int64_t retention_s = 86400;             // event_retention_s
  int64_t retention_count_max = 100'000;   // event_retention_count_max
  int64_t prune_rows_max = 10'000;         // rows deleted per PruneOnce at most
};

struct Event {
  int64_t id = 0;
  TimeMs time = 0;
  std::string type;
  nlohmann::json data;  // as stored: matches the type's schema in x-events
};

// Events from_id..to_id (inclusive) were asked for but have been pruned.
struct Gap {
  int64_t from_id = 0;
  int64_t to_id = 0;
};

struct ReadBatch {
  std::optional<Gap> gap;
  std::vector<Event> events;
  // The highest id this batch accounts for (the last event, the gap's end, or the
  // `after_id` asked for): the next read's `after_id`.
  int64_t next_after_id = 0;
};

// Who may see what: every event, or those of one originator.
store::EventScope ScopeAll();
store::EventScope ScopeClient(const std::string& client_id);
// An agent without a proven client identity sees no originator events at all.
store::EventScope ScopeNothing();

class EventLog {
 public:
  EventLog(store::Store& store, Clock& clock, RetentionConfig config = {})
      : store_(store), clock_(clock), config_(config) {}

  // Events with id > after_id visible in `scope`, in id order, at most `limit`, preceded
  // by a gap when history after `after_id` was pruned.
  Result<ReadBatch> ReadSince(int64_t after_id, const store::EventScope& scope,
                              int64_t limit);

  // The smallest id a reader can still be given: the oldest retained event, or the
  // next id to be assigned when none is retained.
  Result<int64_t> OldestRetainedId();
  // The highest id ever assigned (0 when none): where a live-only stream starts.
  Result<int64_t> LastId();

  // Prunes at most prune_rows_max events that fall outside the retention window;
  // returns how many were deleted.
  Result<int64_t> PruneOnce();
  // Counts the PruneOnce runs that deleted something (raised after their commit): a
  // cached read from an earlier generation may hold events since pruned.
  int64_t PruneGeneration() const { return prune_generation_.load(); }

 private:
  store::Store& store_;
  Clock& clock_;
  RetentionConfig config_;
  std::atomic<int64_t> prune_generation_{0};
};

}  // namespace assent::events
