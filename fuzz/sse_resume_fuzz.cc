// Fuzz harness: SSE resume — the durable event log (EventLog over an in-memory SQLite
// store) and the stream writer (SseStreamer) that replays it after a cursor.
//
// The input (read with fuzz::Reader) chooses a retention configuration, a caller (admin,
// agent cl_A, agent cl_B, agent without identity) and the kind of cursor (none, `since`
// near the retained range, or any non-negative 18-digit value, as server.cc admits),
// then a history of operations: events of any x-events type from no originator or one
// of two clients, bursts (to cross the streamer's 256-event replay batches), clock steps
// forward and, because wall clocks do step back, backward, and pruning runs.
//
// The stream is served as assentd serves it: Open, then Adopt by the streamer's writer
// thread of one end of a socket pair, from which the harness reads the chunked stream
// until the expected frames arrived; a few live events are committed and notified, and
// the stream is shut down (which shows any frame beyond those expected).
// Properties, from spec/requirements.json:
//   EVT-007  after each pruning run every event younger than retention_s AND among the
//            newest retention_count_max is still retained, and a run deletes at most
//            prune_rows_max rows; what it deleted is a prefix of ids (no retained id is
//            smaller than a pruned one), even after a clock step back.
//   EVT-005  the replay is exactly the retained events with id > cursor that the caller
//            may see, in order, with no duplicate and no hole; live events follow in
//            order; without a cursor only live events are sent.
//   EVT-006  a `gap` is sent iff an event with id > cursor was pruned; it comes first,
//            from_id = cursor + 1, to_id = the last pruned id, and carries `id: to_id`.
//   EVT-008  an agent gets only its own client's events; admins get all.
//   EVT-002/003  every event frame has an id, an x-events type and one line of JSON data
//            equal to what was stored; EVT-011 `shutdown` has no id and ends the stream.
#include <sys/socket.h>

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "events/event_log.h"
#include "fuzz_support.h"
#include "http/event_stream.h"
#include "rpc/context.h"
#include "spec/registry.h"
#include "sse_socket_reader.h"
#include "store/sqlite_store.h"

namespace {

using assent::Status;
using assent::fuzz::Shown;
using nlohmann::json;
namespace events = assent::events;
namespace store = assent::store;

constexpr size_t kOpsMax = 64;
constexpr int64_t kEventsMax = 700;  // > 2 replay batches of 256
constexpr int64_t kCursorMax = 999'999'999'999'999'999;  // server.cc admits 1..18 digits
const char* const kClients[] = {"cl_" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                "cl_" "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"};

struct Stored {
  int64_t id;
  assent::TimeMs time;
  std::string type;
  std::optional<std::string> originator;
  json data;
};

struct Frame {
  std::optional<int64_t> id;
  std::string event;
  std::string data;
  bool comment_only = false;
};

// Parses SSE text into frames (blank-line separated); comment and retry lines are kept
// out of frames. Checks the wire shape on the way.
std::vector<Frame> ParseFrames(const std::string& chunk) {
  std::vector<Frame> out;
  for (const std::string& block : [&] {
         std::vector<std::string> blocks;
         size_t start = 0;
         for (size_t at; (at = chunk.find("\n\n", start)) != std::string::npos; start = at + 2)
           blocks.push_back(chunk.substr(start, at - start));
         FUZZ_CHECK(start == chunk.size(), "an SSE chunk does not end a frame: " + Shown(chunk));
         return blocks;
       }()) {
    Frame f;
    bool any_field = false;
    for (const std::string& line : assent::fuzz::Split(block, '\n')) {
      FUZZ_CHECK(line.find('\r') == std::string::npos, "a CR inside an SSE line");
      if (line.rfind(":", 0) == 0 || line.rfind("retry: ", 0) == 0) continue;
      any_field = true;
      if (line.rfind("id: ", 0) == 0) {
        FUZZ_CHECK(!f.id, "two id lines in one frame");
        f.id = std::stoll(line.substr(4));
      } else if (line.rfind("event: ", 0) == 0) {
        f.event = line.substr(7);
      } else if (line.rfind("data: ", 0) == 0) {
        FUZZ_CHECK(f.data.empty(), "event data spans two data lines: " + Shown(block));
        f.data = line.substr(6);
      } else {
        FUZZ_CHECK(false, "an unknown SSE line: " + Shown(line));
      }
    }
    if (any_field) out.push_back(std::move(f));
  }
  return out;
}

// One in-memory database for all inputs, emptied before each: opening and migrating a
// new one costs more than the rest of an input under ASan. Only the events table (and
// its AUTOINCREMENT counter) is written here.
store::SqliteStore& FreshStore() {
  static std::unique_ptr<store::SqliteStore> db = [] {
    auto s = store::SqliteStore::Open(":memory:");
    FUZZ_CHECK(s.ok(), "an in-memory store does not open");
    return std::move(*s);
  }();
  Status st = db->ExecForTesting("DELETE FROM events; DELETE FROM sqlite_sequence;");
  FUZZ_CHECK(st.ok(), "emptying the store failed: " + st.message());
  return *db;
}

class Run {
 public:
  explicit Run(const assent::spec::SpecRegistry& registry) : store_(&FreshStore()) {
    // gap and shutdown are made by the streamer, never stored.
    for (const auto& t : registry.EventTypes())
      if (t != "gap" && t != "shutdown") types_.push_back(t);
    FUZZ_CHECK(!types_.empty(), "the spec has no stored event types");
  }

