"""PROTOCOL.md 13. Audit log."""

import hashlib
import json

from conformance.harness.case import case
from conformance.harness.verdict import check, eq

ZERO = "0" * 64


def canonical(entry):
    e = {k: v for k, v in entry.items() if k != "hash"}
    return json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@case("audit/verify/ok", req="ASSENT-AUDIT-007")
def test_verify(t):
    """audit.verify on an untouched log: ok true, entries, head, first_bad_seq null."""
    v = t.admin.ok("audit.verify")
    eq((v["ok"], v["first_bad_seq"]), (True, None), "ok, first_bad_seq", req="ASSENT-AUDIT-007")
    check(v["entries"] >= 1, "the log holds at least daemon.start", actual=v, req="ASSENT-AUDIT-001")
    entries = t.audit_entries()
    eq(v["entries"], len(entries), "entries = number listed", req="ASSENT-AUDIT-007")
    eq(v["head"], entries[-1]["hash"] if entries else None, "head = last hash", req="ASSENT-AUDIT-007")


@case("audit/chain/recomputed", req=["ASSENT-AUDIT-002", "ASSENT-AUDIT-003"])
def test_chain(t):
    """seq runs 1, 2, 3 … without gaps; prev_hash links each entry to the one before (64
    zeros first); hash = BLAKE2b-256 of the canonical form (sorted keys, compact, UTF-8),
    recomputed by the suite."""
    t.hello()
    entries = t.audit_entries()
    check(entries, "no audit entries", req="ASSENT-AUDIT-002")
    prev = ZERO
    for i, e in enumerate(entries, 1):
        eq(e["seq"], i, "seq", req="ASSENT-AUDIT-002")
        eq(e["prev_hash"], prev, "prev_hash of seq %d" % i, req="ASSENT-AUDIT-002")
        h = hashlib.blake2b(canonical(e), digest_size=32).hexdigest()
        eq(e["hash"], h, "hash of seq %d (recomputed)" % i, req="ASSENT-AUDIT-003")
        prev = e["hash"]


@case("audit/list/paging", req="ASSENT-AUDIT-006")
def test_paging(t):
    """audit.list returns seq > after_seq in order, at most limit, next_after_seq = the last
    seq returned when more follow, else null; default limit 100."""
    for _ in range(3):
        t.hello()
    total = t.admin.ok("audit.verify")["entries"]
    p = t.admin.ok("audit.list", {"after_seq": 0, "limit": 2})
    eq([e["seq"] for e in p["entries"]], [1, 2], "first page", req="ASSENT-AUDIT-006")
    eq(p["next_after_seq"], 2, "next_after_seq", req="ASSENT-AUDIT-006")
    last = t.admin.ok("audit.list", {"after_seq": total - 1, "limit": 5})
    eq([e["seq"] for e in last["entries"]], [total], "last page", req="ASSENT-AUDIT-006")
    eq(last["next_after_seq"], None, "next_after_seq on the last page", req="ASSENT-AUDIT-006")
    d = t.admin.ok("audit.list")
    eq(len(d["entries"]), min(100, total), "default limit 100", req="ASSENT-AUDIT-006")
    eq(t.admin.ok("audit.list", {"after_seq": total})["entries"], [], "after the last", req="ASSENT-AUDIT-006")


@case("audit/actions/recorded", req=["ASSENT-AUDIT-001", "ASSENT-AUTH-007"])
def test_actions(t):
    """A full life cycle writes the named actions: client.hello, client.resume, secret.put,
    request.create, request.vote / request.approve, grant.reveal, grant.revoke, request.deny,
    request.cancel, request.extend, request.timeout, secret.delete, grant.revoke_all,
    auth.failure; and the log begins with daemon.start."""
    before = t.audit_head_seq()
    ag = t.new_agent()
    t.agent.ok("client.hello", {"kind": "agent", "name": "again", "client_id": ag.client_id,
                                "client_key": ag.client_key})
    g = t.granted(agent=ag)
    t.reveal(ag, g["grant"]["grant_id"], g["name"])
    g2 = t.granted(agent=ag)
    ag.ok("grant.revoke", {"grant_id": g2["grant"]["grant_id"]})
    name = t.put_secret()["secret"]["name"]
    r = t.ask(ag, [name])
    t.approver.ok("access.decide", {"request_id": r["request_id"], "decision": "deny"})
    r = t.ask(ag, [name])
    ag.ok("access.extend", {"request_id": r["request_id"], "timeout_s": 10})
    ag.ok("access.cancel", {"request_id": r["request_id"]})
    t.admin.ok("secret.delete", {"name": name})
    t.peer(None).call("system.ping", auth=t.bad_token(), deliberately_invalid=True)
    entries = t.audit_entries(before)
    got = {e["action"] for e in entries}
    want = {"client.hello", "client.resume", "secret.put", "request.create", "request.approve", "grant.reveal",
            "grant.revoke", "request.deny", "request.extend", "request.cancel", "secret.delete", "auth.failure"}
    missing = sorted(want - got)
    check(not missing, "actions missing from the audit log", expected=sorted(want), actual=missing, req="ASSENT-AUDIT-001")
    first = t.admin.ok("audit.list", {"after_seq": 0, "limit": 1})["entries"]
    eq(first[0]["action"] if first else None, "daemon.start", "first entry", req="ASSENT-AUDIT-001")


@case("audit/actions/revoke-all-and-timeout", req="ASSENT-AUDIT-001")
def test_actions_more(t):
    """grant.revoke_all and a request timeout are audited (grant.revoke_all, request.timeout)."""
    from conformance.harness.context import parse_time, sleep_until_wallclock
    before = t.audit_head_seq()
    ag = t.new_agent()
    r = t.ask(ag, [t.put_secret()["secret"]["name"]], timeout_s=1)
    sleep_until_wallclock(parse_time(r["expires_at"]), 0.05)
    ag.ok("access.get", {"request_id": r["request_id"]})
    t.admin.ok("grant.revoke_all")
    got = {e["action"] for e in t.audit_entries(before)}
    for a in ("request.timeout", "grant.revoke_all"):
        check(a in got, "action %s missing" % a, actual=sorted(got), req="ASSENT-AUDIT-001")


@case("audit/no-secrets", req="ASSENT-AUDIT-004")
def test_no_secrets(t):
    """No audit entry holds a secret value, a token or a client key."""
    g = t.granted()
    t.reveal(g["agent"], g["grant"]["grant_id"], g["name"])
    blob = json.dumps(t.audit_entries())
    check(g["value"] not in blob, "a secret value in the audit log", req="ASSENT-AUDIT-004")
    check(g["agent"].client_key not in blob, "a client key in the audit log", req="ASSENT-AUDIT-004")
    for tok in t.target.tokens.by_role.values():
        check(tok not in blob, "a token in the audit log", req="ASSENT-AUDIT-004")


@case("audit/daemon/start-stop", req="ASSENT-AUDIT-001", needs=("launch",))
def test_start_stop(t):
    """daemon.start and daemon.stop are audited across a restart, and the chain still verifies."""
    with t.private() as target:
        target = t.restart(target)
        entries = target.client("admin").ok("audit.list", {"limit": 1000})["entries"]
        acts = [e["action"] for e in entries]
        eq(acts[:1], ["daemon.start"], "first action", req="ASSENT-AUDIT-001")
        check("daemon.stop" in acts and acts.count("daemon.start") >= 2, "daemon.stop then daemon.start on restart",
              actual=acts, req="ASSENT-AUDIT-001")
        eq(target.client("admin").ok("audit.verify")["ok"], True, "verify", req="ASSENT-AUDIT-007")
