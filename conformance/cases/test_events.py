"""PROTOCOL.md 12. Events (profile events). Every event read is validated against the schema
of its type (harness/sse.py)."""

import json
import signal
import time

from conformance.harness import expect
from conformance.harness.case import case
from conformance.harness.context import parse_time, sleep_until_wallclock
from conformance.harness.sse import SseStream
from conformance.harness.verdict import CaseFailure, check, eq

EV = "events"


def _for(rid):
    return lambda e: (e.data or {}).get("request_id") == rid


def _stream(t, client=None, **kw):
    """An open stream that has begun: the spec does not say from which moment a stream
    without since is "live", so the suite waits for the first line of the body (a retry:
    field, a comment or an event; at most a heartbeat away) before it acts."""
    s = SseStream(client or t.approver, **kw)
    if s.status != 200:
        raise CaseFailure("GET /events must answer 200", expected=200, actual=s.status, req="ASSENT-EVT-001")
    s.pump_until(lambda st: bool(st.lines), 2.5)
    return s


@case("events/stream/opens", req=["ASSENT-EVT-001", "ASSENT-HTTP-018"], profile=EV)
def test_opens(t):
    """GET /events answers 200 with Content-Type: text/event-stream."""
    with _stream(t) as s:
        ct = s.header("Content-Type") or ""
        check(ct.split(";")[0].strip() == "text/event-stream", "Content-Type", expected="text/event-stream", actual=ct,
              req="ASSENT-EVT-001")


@case("events/stream/checks", req=["ASSENT-EVT-001", "ASSENT-AUTH-002"], profile=EV)
def test_checks(t):
    """/events passes the /rpc checks: no token on TCP is 401."""
    r = t.peer(None).http("GET", "/events", deliberately_invalid=True)
    expect.http_error(r, 401, "unauthorized", req="ASSENT-EVT-001")


@case("events/stream/bad-since", req=["ASSENT-EVT-012"], profile=EV)
def test_bad_since(t):
    """A malformed since or Last-Event-ID is 400 bad_request."""
    for q, h in (("since=abc", ()), ("since=-1", ()), ("since=1.5", ()), ("", (("Last-Event-ID", "x"),))):
        r = t.approver.http("GET", "/events" + ("?" + q if q else ""), extra_headers=h, deliberately_invalid=True)
        expect.http_error(r, 400, "bad_request", req="ASSENT-EVT-012")


@case("events/live/from-response-head", req="ASSENT-EVT-005", level="INFO", profile=EV)
def test_live_from_head(t):
    """Events committed right after the response head arrived, before any body line: does a
    stream without since deliver them? (The spec does not pin when "live" begins; a client
    that acts as soon as it sees 200 loses them if not.) Tried 10 times."""
    ag = t.new_agent()
    name = t.put_secret()["secret"]["name"]
    lost = 0
    for _ in range(10):
        s = SseStream(t.approver)
        try:
            req = t.ask(ag, [name])
            try:
                s.wait_for(_for(req["request_id"]), 3, "request.created")
            except CaseFailure:
                lost += 1
        finally:
            s.close()
    t.note("%d of 10 events committed right after the response head were not delivered" % lost)


@case("events/heartbeat", req="ASSENT-EVT-009", profile=EV)
def test_heartbeat(t):
    """An idle stream gets a comment line every heartbeat interval (the suite launches with 1 s)."""
    with _stream(t, t.peer("approver")) as s:
        s.pump_until(lambda st: len(st.comments) >= 2, 3.5)
        check(len(s.comments) >= 2, "heartbeat comments in 3.5 s with a 1 s interval", expected=">= 2",
              actual=s.comments, req="ASSENT-EVT-009")


@case("events/retry-field", req="ASSENT-EVT-014", level="SHOULD", profile=EV)
def test_retry(t):
    """The stream sends a retry: field."""
    with _stream(t) as s:
        s.pump_until(lambda st: any(l.startswith("retry:") for l in st.lines), 2.0)
        check(any(l.startswith("retry:") for l in s.lines), "a retry: line", actual=s.lines[:5], req="ASSENT-EVT-014")