  void Go(assent::fuzz::Reader& in) {
    events::RetentionConfig rc;
    rc.retention_s = 1 + in.U16() % 100'000;
    rc.retention_count_max = 1 + in.Byte();
    rc.prune_rows_max = 1 + in.Byte();
    events::EventLog log(*store_, clock_, rc);
    // The caller and the cursor's kind come first, so the history can run to the end
    // of the input.
    const uint8_t who = in.Byte() % 4;
    const uint8_t cursor_kind = in.Byte() % 4;
    const uint64_t cursor_pick = in.U64();

    for (size_t op = 0; op < kOpsMax && !in.empty(); ++op) {
      switch (in.Byte() % 8) {
        case 0: case 1: case 2: case 3: {
          const std::string& type = types_[in.Below(static_cast<uint32_t>(types_.size()))];
          auto originator = Originator(in.Byte());
          std::string text = in.String(12);
          Insert({{type, std::move(originator), text}});
          break;
        }
        case 4: {
          std::vector<Pending> burst(in.Byte() * 2u);
          for (size_t i = 0; i < burst.size(); ++i)
            burst[i] = {types_[i % types_.size()], Originator(i), ""};
          Insert(std::move(burst));
          break;
        }
        case 5: clock_.AdvanceMs(int64_t{in.U16()} * 1000); break;
        case 6: clock_.AdvanceMs(-int64_t{in.U16()} * 1000); break;  // the wall clock stepped back
        case 7: Prune(log, rc); break;
      }
    }

    // The caller and the cursor.
    assent::http::EventStreamRequest req;
    req.ctx.role = who == 0 ? assent::rpc::Role::kAdmin : assent::rpc::Role::kAgent;
    if (who == 1 || who == 2) req.ctx.client_id = kClients[who - 1];
    int64_t last = static_cast<int64_t>(inserted_.size());
    switch (cursor_kind) {
      case 0: break;  // live only
      case 1: req.since = static_cast<int64_t>(cursor_pick % static_cast<uint64_t>(last + 3)); break;
      case 2: req.since = static_cast<int64_t>(cursor_pick % (kCursorMax + 1)); break;
      default:
        req.since = std::max<int64_t>(0, Oldest() - 1 - static_cast<int64_t>(cursor_pick % 3));
        break;
    }
    Stream(log, req);
  }

