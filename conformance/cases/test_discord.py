"""PROTOCOL.md 14. Discord approver (profile discord), driven through the mock Discord
(tools/mock-discord): it receives the daemon's REST calls and plays Discord's side of signed
interactions."""

import json
import os
import time

from conformance.harness import expect
from conformance.harness.case import case
from conformance.harness.context import parse_time, sleep_until_wallclock, wait_until
from conformance.harness.target import DISCORD_ALLOWED_USERS, DISCORD_STRANGER
from conformance.harness.verdict import CaseFailure, check, eq

D = "discord"
NEEDS = ("mock",)


def _message_for(t, name, timeout=10.0):
    mock = t.target.mock
    try:
        m = mock.wait_for_message(lambda m: name in json.dumps(m), timeout_s=timeout)
    except TimeoutError:
        raise CaseFailure("no Discord message naming %s was posted within %.0f s" % (name, timeout),
                          req="ASSENT-DISC-001")
    t.note("Discord message %s: %s" % (m["id"], json.dumps({k: m.get(k) for k in ("content", "embeds", "components")},
                                                          ensure_ascii=False)[:1500]))
    return m


def _click(t, msg_id, **kw):
    r = t.target.mock.click(msg_id, **kw)
    d = r["deliveries"][0] if r.get("deliveries") else {}
    t.note("click %s -> HTTP %s, %s" % (json.dumps(kw, sort_keys=True), d.get("status"), d.get("outcome")))
    return r


def _pending(t, policy=None, command=None, reason=None):
    ag = t.new_agent(name=t.uniq("discord-agent"))
    name = t.put_secret(policy=policy)["secret"]["name"]
    kw = {"command": command} if command else {}
    req = t.ask(ag, [name], reason=reason, **kw)
    return ag, name, req


def _buttons(msg):
    out = []
    for row in msg.get("components") or []:
        for c in row.get("components") or []:
            out.append(c)
    return out


@case("discord/post/approval-message", req="ASSENT-DISC-001", profile=D, needs=NEEDS)
def test_post(t):
    """A request needing a decision posts one message naming the originator, the secrets, the
    reason, the bound command and the TTL, with Approve and Deny buttons."""
    cmd = {"argv": ["make", "deploy-%s" % t.uniq("x")], "cwd": "/srv/app"}
    reason = t.reason()
    ag, name, req = _pending(t, policy={"bind_command": True}, command=cmd, reason=reason)
    msg = _message_for(t, name)
    blob = json.dumps(msg, ensure_ascii=False)
    for what, needle in (("originator name", req["originator"]["name"]), ("secret", name), ("reason", reason),
                         ("command", cmd["argv"][1]), ("TTL", str(req["ttl_s"]))):
        check(needle in blob, "the approval message must show the %s" % what, expected=needle, req="ASSENT-DISC-001")
    deadline = parse_time(req["expires_at"])
    check(req["expires_at"][:16] in blob or str(int(deadline)) in blob,
          "the approval message must show the decision deadline (as a time or a Discord timestamp)",
          expected="%s or <t:%d>" % (req["expires_at"], int(deadline)), req="ASSENT-DISC-001")
    if t.target.launcher is not None:
        import socket
        host = socket.gethostname()
        check(host in blob, "the approval message must name the host", expected=host, req="ASSENT-DISC-001")
    labels = " ".join((b.get("label") or "") + " " + (b.get("custom_id") or "") for b in _buttons(msg)).lower()
    check("approve" in labels and "deny" in labels, "Approve and Deny buttons", actual=labels, req="ASSENT-DISC-001")
    time.sleep(0.3)
    n = sum(1 for m in t.target.mock.messages() if name in json.dumps(m))
    eq(n, 1, "messages posted for the request", req="ASSENT-DISC-001")


@case("discord/ping/pong", req="ASSENT-DISC-004", profile=D, needs=NEEDS)
def test_ping(t):
    """A signed PING is answered with a PONG."""
    r = t.target.mock.ping(verify=True)
    eq(r.get("pong"), True, "pong", req="ASSENT-DISC-004")