@case("events/transitions/request-lifecycle", req=["ASSENT-EVT-015", "ASSENT-EVT-002", "ASSENT-EVT-003"], profile=EV)
def test_lifecycle(t):
    """created, approved, grant.used (exhausted on the last use), grant.revoked each emit one
    event with strictly increasing ids."""
    with _stream(t) as s:
        g = t.granted(policy={"uses_per_grant": 2})
        rid, gid = g["request"]["request_id"], g["grant"]["grant_id"]
        t.reveal(g["agent"], gid, g["name"])
        t.reveal(g["agent"], gid, g["name"])
        evs = s.collect(5, until=lambda e: e.type == "grant.used" and (e.data or {}).get("state") == "exhausted")
        mine = [e for e in evs if (e.data or {}).get("request_id") == rid or (e.data or {}).get("grant_id") == gid]
        eq([e.type for e in mine], ["request.created", "request.approved", "grant.used", "grant.used"], "event types",
           req="ASSENT-EVT-015")
        ids = [int(e.id) for e in mine]
        eq(ids, sorted(set(ids)), "ids strictly increasing", req="ASSENT-EVT-002")
        eq(mine[-1].data.get("state"), "exhausted", "state of the last grant.used", req="ASSENT-EVT-015")


@case("events/transitions/vote-short-of-quorum", req="ASSENT-EVT-015", profile=EV, needs=("approver2",))
def test_vote_silent(t):
    """An approve vote short of the quorum emits nothing; the deciding one emits request.approved."""
    with _stream(t) as s:
        ag = t.new_agent()
        req = t.ask(ag, [t.put_secret(policy={"approvals_required": 2})["secret"]["name"]])
        s.wait_for(lambda e: e.type == "request.created" and _for(req["request_id"])(e), 5, "request.created")
        t.approve(req["request_id"])
        t.approve(req["request_id"], approver=t.approver2)
        ev = s.wait_for(_for(req["request_id"]), 5, "the next event of the request")
        eq(ev.type, "request.approved", "first event after the two votes", req="ASSENT-EVT-015")


@case("events/transitions/deny-cancel-extend-timeout", req="ASSENT-EVT-015", profile=EV)
def test_other_transitions(t):
    """deny, cancel, extend and timeout each emit their event."""
    with _stream(t) as s:
        ag = t.new_agent()
        name = t.put_secret()["secret"]["name"]
        r1 = t.ask(ag, [name])
        t.approver.ok("access.decide", {"request_id": r1["request_id"], "decision": "deny"})
        r2 = t.ask(ag, [name])
        ag.ok("access.extend", {"request_id": r2["request_id"], "timeout_s": 5})
        ag.ok("access.cancel", {"request_id": r2["request_id"]})
        r3 = t.ask(ag, [name], timeout_s=1)
        s.wait_for(lambda e: e.type == "request.denied" and _for(r1["request_id"])(e), 5, "request.denied")
        s.wait_for(lambda e: e.type == "request.extended" and _for(r2["request_id"])(e), 5, "request.extended")
        s.wait_for(lambda e: e.type == "request.cancelled" and _for(r2["request_id"])(e), 5, "request.cancelled")
        s.wait_for(lambda e: e.type == "request.timed_out" and _for(r3["request_id"])(e), 5, "request.timed_out")


@case("events/transitions/approved-at-creation", req=["ASSENT-EVT-015", "ASSENT-REQ-027"], profile=EV)
def test_never_events(t):
    """A request approved at creation emits request.created then request.approved, whose
    approvals is 0 (no human voted) and whose decided_at is the request's created_at."""
    with _stream(t) as s:
        ag = t.new_agent()
        req = t.ask(ag, [t.put_secret(policy={"approval": "never"})["secret"]["name"]])
        evs = s.collect(5, until=lambda e: e.type == "request.approved" and _for(req["request_id"])(e))
        mine = [e for e in evs if _for(req["request_id"])(e)]
        eq([e.type for e in mine], ["request.created", "request.approved"], "events", req="ASSENT-EVT-015")
        data = mine[-1].data or {}
        eq(data.get("approvals"), 0, "approvals of request.approved", req="ASSENT-REQ-027")
        check(isinstance(data.get("decided_at"), str), "request.approved must carry decided_at", actual=data,
              req="ASSENT-REQ-027")
        eq(parse_time(data["decided_at"]), parse_time(req["created_at"]),
           "decided_at of request.approved = the request's created_at", req="ASSENT-REQ-027")