 private:
  std::optional<std::string> Originator(size_t pick) const {
    if (pick % 3 == 2) return std::nullopt;
    return std::string(kClients[pick % 3]);
  }

  struct Pending {
    std::string type;
    std::optional<std::string> originator;
    std::string text;
  };

  // Writes events in one transaction, as one commit of the engine may. Live events
  // (`live`) are written even when the history used up kEventsMax.
  void Insert(std::vector<Pending> batch, bool live = false) {
    std::vector<Stored> rows;
    for (auto& p : batch) {
      if (!live && static_cast<int64_t>(inserted_.size() + rows.size()) >= kEventsMax) break;
      rows.push_back(Stored{0, clock_.NowMs(), std::move(p.type), std::move(p.originator),
                            json{{"n", inserted_.size() + rows.size()}, {"text", p.text}}});
    }
    if (rows.empty()) return;
    Status st = store_->WithTransaction([&](store::Tx& tx) -> Status {
      for (Stored& e : rows) {
        auto r = tx.InsertEvent(store::EventRow{
            0, e.time, e.type, e.originator,
            e.data.dump(-1, ' ', false, json::error_handler_t::replace)});
        if (!r.ok()) return r.status();
        e.id = *r;
      }
      return Status::Ok();
    });
    FUZZ_CHECK(st.ok(), "an event insert failed: " + st.message());
    for (Stored& e : rows) {
      FUZZ_CHECK(e.id == static_cast<int64_t>(inserted_.size()) + 1,
                 "event ids are not assigned 1, 2, 3, …: got " + std::to_string(e.id));
      // What the stream must send back: the stored text, parsed (invalid UTF-8 replaced).
      e.data = json::parse(e.data.dump(-1, ' ', false, json::error_handler_t::replace));
      inserted_.push_back(std::move(e));
    }
  }

  std::set<int64_t> Retained() {
    std::set<int64_t> ids;
    Status st = store_->WithReadTransaction([&](store::ReadTx& tx) -> Status {
      auto rows = tx.ReadEvents(0, events::ScopeAll(), kEventsMax + 10);
      if (!rows.ok()) return rows.status();
      for (const auto& r : *rows) ids.insert(r.id);
      return Status::Ok();
    });
    FUZZ_CHECK(st.ok(), "reading the event log failed: " + st.message());
    return ids;
  }

  int64_t Oldest() {
    auto r = Retained();
    return r.empty() ? static_cast<int64_t>(inserted_.size()) + 1 : *r.begin();
  }

  void Prune(events::EventLog& log, const events::RetentionConfig& rc) {
    const std::set<int64_t> before = Retained();
    auto n = log.PruneOnce();
    FUZZ_CHECK(n.ok(), "PruneOnce failed: " + n.status().message());
    const std::set<int64_t> after = Retained();
    FUZZ_CHECK(*n >= 0 && *n <= rc.prune_rows_max &&
                   before.size() - after.size() == static_cast<size_t>(*n),
               "PruneOnce deleted " + std::to_string(before.size() - after.size()) +
                   " rows, reported " + std::to_string(*n) + ", bound " +
                   std::to_string(rc.prune_rows_max));
    // Pruning deletes a prefix of ids, even after the clock stepped back: no retained
    // id is smaller than a pruned one (else a replay has a hole without a gap).
    for (int64_t id : before)
      FUZZ_CHECK(after.count(id) || after.empty() || id < *after.begin(),
                 "event " + std::to_string(id) + " was pruned but " +
                     std::to_string(*after.begin()) + " before it was kept");
    // EVT-007: the young AND recent ones stay.
    const int64_t last = static_cast<int64_t>(inserted_.size());
    for (int64_t id : before) {
      const Stored& e = inserted_[id - 1];
      const bool young = e.time >= clock_.NowMs() - rc.retention_s * 1000;
      const bool recent = id > last - rc.retention_count_max;
      FUZZ_CHECK(!(young && recent) || after.count(id),
                 "event " + std::to_string(id) + " was pruned inside the retention window");
    }
  }