@case("discord/signature/refused", req="ASSENT-DISC-002", profile=D, needs=NEEDS)
def test_bad_signature(t):
    """A click with no signature, a bad signature or a tampered body is 401 bad_signature and
    decides nothing."""
    ag, name, req = _pending(t)
    msg = _message_for(t, name)
    for opt in ({"no_signature": True}, {"bad_signature": True}, {"tamper_body": True}):
        r = _click(t, msg["id"], button="approve", user_id=DISCORD_ALLOWED_USERS[0], **opt)
        d = r["deliveries"][0]
        eq(d["status"], 401, "status for %s" % list(opt)[0], req="ASSENT-DISC-002")
        check('"bad_signature"' in json.dumps(d.get("body")), "HttpError bad_signature", actual=d.get("body"),
              req="ASSENT-DISC-002")
    eq(t.request_state(req["request_id"]), "pending", "state", req="ASSENT-DISC-002")


@case("discord/signature/stale-timestamp", req=["ASSENT-DISC-003", "ASSENT-LIM-001"], profile=D, needs=NEEDS)
def test_stale(t):
    """A validly signed interaction older than discord_signature_max_age_s is 401."""
    ag, name, req = _pending(t)
    msg = _message_for(t, name)
    age = t.spec.limits["discord_signature_max_age_s"]
    r = _click(t, msg["id"], button="approve", user_id=DISCORD_ALLOWED_USERS[0], timestamp_skew_s=-(age + 60))
    eq(r["deliveries"][0]["status"], 401, "status", req="ASSENT-DISC-003")
    r = _click(t, msg["id"], button="approve", user_id=DISCORD_ALLOWED_USERS[0], timestamp_skew_s=age + 60)
    eq(r["deliveries"][0]["status"], 401, "status for a future timestamp", req="ASSENT-DISC-003")
    eq(t.request_state(req["request_id"]), "pending", "state", req="ASSENT-DISC-003")


@case("discord/allowlist/stranger", req="ASSENT-DISC-005", profile=D, needs=NEEDS)
def test_stranger(t):
    """A click by a user not on the allowlist gets an ephemeral refusal and is no vote."""
    ag, name, req = _pending(t)
    msg = _message_for(t, name)
    r = _click(t, msg["id"], button="approve", user_id=DISCORD_STRANGER)
    eq(r["deliveries"][0].get("outcome"), "ephemeral_reply", "outcome", req="ASSENT-DISC-005")
    got = t.admin.ok("access.get", {"request_id": req["request_id"]})["request"]
    eq((got["state"], got["approvals"]), ("pending", 0), "state, approvals", req="ASSENT-DISC-005")


@case("discord/click/approve", req=["ASSENT-DISC-006", "ASSENT-DISC-008"], profile=D, needs=NEEDS)
def test_click_approve(t):
    """An allowlisted click approves (quorum 1), answered with UPDATE_MESSAGE without buttons."""
    ag, name, req = _pending(t)
    msg = _message_for(t, name)
    r = _click(t, msg["id"], button="approve", user_id=DISCORD_ALLOWED_USERS[0])
    eq(r["deliveries"][0].get("outcome") in ("updated_message", "deferred_update"), True,
       "the answer is an UPDATE_MESSAGE", req="ASSENT-DISC-006")
    eq(t.request_state(req["request_id"]), "approved", "state", req="ASSENT-DISC-006")
    m = wait_until(lambda: (lambda x: x if not _buttons(x) else None)(t.target.mock.message(msg["id"])), 10,
                   "the buttons to be removed")
    check(not _buttons(m), "no buttons once decided", req="ASSENT-DISC-006")