@case("events/transitions/expiry-and-delete", req="ASSENT-EVT-015", profile=EV)
def test_expiry_delete(t):
    """A grant expiring emits grant.expired; secret.delete emits grant.revoked and
    request.cancelled for what it ends."""
    with _stream(t) as s:
        g = t.granted(approve_ttl_s=1)
        s.wait_for(lambda e: e.type == "grant.expired" and (e.data or {}).get("grant_id") == g["grant"]["grant_id"],
                   6, "grant.expired")
        g2 = t.granted()
        p = t.ask(t.new_agent(), [g2["name"]])
        t.admin.ok("secret.delete", {"name": g2["name"]})
        s.wait_for(lambda e: e.type == "grant.revoked" and (e.data or {}).get("grant_id") == g2["grant"]["grant_id"],
                   5, "grant.revoked")
        s.wait_for(lambda e: e.type == "request.cancelled" and _for(p["request_id"])(e), 5, "request.cancelled")


@case("events/content/no-secrets", req=["ASSENT-EVT-004", "ASSENT-REQ-026"], profile=EV)
def test_no_secrets(t):
    """Event data never carries reason text, notes, commands, values, tokens or client keys."""
    with _stream(t) as s:
        reason = t.reason()
        ag = t.new_agent()
        name = t.put_secret(policy={"bind_command": True})["secret"]["name"]
        cmd = {"argv": ["deploy-%s" % t.uniq("x")], "cwd": "/srv"}
        req = t.ask(ag, [name], reason=reason, command=cmd)
        t.approver.ok("access.decide", {"request_id": req["request_id"], "decision": "deny", "note": "NOTE-" + reason})
        s.wait_for(lambda e: e.type == "request.denied" and _for(req["request_id"])(e), 5, "request.denied")
        blob = "\n".join(s.lines)
        for bad, what in ((reason, "reason"), ("NOTE-", "note"), (cmd["argv"][0], "command"),
                          (ag.client_key, "client key")):
            check(bad not in blob, "the %s appears in the event stream" % what, req="ASSENT-EVT-004")


@case("events/scope/agent-own", req="ASSENT-EVT-008", profile=EV)
def test_scope(t):
    """An agent's stream carries only its own originator's events, whatever the query says;
    an approver's carries everyone's."""
    a, b = t.new_agent(), t.new_agent()
    name = t.put_secret()["secret"]["name"]
    with _stream(t, a) as sa, _stream(t, a, query="originator=" + b.client_id + "&all=1") as sa2, _stream(t) as sp:
        rb = t.ask(b, [name])
        ra = t.ask(a, [name])
        sp.wait_for(_for(ra["request_id"]), 5, "a's request.created (approver)")
        for st in (sa, sa2):
            evs = st.collect(3, until=_for(ra["request_id"]))
            ids = {(e.data or {}).get("request_id") for e in evs}
            check(rb["request_id"] not in ids, "an agent received another originator's event", req="ASSENT-EVT-008")
            check(ra["request_id"] in ids, "an agent must receive its own events", req="ASSENT-EVT-008")