  void Stream(events::EventLog& log, const assent::http::EventStreamRequest& req) {
    assent::http::SseStreamer streamer(log, /*heartbeat_s=*/60, /*subscribers_max=*/4,
                                       /*write_timeout_ms=*/5000, /*fan_out_interval_ms=*/0);
    const std::set<int64_t> retained = Retained();
    const int64_t last = static_cast<int64_t>(inserted_.size());
    auto visible = [&](const Stored& e) {
      if (req.ctx.role != assent::rpc::Role::kAgent) return true;
      return req.ctx.client_id && e.originator == req.ctx.client_id;
    };

    // Expected replay (EVT-005, EVT-006, EVT-008).
    std::vector<int64_t> expect;
    std::optional<int64_t> last_pruned_after_cursor;
    if (req.since) {
      for (int64_t id = *req.since + 1; id <= last; ++id) {
        if (!retained.count(id)) last_pruned_after_cursor = id;
        else if (visible(inserted_[id - 1])) expect.push_back(id);
      }
    }

    // As the HTTP server opens a stream: a slot, Open (the worker's first bytes), then
    // the writer thread adopts one end of a socket pair; the harness reads the other.
    int sv[2];
    FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair failed");
    FUZZ_CHECK(streamer.TryAcquireSlot(), "no subscriber slot for the first stream");
    int64_t cursor = -1;
    std::string head;
    FUZZ_CHECK(streamer.Open(req, &cursor, &head), "the stream ended before it began");
    FUZZ_CHECK(head.rfind("retry: ", 0) == 0, "the stream does not open with retry: " + Shown(head));
    streamer.Adopt(sv[0], req, cursor);
    assent::testing::SseSocketReader reader(sv[1]);
    // The replay: as many frames as expected (a missing one times out, an extra one
    // shows among the live frames or before `shutdown` below).
    const size_t replay_frames = expect.size() + (last_pruned_after_cursor ? 1 : 0);
    std::vector<Frame> got = ReadFrames(reader, replay_frames);

    size_t at = 0;
    if (last_pruned_after_cursor) {
      FUZZ_CHECK(!got.empty() && got[0].event == "gap",
                 "events after the cursor " + std::to_string(*req.since) +
                     " were pruned (the last: " + std::to_string(*last_pruned_after_cursor) +
                     ") but the stream does not begin with gap");
      const Frame& g = got[0];
      json d = json::parse(g.data, nullptr, false);
      FUZZ_CHECK(d.is_object() && d.value("from_id", int64_t{-1}) == *req.since + 1 &&
                     d.value("to_id", int64_t{-1}) == *last_pruned_after_cursor &&
                     g.id == *last_pruned_after_cursor,
                 "gap after cursor " + std::to_string(*req.since) + " should be {from_id " +
                     std::to_string(*req.since + 1) + ", to_id " +
                     std::to_string(*last_pruned_after_cursor) + "} with that id; got id " +
                     std::to_string(g.id.value_or(-1)) + " data " + Shown(g.data));
      at = 1;
    }
    std::vector<int64_t> replayed;
    for (; at < got.size(); ++at) {
      FUZZ_CHECK(got[at].event != "gap", "a gap that is not the first frame, or one too many");
      CheckEventFrame(got[at]);
      replayed.push_back(*got[at].id);
    }
    FUZZ_CHECK(replayed == expect, "cursor " + (req.since ? std::to_string(*req.since) : "none") +
                                       ": replayed " + Ids(replayed) + " but expected " +
                                       Ids(expect) + " (retained " +
                                       Ids({retained.begin(), retained.end()}) + ")");
    for (int64_t id : replayed)
      FUZZ_CHECK(visible(inserted_[id - 1]), "an event outside the caller's scope");

    // Live: three more events, notified; the visible ones follow in order.
    std::vector<int64_t> live;
    for (size_t i = 0; i < 3; ++i) {
      Insert({{types_[i % types_.size()], Originator(i), "live"}}, /*live=*/true);
      // A cursor past the last id (a client may send any since) skips ids up to it.
      const int64_t id = inserted_.back().id;
      if (visible(inserted_.back()) && (!req.since || id > *req.since)) live.push_back(id);
    }
    streamer.Notify(static_cast<int64_t>(inserted_.size()));
    std::vector<Frame> all = ReadFrames(reader, replay_frames + live.size());
    std::vector<int64_t> followed;
    for (size_t i = replay_frames; i < all.size(); ++i) {
      CheckEventFrame(all[i]);
      if (all[i].event != "gap") followed.push_back(*all[i].id);
    }
    FUZZ_CHECK(followed == live, "live events " + Ids(followed) + ", expected " + Ids(live));

    // EVT-011: `shutdown` without an id, the last chunk, and the connection closes.
    streamer.Shutdown("signal");
    FUZZ_CHECK(reader.ReadToEof(), "the stream goes on after shutdown");
    bool last_chunk = false;
    bool framing_ok = false;
    const std::string text = reader.Text(&last_chunk, &framing_ok);
    FUZZ_CHECK(framing_ok && last_chunk, "the stream's chunk framing is broken: " + Shown(reader.raw()));
    auto frames = ParseFrames(text);
    FUZZ_CHECK(frames.size() == all.size() + 1, "frames after the live events: " +
                                                   std::to_string(frames.size() - all.size()));
    FUZZ_CHECK(frames.back().event == "shutdown" && !frames.back().id,
               "shutdown frame wrong: " + Shown(text));
  }