@case("discord/click/quorum-and-duplicate", req=["ASSENT-DISC-006", "ASSENT-REQ-019"], profile=D, needs=NEEDS)
def test_click_quorum(t):
    """With approvals_required 2: one click (delivered twice) is one vote and shows the votes
    so far; a second allowlisted user's click approves."""
    ag, name, req = _pending(t, policy={"approvals_required": 2})
    msg = _message_for(t, name)
    before = t.target.mock.message(msg["id"])
    r = _click(t, msg["id"], button="approve", user_id=DISCORD_ALLOWED_USERS[0], duplicate=True)
    got = t.admin.ok("access.get", {"request_id": req["request_id"]})["request"]
    eq((got["state"], got["approvals"]), ("pending", 1), "after one user's (duplicated) click", req="ASSENT-DISC-006")
    eq(r["deliveries"][0].get("outcome"), "updated_message", "the first vote is answered with UPDATE_MESSAGE",
       req="ASSENT-DISC-006")
    after = t.target.mock.message(msg["id"])
    check(after.get("content") != before.get("content") or after.get("embeds") != before.get("embeds"),
          "the update must show the votes so far (the message did not change)", req="ASSENT-DISC-006")
    check(_buttons(after), "the buttons stay while the quorum is not reached", req="ASSENT-DISC-006")
    _click(t, msg["id"], button="approve", user_id=DISCORD_ALLOWED_USERS[1])
    eq(t.request_state(req["request_id"]), "approved", "after the second user", req="ASSENT-DISC-006")


@case("discord/click/deny", req="ASSENT-DISC-006", profile=D, needs=NEEDS)
def test_click_deny(t):
    """An allowlisted Deny click denies the request at once."""
    ag, name, req = _pending(t, policy={"approvals_required": 2})
    msg = _message_for(t, name)
    _click(t, msg["id"], button="deny", user_id=DISCORD_ALLOWED_USERS[0])
    eq(t.request_state(req["request_id"]), "denied", "state", req="ASSENT-DISC-006")
    wait_until(lambda: not _buttons(t.target.mock.message(msg["id"])), 10, "the buttons to be removed")


@case("discord/edit/decided-elsewhere", req="ASSENT-DISC-008", profile=D, needs=NEEDS)
def test_edit_elsewhere(t):
    """Decided over RPC, cancelled, or timed out: the message is edited and loses its buttons."""
    ag, name, req = _pending(t)
    msg = _message_for(t, name)
    t.approver.ok("access.decide", {"request_id": req["request_id"], "decision": "deny"})
    ag2, name2, req2 = _pending(t)
    msg2 = _message_for(t, name2)
    ag2.ok("access.cancel", {"request_id": req2["request_id"]})
    ag3 = t.new_agent()
    name3 = t.put_secret()["secret"]["name"]
    req3 = t.ask(ag3, [name3], timeout_s=1)
    msg3 = _message_for(t, name3)
    for m in (msg, msg2, msg3):
        wait_until(lambda: not _buttons(t.target.mock.message(m["id"])), 10, "message %s to lose its buttons" % m["id"])


@case("discord/outbox/retry-after-429", req="ASSENT-DISC-007", profile=D, needs=NEEDS)
def test_outbox_429(t):
    """create_message answered 429 twice: the daemon honours Retry-After, retries, and posts
    exactly one message, with nonce and enforce_nonce."""
    mock = t.target.mock
    mock.faults({"route": "create_message", "kind": "429", "count": 2, "retry_after_s": 0.5})
    try:
        ag, name, req = _pending(t)
        msg = _message_for(t, name, timeout=15)
        calls = [c for c in mock.requests(operation="create_message") if name in json.dumps(c.get("body"))]
        check(len(calls) >= 3, "two refused attempts and one success", actual=len(calls), req="ASSENT-DISC-007")
        for c in calls:
            b = c.get("body") or {}
            check(b.get("nonce") and b.get("enforce_nonce") is True, "nonce and enforce_nonce on create_message",
                  actual={k: b.get(k) for k in ("nonce", "enforce_nonce")}, req="ASSENT-DISC-007")
        times = [c["time"] for c in calls]
        check(all(b - a >= 0.45 for a, b in zip(times, times[1:])), "retries must wait Retry-After", actual=times,
              req="ASSENT-DISC-007")
        eq(sum(1 for m in mock.messages() if name in json.dumps(m)), 1, "messages posted", req="ASSENT-DISC-007")
    finally:
        mock.clear_faults()