@case("events/replay/since", req="ASSENT-EVT-005", profile=EV)
def test_replay(t):
    """?since=N replays every retained event after N in order, then live ones; Last-Event-ID
    wins over since."""
    ag = t.new_agent()
    name = t.put_secret()["secret"]["name"]
    with _stream(t) as s:
        r0 = t.ask(ag, [name])
        first = s.wait_for(_for(r0["request_id"]), 5, "request.created")
    n = int(first.id)
    r1 = t.ask(ag, [name])
    r2 = t.ask(ag, [name])
    with _stream(t, query="since=%d" % n) as s:
        evs = s.collect(5, until=_for(r2["request_id"]))
        mine = [(e.data or {}).get("request_id") for e in evs if (e.data or {}).get("originator_client_id") == ag.client_id]
        eq(mine, [r1["request_id"], r2["request_id"]], "replayed events after since", req="ASSENT-EVT-005")
        check(all(int(e.id) > n for e in evs), "replay starts after N", req="ASSENT-EVT-005")
        r3 = t.ask(ag, [name])
        s.wait_for(_for(r3["request_id"]), 5, "the live event after the replay")
    with _stream(t, query="since=0", headers=(("Last-Event-ID", str(n)),)) as s:
        evs = s.collect(5, until=_for(r2["request_id"]))
        check(all(int(e.id) > n for e in evs), "Last-Event-ID must win over since", actual=[e.id for e in evs][:5],
              req="ASSENT-EVT-005")


@case("limits/sse-subscribers/at-and-over-max", req=["ASSENT-EVT-010", "ASSENT-EVT-013", "ASSENT-LIM-001"], profile=EV)
def test_subscribers(t):
    """sse_subscribers_max streams open; one more is 503 too_many_subscribers with
    Retry-After; /rpc is still served while they are open. (Streams closed by earlier cases
    may be counted until the target notices, at its next heartbeat: the suite retries twice
    after a heartbeat interval and notes it.)"""
    n = t.spec.limits["sse_subscribers_max"]
    for attempt in range(3):
        streams = []
        try:
            refused_at = None
            for i in range(n):
                s = SseStream(t.approver)
                streams.append(s)
                if s.status != 200:
                    refused_at = i + 1
                    break
            if refused_at is not None:
                t.note("attempt %d: stream %d of %d refused (%s)" % (attempt + 1, refused_at, n, streams[-1].status))
                if attempt < 2:
                    for s in streams:
                        s.close()
                    time.sleep(1.5)
                    continue
                raise CaseFailure("GET /events number %d of sse_subscribers_max = %d was refused" % (refused_at, n),
                                  expected=200, actual=streams[-1].status, req="ASSENT-EVT-010")
            r = t.approver.http("GET", "/events", deliberately_invalid=True)
            expect.http_error(r, 503, "too_many_subscribers", req="ASSENT-EVT-010")
            started = time.monotonic()
            eq(t.admin.ok("system.ping"), {"pong": True}, "ping with every stream open", req="ASSENT-EVT-013")
            check(time.monotonic() - started < 2, "RPC starved by open streams", req="ASSENT-EVT-013")
            return
        finally:
            for s in streams:
                s.close()


@case("events/shutdown", req=["ASSENT-EVT-011", "ASSENT-TGT-004"], profile=EV, needs=("launch",))
def test_shutdown(t):
    """On SIGTERM every open stream receives a shutdown event without id and is closed."""
    with t.private() as target:
        s = SseStream(target.client("approver"))
        try:
            eq(s.status, 200, "status", req="ASSENT-EVT-001")
            target.launcher.proc.send_signal(signal.SIGTERM)
            ev = s.wait_for(lambda e: e.type == "shutdown", 10, "shutdown")
            eq(ev.id, None, "the shutdown event has no id", req="ASSENT-EVT-011")
            s.pump_until(lambda st: st.closed, 5)
            check(s.closed, "the stream must be closed after shutdown", req="ASSENT-EVT-011")
        finally:
            s.close()


RETENTION = 5        # --event-retention-count-max of the private instance
AFTER_CURSOR = 12    # events committed after the replay cursor
PRUNE_WITHIN_S = 5   # ASSENT-TGT-007


@case("events/retention/gap-then-suffix",
      req=["ASSENT-EVT-006", "ASSENT-EVT-007", "ASSENT-LIM-004", "ASSENT-TGT-007"], profile=EV, needs=("launch",))