  // The stream's frames once it has sent at least `n` (or after 10 s, however many).
  static std::vector<Frame> ReadFrames(assent::testing::SseSocketReader& reader, size_t n) {
    reader.ReadUntil([n](const std::string& text) { return ParseFrames(text).size() >= n; }, 10000);
    return ParseFrames(reader.Text());
  }

  void CheckEventFrame(const Frame& f) {
    FUZZ_CHECK(f.id.has_value(), "an event frame without an id: " + f.event);
    const int64_t id = *f.id;
    FUZZ_CHECK(id >= 1 && id <= static_cast<int64_t>(inserted_.size()),
               "an event id never assigned: " + std::to_string(id));
    const Stored& e = inserted_[id - 1];
    FUZZ_CHECK(f.event == e.type, "event " + std::to_string(id) + " has type " + f.event +
                                      ", stored " + e.type);
    json d = json::parse(f.data, nullptr, false);
    FUZZ_CHECK(!d.is_discarded() && d == e.data,
               "event " + std::to_string(id) + " data " + Shown(f.data) + " differs from stored " +
                   Shown(e.data.dump()));
  }

  static std::string Ids(const std::vector<int64_t>& ids) {
    std::string s = "[";
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i == 12 && ids.size() > 16) {
        s += "… " + std::to_string(ids.size() - 14) + " more …, ";
        i = ids.size() - 2;
      }
      s += std::to_string(ids[i]) + (i + 1 < ids.size() ? ", " : "");
    }
    return s + "]";
  }

  assent::FakeClock clock_;
  store::SqliteStore* store_;
  std::vector<std::string> types_;
  std::vector<Stored> inserted_;
};

const assent::spec::SpecRegistry& Registry() {
  static std::unique_ptr<assent::spec::SpecRegistry> r = [] {
    auto loaded = assent::spec::SpecRegistry::LoadEmbedded();
    FUZZ_CHECK(loaded.ok(), "the embedded spec does not load");
    return std::move(*loaded);
  }();
  return *r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  assent::fuzz::Reader in(data, size);
  Run run(Registry());
  run.Go(in);
  return 0;
}