@case("discord/outbox/lost-answer-no-double-post", req="ASSENT-DISC-007", profile=D, needs=NEEDS)
def test_outbox_drop(t):
    """The first create_message is performed but its answer lost: the retry carries the same
    nonce and no second message appears."""
    mock = t.target.mock
    mock.faults({"route": "create_message", "kind": "drop", "count": 1, "commit": True})
    try:
        ag, name, req = _pending(t)
        _message_for(t, name, timeout=15)
        wait_until(lambda: len([c for c in mock.requests(operation="create_message") if name in json.dumps(c.get("body"))]) >= 2,
                   15, "the retry")
        eq(sum(1 for m in mock.messages() if name in json.dumps(m)), 1, "messages posted", req="ASSENT-DISC-007")
    finally:
        mock.clear_faults()


@case("discord/outbox/refused-post-given-up", req=["ASSENT-DISC-011", "ASSENT-REQ-028", "ASSENT-AUDIT-009"],
      profile=D, needs=NEEDS)
def test_outbox_given_up(t):
    """Discord refuses the post for good (404 Unknown Channel: the mock stops knowing the
    target's channel): the target gives it up at once, marks the request
    (approver_delivery_failed {at, attempts}, still pending, seen by its originator too) and
    audits approver.delivery_failed (actor system, outcome error, subject request_id and
    count) without Discord's answer."""
    mock = t.target.mock
    mock.config(channels=["1099999999999999999"])
    try:
        ag, name, req = _pending(t)
        eq(req["approver_delivery_failed"], None, "approver_delivery_failed of a new request", req="ASSENT-REQ-028")
        rid = req["request_id"]

        def marked():
            r = t.admin.ok("access.get", {"request_id": rid})["request"]
            return r if r["approver_delivery_failed"] else None
        try:
            got = wait_until(marked, 15, "approver_delivery_failed to be set")
        except CaseFailure:
            calls = [c.get("status") for c in mock.requests(operation="create_message")
                     if name in json.dumps(c.get("body"))]
            raise CaseFailure("a post Discord refused with 404 was not given up and recorded within 15 s",
                              actual={"create_message statuses": calls}, req="ASSENT-DISC-011")
        calls = [c for c in mock.requests(operation="create_message") if name in json.dumps(c.get("body"))]
        eq([c.get("status") for c in calls], [404], "create_message attempts (a 404 is not retried)",
           req="ASSENT-DISC-011")
        failure = got["approver_delivery_failed"]
        eq(got["state"], "pending", "state after the failed delivery", req="ASSENT-REQ-028")
        eq(failure.get("attempts"), len(calls), "attempts", req="ASSENT-REQ-028")
        created, at = parse_time(got["created_at"]), parse_time(failure["at"])
        check(created <= at <= time.time() + 5, "at must be the moment the delivery was given up",
              actual=failure, req="ASSENT-REQ-028")
        mine = ag.ok("access.get", {"request_id": rid})["request"]
        eq(mine["approver_delivery_failed"], failure, "approver_delivery_failed seen by the originator",
           req="ASSENT-REQ-028")
        entries = [e for e in t.audit_entries()
                   if e["action"] == "approver.delivery_failed" and e["subject"].get("request_id") == rid]
        eq(len(entries), 1, "approver.delivery_failed entries for the request", req="ASSENT-AUDIT-009")
        e = entries[0]
        eq((e["actor"], e["outcome"], e["subject"]), ({"role": "system"}, "error", {"request_id": rid, "count": len(calls)}),
           "actor, outcome, subject", req="ASSENT-AUDIT-009")
        check("Unknown Channel" not in json.dumps(e), "the entry must not carry Discord's answer", actual=e,
              req="ASSENT-AUDIT-009")
    finally:
        mock.config(channels=None)


@case("discord/logs/no-bot-token", req="ASSENT-DISC-010", profile=D, needs=("mock", "launch"))
def test_no_token_logged(t):
    """The bot token and Discord's answers never appear in the target's log."""
    ag, name, req = _pending(t)
    _message_for(t, name)
    with open(t.target.launcher.log_path, "rb") as f:
        log = f.read()
    check(t.target.mock.bot_token.encode() not in log, "the bot token appears in the log", req="ASSENT-DISC-010")