def test_retention_gap(t):
    """A target launched with --event-retention-count-max 5 reports it in system.info and
    prunes: after 12 more events, a replay from a cursor before them starts with one gap
    event (from_id = cursor + 1, id: = to_id) followed by exactly the retained suffix, at
    least the newest 5 events, in order. Skipped when the launch command does not carry
    {event_retention_count_max} (PROTOCOL.md section 15)."""
    with t.private(values={"event_retention_count_max": str(RETENTION)}) as target:
        admin, approver = target.client("admin"), target.client("approver")
        limits = admin.ok("system.info")["limits"]
        eq(limits.get("event_retention_count_max"), RETENTION,
           "system.info limits.event_retention_count_max of a target launched with --event-retention-count-max %d"
           % RETENTION, req="ASSENT-LIM-004")
        name = t.uniq("S")
        admin.ok("secret.put", {"name": name, "value": "v"})
        base = target.client("agent")
        h = base.ok("client.hello", {"kind": "agent", "name": "retention"})
        ag = base.derive(identity=(h["client_id"], h["client_key"]))
        # Every event of this fresh instance, as committed (a live stream from the start).
        with _stream(target, approver) as live:
            r0 = ag.ok("access.request", {"secrets": [name], "reason": t.reason()})["request"]
            cursor = int(live.wait_for(_for(r0["request_id"]), 5, "request.created of the first request").id)
            rids = [ag.ok("access.request", {"secrets": [name], "reason": t.reason()})["request"]["request_id"]
                    for _ in range(AFTER_CURSOR)]
            live.wait_for(_for(rids[-1]), 5, "request.created of the last request")
            # (Pruning may already overtake the live stream: it then says so with a gap.)
            live_gap_to = max([(e.data or {}).get("to_id", 0) for e in live.received if e.type == "gap"] or [0])
            committed = [(int(e.id), e.type) for e in live.received if e.type not in ("gap", "shutdown")]
        after = [ev for ev in committed if ev[0] > cursor]
        done_at = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            with SseStream(approver, query="since=%d" % cursor) as s:
                evs = s.collect(5, until=_for(rids[-1]))
            check(evs and _for(rids[-1])(evs[-1]), "a replay from %d reaches the newest event" % cursor,
                  actual=[(e.id, e.type) for e in evs], req="ASSENT-EVT-005")
            if evs[0].type == "gap":
                break
            replayed = [(int(e.id), e.type) for e in evs]
            # No gap: then nothing after the cursor may be missing.
            check(replayed == after and not live_gap_to,
                  "a replay from %d without a gap event must carry every event after it; events after it were "
                  "pruned and the replay skipped them silently" % cursor,
                  expected=after, actual=replayed, req="ASSENT-EVT-006")
            if time.monotonic() - done_at > PRUNE_WITHIN_S + 2:
                raise CaseFailure("with --event-retention-count-max %d, %d events after the cursor were still all "
                                  "retained %.0f s after their commit" % (RETENTION, len(after), PRUNE_WITHIN_S + 2),
                                  req="ASSENT-TGT-007")
            time.sleep(0.25)
        gap, rest = evs[0], evs[1:]
        frm, to = (gap.data or {}).get("from_id"), (gap.data or {}).get("to_id")
        eq(frm, cursor + 1, "gap from_id: the cursor + 1", req="ASSENT-EVT-006")
        check(isinstance(to, int) and to >= cursor + 1, "gap to_id: the last pruned id, at least from_id",
              actual=gap.data, req="ASSENT-EVT-006")
        eq(gap.id, str(to), "the gap event's id: field is its to_id", req="ASSENT-EVT-006")
        check(to >= live_gap_to, "pruned history does not come back: the gap of a later replay reaches at least "
              "the to_id of a gap already sent (%s)" % live_gap_to, actual=gap.data, req="ASSENT-EVT-006")
        retained = [ev for ev in after if ev[0] > to]
        eq([(int(e.id), e.type) for e in rest], retained,
           "after the gap: exactly the retained events (every committed event with id > to_id), in order",
           req="ASSENT-EVT-006")
        check(len(retained) >= RETENTION,
              "at least the newest %d events are retained (event_retention_count_max)" % RETENTION,
              actual=retained, req="ASSENT-EVT-007")
        t.note("pruned %d..%d; %d events retained; gap seen on replay attempt %d"
               % (frm, to, len(retained), attempts))
