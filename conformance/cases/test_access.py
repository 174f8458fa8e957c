"""PROTOCOL.md 9. Access requests."""

import threading
import time

from conformance.harness import expect
from conformance.harness.case import case
from conformance.harness.context import parse_time, sleep_until_wallclock
from conformance.harness.verdict import CaseFailure, check, eq


def _secret(t, **policy):
    return t.put_secret(policy=policy or None)["secret"]["name"]


# -- creation ------------------------------------------------------------------------------

@case("access/request/agents-only", req=["ASSENT-REQ-001", "ASSENT-AUTH-008"])
def test_agents_only(t):
    """access.request by an admin or approver (even with a client identity) is -32001 role."""
    name = _secret(t)
    for role in ("admin", "approver"):
        c = t.new_agent(role=role)
        err = c.err("access.request", {"secrets": [name], "reason": t.reason()}, code=-32001, reason="role",
                    req="ASSENT-REQ-001")
        eq((err.get("data") or {}).get("required_roles"), ["agent"], "required_roles", req="ASSENT-AUTH-008")


@case("access/request/returns-pending",
      req=["ASSENT-REQ-002", "ASSENT-REQ-007", "ASSENT-REQ-005", "ASSENT-RPC-033", "ASSENT-REQ-028"])
def test_request_shape(t):
    """access.request returns at once a pending request: originator is the caller, reason,
    effective ttl_s (policy default), mode interactive, expires_at = created_at + the
    interactive default timeout, approvals 0, nothing decided yet."""
    a = t.new_agent(name="shape-agent")
    name = _secret(t)
    reason = t.reason()
    started = time.monotonic()
    req = t.ask(a, [name], reason=reason)
    check(time.monotonic() - started < 5, "access.request must not wait for a decision", req="ASSENT-REQ-002")
    eq(req["state"], "pending", "state", req="ASSENT-REQ-002")
    eq(req["originator"], {"client_id": a.client_id, "kind": "agent", "name": "shape-agent"}, "originator",
       req="ASSENT-REQ-001")
    eq(req["secrets"], [name], "secrets", req="ASSENT-REQ-002")
    eq(req["reason"], reason, "reason (shown to the originator)", req="ASSENT-REQ-026")
    eq(req["ttl_s"], 300, "ttl_s = policy ttl_s_default", req="ASSENT-REQ-005")
    eq(req["mode"], "interactive", "mode defaults to interactive", req="ASSENT-REQ-007")
    eq(parse_time(req["expires_at"]) - parse_time(req["created_at"]),
       float(t.spec.limits["timeout_interactive_s_default"]), "expires_at - created_at", req="ASSENT-REQ-007")
    eq([req["approvals"], req["approvals_required"], req["decided_at"], req["grant_id"], req["decision_note"],
        req["command"], req["client_request_id"]], [0, 1, None, None, None, None, None],
       "approvals, approvals_required, decided_at, grant_id, decision_note, command, client_request_id",
       req="ASSENT-REQ-002")
    eq(req["approver_delivery_failed"], None, "approver_delivery_failed (no delivery given up)", req="ASSENT-REQ-028")


@case("access/request/unattended-timeout", req="ASSENT-REQ-007")
def test_unattended(t):
    """mode unattended: expires_at = created_at + the unattended default; an explicit
    timeout_s replaces the default."""
    a = t.new_agent()
    name = _secret(t)
    req = t.ask(a, [name], mode="unattended")
    eq(parse_time(req["expires_at"]) - parse_time(req["created_at"]),
       float(t.spec.limits["timeout_unattended_s_default"]), "unattended default", req="ASSENT-REQ-007")
    req = t.ask(a, [name], timeout_s=60)
    eq(parse_time(req["expires_at"]) - parse_time(req["created_at"]), 60.0, "explicit timeout_s", req="ASSENT-REQ-007")


@case("limits/timeout/interactive-default", req=["ASSENT-REQ-007", "ASSENT-LIM-001"])
def test_timeout_interactive_max(t):
    """timeout_s = the interactive default is accepted; one more is -32006."""
    a = t.new_agent()
    name = _secret(t)
    n = t.spec.limits["timeout_interactive_s_default"]
    t.ask(a, [name], timeout_s=n)
    err = a.err("access.request", {"secrets": [name], "reason": t.reason(), "timeout_s": n + 1}, code=-32006,
                req="ASSENT-REQ-007")
    eq((err.get("data") or {}).get("max"), n, "data.max", req="ASSENT-RPC-026")


@case("limits/timeout/unattended-default", req=["ASSENT-REQ-007", "ASSENT-LIM-001"])
def test_timeout_unattended_max(t):
    """Unattended: timeout_s = the unattended default is accepted; one more is -32006."""
    a = t.new_agent()
    name = _secret(t)
    n = t.spec.limits["timeout_unattended_s_default"]
    t.ask(a, [name], mode="unattended", timeout_s=n)
    err = a.err("access.request", {"secrets": [name], "reason": t.reason(), "mode": "unattended", "timeout_s": n + 1},
                code=-32006, req="ASSENT-REQ-007")
    eq((err.get("data") or {}).get("max"), n, "data.max", req="ASSENT-RPC-026")


@case("access/request/effective-policy", req=["ASSENT-REQ-003", "ASSENT-REQ-005", "ASSENT-GRANT-001"])
def test_effective_policy(t):
    """Over several secrets the strictest policy applies: smallest ttl_s_default and ttl_s_max,
    largest approvals_required, smallest uses_per_grant."""
    a_name = _secret(t, ttl_s_default=100, ttl_s_max=1000, approvals_required=1, uses_per_grant=5)
    b_name = _secret(t, ttl_s_default=200, ttl_s_max=500, approvals_required=2, uses_per_grant=3)
    ag = t.new_agent()
    req = t.ask(ag, [a_name, b_name])
    eq(req["ttl_s"], 100, "ttl_s = smallest ttl_s_default", req="ASSENT-REQ-003")
    eq(req["approvals_required"], 2, "approvals_required = largest", req="ASSENT-REQ-003")
    err = ag.err("access.request", {"secrets": [a_name, b_name], "reason": t.reason(), "ttl_s": 501}, code=-32006,
                 req="ASSENT-REQ-005")
    eq(err.get("data"), {"limit": "policy.ttl_s_max", "max": 500}, "data", req="ASSENT-REQ-005")
    req = t.ask(ag, [a_name, b_name], ttl_s=500)
    eq(req["ttl_s"], 500, "ttl_s at the effective maximum", req="ASSENT-REQ-005")


@case("access/request/effective-uses", req=["ASSENT-REQ-003", "ASSENT-GRANT-001"])
def test_effective_uses(t):
    """uses_total = smallest uses_per_grant × number of secrets."""
    a_name = _secret(t, uses_per_grant=5)
    b_name = _secret(t, uses_per_grant=3)
    ag = t.new_agent()
    req = t.ask(ag, [a_name, b_name])
    d = t.approve(req["request_id"])
    eq(d["grant"]["uses_total"], 6, "uses_total", req="ASSENT-GRANT-001")
    eq(d["grant"]["uses_left"], 6, "uses_left", req="ASSENT-GRANT-001")


@case("access/request/never-approves-at-once", req=["ASSENT-REQ-003", "ASSENT-GRANT-001"])
def test_never(t):
    """When every secret's approval is never, the request is approved at once with a grant;
    one always secret among them keeps it pending."""
    n1 = _secret(t, approval="never")
    n2 = _secret(t, approval="never")
    al = _secret(t)
    ag = t.new_agent()
    req = t.ask(ag, [n1, n2])
    eq(req["state"], "approved", "state with every policy never", req="ASSENT-REQ-003")
    check(req["grant_id"], "grant_id must be set", actual=req, req="ASSENT-GRANT-001")
    req = t.ask(ag, [n1, al])
    eq(req["state"], "pending", "state with one policy always", req="ASSENT-REQ-003")


@case("access/request/never-no-votes", req=["ASSENT-REQ-027", "ASSENT-GRANT-001", "ASSENT-AUDIT-001"])
def test_never_no_votes(t):
    """A request approved by policy (every approval never) had no vote: approvals 0 and
    decided_at = created_at, in access.request's result and in access.get; its grant is live,
    expires ttl_s after the decision, and its originator reveals through it at once; the
    approval is audited."""
    s = t.put_secret(policy={"approval": "never"})
    name = s["secret"]["name"]
    ag = t.new_agent()
    req = t.ask(ag, [name])
    eq(req["state"], "approved", "state with every policy never", req="ASSENT-REQ-003")
    got = ag.ok("access.get", {"request_id": req["request_id"]})["request"]
    for label, r in (("access.request", req), ("access.get", got)):
        eq(r["approvals"], 0, "approvals in %s (no human voted)" % label, req="ASSENT-REQ-027")
        check(r["decided_at"] is not None, "decided_at in %s must be set" % label, actual=r, req="ASSENT-REQ-027")
        eq(parse_time(r["decided_at"]), parse_time(r["created_at"]), "decided_at = created_at in %s" % label,
           req="ASSENT-REQ-027")
    grant = t.grant_of(req)
    check(grant is not None, "grant.list must show the request's grant", actual=req, req="ASSENT-GRANT-001")
    eq(grant["state"], "live", "grant state", req="ASSENT-GRANT-001")
    eq(parse_time(grant["expires_at"]) - parse_time(req["decided_at"]), float(req["ttl_s"]),
       "grant expires_at - decided_at", req="ASSENT-GRANT-001")
    plain, _ = t.reveal(ag, grant["grant_id"], name)
    eq(plain.decode("utf-8"), s["_value"], "revealed value", req="ASSENT-REVEAL-005")
    approvals = [e for e in t.audit_entries()
                 if e["action"] == "request.approve" and e["subject"].get("request_id") == req["request_id"]]
    eq(len(approvals), 1, "request.approve audit entries for the request", req="ASSENT-AUDIT-001")


@case("access/request/forbidden", req=["ASSENT-REQ-004", "ASSENT-REQ-003"])
def test_forbidden(t):
    """A forbidden secret (alone or with others) refuses the request with policy_forbidden
    and creates nothing."""
    fb = _secret(t, approval="forbidden")
    ok = _secret(t, approval="never")
    ag = t.new_agent()
    for secrets in ([fb], [ok, fb]):
        ag.err("access.request", {"secrets": secrets, "reason": t.reason()}, code=-32001, reason="policy_forbidden",
               req="ASSENT-REQ-004")
    eq(ag.ok("access.list")["requests"], [], "no request was created", req="ASSENT-REQ-004")


@case("access/request/command-required", req="ASSENT-REQ-006")
def test_command_required(t):
    """With bind_command, a request without command is -32602 at /command."""
    name = _secret(t, bind_command=True)
    ag = t.new_agent()
    err = ag.err("access.request", {"secrets": [name], "reason": t.reason()}, code=-32602, req="ASSENT-REQ-006",
                 deliberately_invalid=False)
    eq((err.get("data") or {}).get("instance_path"), "/command", "instance_path", req="ASSENT-REQ-006")
    req = t.ask(ag, [name], command={"argv": ["make", "release"], "cwd": "/tmp"})
    eq(req["command"], {"argv": ["make", "release"], "cwd": "/tmp"}, "command", req="ASSENT-REQ-006")


@case("limits/pending-requests/per-client", req=["ASSENT-REQ-008", "ASSENT-LIM-001"])
def test_pending_max(t):
    """pending_requests_per_client_max pending requests are accepted; the next is -32006
    naming the limit; another client is not affected."""
    n = t.spec.limits["pending_requests_per_client_max"]
    name = _secret(t)
    ag = t.new_agent()
    for _ in range(n):
        t.ask(ag, [name])
    err = ag.err("access.request", {"secrets": [name], "reason": t.reason()}, code=-32006, req="ASSENT-REQ-008")
    eq(err.get("data"), {"limit": "pending_requests_per_client_max", "max": n}, "data", req="ASSENT-REQ-008")
    eq(t.ask(t.new_agent(), [name])["state"], "pending", "another client", req="ASSENT-REQ-008")


# -- idempotency --------------------------------------------------------------------------------

@case("access/idempotency/same-content", req="ASSENT-REQ-009")
def test_idem_same(t):
    """The same client_request_id and content returns the same request (secrets compared as a
    set), without creating another."""
    a, b = _secret(t), _secret(t)
    ag = t.new_agent()
    reason = t.reason()
    r1 = t.ask(ag, [a, b], reason=reason, client_request_id="idem-1")
    r2 = t.ask(ag, [b, a], reason=reason, client_request_id="idem-1")
    eq(r2["request_id"], r1["request_id"], "request_id of the repeat", req="ASSENT-REQ-009")
    eq(len(ag.ok("access.list")["requests"]), 1, "requests of the client", req="ASSENT-REQ-009")


@case("access/idempotency/any-state", req="ASSENT-REQ-009")
def test_idem_state(t):
    """A repeat returns the original request whatever its state (here: cancelled)."""
    a = _secret(t)
    ag = t.new_agent()
    reason = t.reason()
    r1 = t.ask(ag, [a], reason=reason, client_request_id="idem-2")
    ag.ok("access.cancel", {"request_id": r1["request_id"]})
    r2 = t.ask(ag, [a], reason=reason, client_request_id="idem-2")
    eq((r2["request_id"], r2["state"]), (r1["request_id"], "cancelled"), "the repeat", req="ASSENT-REQ-009")


@case("access/idempotency/not-counted", req=["ASSENT-REQ-009", "ASSENT-REQ-008"])
def test_idem_not_counted(t):
    """A repeat does not count against pending_requests_per_client_max."""
    n = t.spec.limits["pending_requests_per_client_max"]
    a = _secret(t)
    ag = t.new_agent()
    reason = t.reason()
    first = t.ask(ag, [a], reason=reason, client_request_id="idem-3")
    for _ in range(n - 1):
        t.ask(ag, [a])
    again = t.ask(ag, [a], reason=reason, client_request_id="idem-3")
    eq(again["request_id"], first["request_id"], "the repeat at the limit", req="ASSENT-REQ-009")


@case("access/idempotency/conflict", req=["ASSENT-REQ-010", "ASSENT-REQ-026"])
def test_idem_conflict(t):
    """The same client_request_id with other content is -32005 naming the existing request;
    the error does not carry the reason text."""
    a, b = _secret(t), _secret(t)
    ag = t.new_agent()
    r1 = t.ask(ag, [a], client_request_id="idem-4")
    for change in ({"secrets": [b]}, {"reason": t.reason()}, {"ttl_s": 60}, {"mode": "unattended"},
                   {"timeout_s": 77}, {"command": {"argv": ["x"], "cwd": "/"}}):
        params = dict({"secrets": [a], "reason": r1["reason"], "client_request_id": "idem-4"}, **change)
        r = ag.call("access.request", params)
        err = expect.single_error(r, -32005, http=409, req="ASSENT-REQ-010")
        eq(err.get("data"), {"client_request_id": "idem-4", "request_id": r1["request_id"]},
           "data for a different %s" % list(change)[0], req="ASSENT-REQ-010")
        check(r1["reason"].encode() not in r.body, "the conflict error carries the reason", req="ASSENT-REQ-026")


@case("access/idempotency/per-originator", req="ASSENT-REQ-009")
def test_idem_per_originator(t):
    """client_request_id is scoped to the originator: another client's same key is a new request."""
    a = _secret(t)
    r1 = t.ask(t.new_agent(), [a], client_request_id="idem-shared")
    r2 = t.ask(t.new_agent(), [a], client_request_id="idem-shared", reason=t.reason())
    check(r1["request_id"] != r2["request_id"], "two originators got the same request", req="ASSENT-REQ-009")


# -- reading --------------------------------------------------------------------------------------

@case("access/get/who-may-see", req=["ASSENT-REQ-011", "ASSENT-AUTH-010", "ASSENT-REQ-026"])
def test_get(t):
    """access.get: the originator, approvers and admins see the request (reason included);
    another agent gets -32001 not_originator."""
    ag = t.new_agent()
    req = t.ask(ag, [_secret(t)])
    for c in (ag, t.approver, t.admin):
        got = c.ok("access.get", {"request_id": req["request_id"]})["request"]
        eq(got["request_id"], req["request_id"], "request for %s" % c.label, req="ASSENT-REQ-011")
        eq(got["reason"], req["reason"], "reason for %s" % c.label, req="ASSENT-REQ-026")
    other = t.new_agent()
    err = other.err("access.get", {"request_id": req["request_id"]}, code=-32001, reason="not_originator",
                    req="ASSENT-REQ-011")
    check(req["reason"] not in str(err), "the refusal carries the reason", req="ASSENT-REQ-026")


@case("access/get/unknown", req=["ASSENT-REQ-011", "ASSENT-RPC-027"])
def test_get_unknown(t):
    """An unknown request id is -32002 kind request (for approvers; existence before originator)."""
    rid = "rq_" + "0" * 31 + "1"
    err = t.approver.err("access.get", {"request_id": rid}, code=-32002, req="ASSENT-REQ-011")
    eq(err.get("data"), {"kind": "request", "id": rid}, "data", req="ASSENT-REQ-011")
    t.new_agent().err("access.get", {"request_id": rid}, code=-32002, req="ASSENT-RPC-027")


@case("access/wait/different-state-at-once", req=["ASSENT-REQ-012", "ASSENT-REQ-013"])
def test_wait_now(t):
    """access.wait returns at once when the state differs from known_state, changed true."""
    ag = t.new_agent()
    req = t.ask(ag, [_secret(t)])
    started = time.monotonic()
    r = ag.ok("access.wait", {"request_id": req["request_id"], "known_state": "approved", "timeout_s": 10})
    check(time.monotonic() - started < 3, "access.wait must return at once", req="ASSENT-REQ-012")
    eq((r["changed"], r["request"]["state"]), (True, "pending"), "changed, state", req="ASSENT-REQ-013")


@case("access/wait/times-out", req=["ASSENT-REQ-012", "ASSENT-REQ-013"])
def test_wait_timeout(t):
    """With nothing happening, access.wait returns after timeout_s with changed false."""
    ag = t.new_agent()
    req = t.ask(ag, [_secret(t)])
    started = time.monotonic()
    r = ag.ok("access.wait", {"request_id": req["request_id"], "timeout_s": 1})
    took = time.monotonic() - started
    check(0.8 <= took < 5, "access.wait must last about timeout_s", expected="~1 s", actual="%.2f s" % took,
          req="ASSENT-REQ-012")
    eq((r["changed"], r["request"]["state"]), (False, "pending"), "changed, state", req="ASSENT-REQ-013")


@case("access/wait/wakes-on-decision", req=["ASSENT-REQ-012", "ASSENT-REQ-013"])
def test_wait_wakes(t):
    """A waiting access.wait returns as soon as the request is decided, changed true."""
    ag = t.new_agent()
    req = t.ask(ag, [_secret(t)])
    out = {}

    def waiter():
        started = time.monotonic()
        try:
            out["r"] = ag.ok("access.wait", {"request_id": req["request_id"], "timeout_s": 20}, timeout=40)
        except Exception as e:  # reported below
            out["e"] = e
        out["took"] = time.monotonic() - started

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.3)  # let the wait start; a wait that starts after the decision also returns at once
    t.approve(req["request_id"])
    th.join(30)
    if "e" in out:
        raise out["e"]
    check(out.get("took", 99) < 10, "access.wait must return soon after the decision", actual=out.get("took"),
          req="ASSENT-REQ-012")
    eq((out["r"]["changed"], out["r"]["request"]["state"]), (True, "approved"), "changed, state", req="ASSENT-REQ-013")


@case("access/list/scoping", req=["ASSENT-AUTH-009", "ASSENT-REQ-014"])
def test_list_scope(t):
    """An agent lists only its own requests (none without an identity); approvers and admins
    see everyone's."""
    name = _secret(t)
    a, b = t.new_agent(), t.new_agent()
    ra = t.ask(a, [name])
    rb = t.ask(b, [name])
    eq([r["request_id"] for r in a.ok("access.list")["requests"]], [ra["request_id"]], "agent a's list",
       req="ASSENT-AUTH-009")
    eq(t.agent.ok("access.list")["requests"], [], "list of an agent without identity", req="ASSENT-AUTH-009")
    for c in (t.approver, t.admin):
        ids = set()
        after = None
        while True:
            p = {"limit": 500}
            if after:
                p["after"] = after
            r = c.ok("access.list", p)
            ids |= {x["request_id"] for x in r["requests"]}
            if not r["next_after"]:
                break
            after = r["next_after"]
        check({ra["request_id"], rb["request_id"]} <= ids, "%s must see every request" % c.label, req="ASSENT-AUTH-009")


@case("access/list/order-and-paging", req="ASSENT-REQ-014")
def test_list_paging(t):
    """Oldest first, at most limit, next_after = last id when more follow, then null;
    filtered by state; an unknown after is -32002."""
    name = _secret(t)
    ag = t.new_agent()
    made = [t.ask(ag, [name])["request_id"] for _ in range(3)]
    p1 = ag.ok("access.list", {"limit": 2})
    eq([r["request_id"] for r in p1["requests"]], made[:2], "first page", req="ASSENT-REQ-014")
    eq(p1["next_after"], made[1], "next_after", req="ASSENT-REQ-014")
    p2 = ag.ok("access.list", {"limit": 2, "after": p1["next_after"]})
    eq([r["request_id"] for r in p2["requests"]], made[2:], "second page", req="ASSENT-REQ-014")
    eq(p2["next_after"], None, "next_after on the last page", req="ASSENT-REQ-014")
    ag.ok("access.cancel", {"request_id": made[1]})
    eq([r["request_id"] for r in ag.ok("access.list", {"state": "cancelled"})["requests"]], [made[1]],
       "state filter", req="ASSENT-REQ-014")
    eq([r["request_id"] for r in ag.ok("access.list", {"state": "pending"})["requests"]], [made[0], made[2]],
       "state filter pending", req="ASSENT-REQ-014")
    ag.err("access.list", {"after": "rq_" + "f" * 32}, code=-32002, req="ASSENT-REQ-014")


# -- cancel and extend ------------------------------------------------------------------------------

@case("access/cancel/originator", req=["ASSENT-REQ-015", "ASSENT-AUTH-010"])
def test_cancel(t):
    """The originator cancels a pending request; another agent gets not_originator; a second
    cancel is -32003 naming the state."""
    ag = t.new_agent()
    req = t.ask(ag, [_secret(t)])
    t.new_agent().err("access.cancel", {"request_id": req["request_id"]}, code=-32001, reason="not_originator",
                      req="ASSENT-AUTH-010")
    r = ag.ok("access.cancel", {"request_id": req["request_id"]})["request"]
    eq(r["state"], "cancelled", "state", req="ASSENT-REQ-015")
    err = ag.err("access.cancel", {"request_id": req["request_id"]}, code=-32003, req="ASSENT-REQ-015")
    eq(err.get("data"), {"kind": "request", "id": req["request_id"], "state": "cancelled"}, "data", req="ASSENT-REQ-015")


@case("access/finished/decided-at-set", req=["ASSENT-REQ-015", "ASSENT-REQ-022", "ASSENT-REQ-023"])
def test_decided_at(t):
    """decided_at is the moment the request left pending, in every final state (access.json
    AccessRequest: "decided_at the moment the request left pending (any final state), null
    while pending"): cancelled, denied, approved, timed_out."""
    ag = t.new_agent()
    name = _secret(t)
    r = t.ask(ag, [name])
    eq(r["decided_at"], None, "decided_at while pending", req="ASSENT-REQ-002")
    got = {"cancelled": ag.ok("access.cancel", {"request_id": r["request_id"]})["request"]}
    r = t.ask(ag, [name])
    got["denied"] = t.approver.ok("access.decide", {"request_id": r["request_id"], "decision": "deny"})["request"]
    r = t.ask(ag, [name])
    got["approved"] = t.approve(r["request_id"])["request"]
    r = t.ask(ag, [name], timeout_s=1)
    sleep_until_wallclock(parse_time(r["expires_at"]), 0.05)
    got["timed_out"] = ag.ok("access.get", {"request_id": r["request_id"]})["request"]
    missing = sorted(k for k, v in got.items() if v["decided_at"] is None)
    check(not missing, "decided_at must be set in every final state", expected="a time", actual=missing,
          req="ASSENT-REQ-015")


@case("access/cancel/approver-not-originator", req=["ASSENT-AUTH-010", "ASSENT-AUTH-008"])
def test_cancel_roles(t):
    """access.cancel is originator-only: an approver or admin gets -32001."""
    ag = t.new_agent()
    req = t.ask(ag, [_secret(t)])
    for c in (t.approver, t.admin):
        c.err("access.cancel", {"request_id": req["request_id"]}, code=-32001, req="ASSENT-AUTH-008")


@case("access/extend/originator", req=["ASSENT-REQ-016", "ASSENT-AUTH-010"])
def test_extend(t):
    """access.extend adds timeout_s to expires_at; others get not_originator."""
    ag = t.new_agent()
    req = t.ask(ag, [_secret(t)], timeout_s=60)
    t.new_agent().err("access.extend", {"request_id": req["request_id"], "timeout_s": 60}, code=-32001,
                      reason="not_originator", req="ASSENT-AUTH-010")
    r = ag.ok("access.extend", {"request_id": req["request_id"], "timeout_s": 120})["request"]
    eq(parse_time(r["expires_at"]) - parse_time(req["expires_at"]), 120.0, "expires_at moved by", req="ASSENT-REQ-016")


@case("limits/extend/timeout-s-max", req=["ASSENT-REQ-016", "ASSENT-LIM-001"])
def test_extend_max(t):
    """An extension to exactly timeout_s_max after created_at is accepted; one second more is
    -32006 (limit timeout_s_max) and changes nothing."""
    mx = t.spec.limits["timeout_s_max"]
    ag = t.new_agent()
    req = t.ask(ag, [_secret(t)], timeout_s=60)
    err = ag.err("access.extend", {"request_id": req["request_id"], "timeout_s": mx - 60 + 1}, code=-32006,
                 req="ASSENT-REQ-016")
    eq(err.get("data"), {"limit": "timeout_s_max", "max": mx}, "data", req="ASSENT-REQ-016")
    eq(ag.ok("access.get", {"request_id": req["request_id"]})["request"]["expires_at"], req["expires_at"],
       "expires_at unchanged after the refusal", req="ASSENT-REQ-016")
    r = ag.ok("access.extend", {"request_id": req["request_id"], "timeout_s": mx - 60})["request"]
    eq(parse_time(r["expires_at"]) - parse_time(r["created_at"]), float(mx), "at timeout_s_max", req="ASSENT-REQ-016")


@case("access/extend/finished", req="ASSENT-REQ-016")
def test_extend_finished(t):
    """Extending a finished request is -32003."""
    ag = t.new_agent()
    req = t.ask(ag, [_secret(t)])
    ag.ok("access.cancel", {"request_id": req["request_id"]})
    ag.err("access.extend", {"request_id": req["request_id"], "timeout_s": 60}, code=-32003, req="ASSENT-REQ-016")


# -- decisions ------------------------------------------------------------------------------------

@case("access/decide/approver-only", req=["ASSENT-REQ-017", "ASSENT-AUTH-011"])
def test_decide_roles(t):
    """Agents (even the originator) and admins cannot decide: -32001 role."""
    ag = t.new_agent()
    req = t.ask(ag, [_secret(t)])
    for c in (ag, t.new_agent(), t.admin):
        for d in ("approve", "deny"):
            c.err("access.decide", {"request_id": req["request_id"], "decision": d}, code=-32001, reason="role",
                  req="ASSENT-AUTH-011")
    eq(t.request_state(req["request_id"]), "pending", "state", req="ASSENT-AUTH-011")


@case("access/decide/self-approval", req=["ASSENT-REQ-017", "ASSENT-AUTH-011"])
def test_self_approval(t):
    """An approver presenting the originator's client identity cannot decide: self_approval."""
    ag = t.new_agent()
    req = t.ask(ag, [_secret(t)])
    me = t.approver.derive(identity=ag.identity)
    for d in ("approve", "deny"):
        me.err("access.decide", {"request_id": req["request_id"], "decision": d}, code=-32001, reason="self_approval",
               req="ASSENT-AUTH-011")
    eq(t.request_state(req["request_id"]), "pending", "state", req="ASSENT-AUTH-011")


@case("access/decide/approve", req=["ASSENT-REQ-020", "ASSENT-REQ-021", "ASSENT-GRANT-001"])
def test_approve(t):
    """An approve reaching the quorum (1) approves the request and issues exactly one grant
    with the request's ttl_s: expires_at = decision time + ttl_s."""
    ag = t.new_agent()
    name = _secret(t)
    req = t.ask(ag, [name], ttl_s=120)
    d = t.approve(req["request_id"])
    r, g = d["request"], d["grant"]
    eq(r["state"], "approved", "state", req="ASSENT-REQ-020")
    eq(r["approvals"], 1, "approvals", req="ASSENT-REQ-020")
    check(g is not None and r["grant_id"] == g["grant_id"], "the decision returns the grant", actual=d,
          req="ASSENT-REQ-020")
    eq(g["originator_client_id"], ag.client_id, "grant originator", req="ASSENT-GRANT-001")
    eq(g["secrets"], [name], "grant secrets", req="ASSENT-GRANT-001")
    eq(g["state"], "live", "grant state", req="ASSENT-GRANT-001")
    eq(g["uses_total"], 1, "uses_total", req="ASSENT-GRANT-001")
    eq(g["command_bound"], False, "command_bound", req="ASSENT-GRANT-001")
    eq(round(parse_time(g["expires_at"]) - parse_time(r["decided_at"])), 120, "expires_at - decided_at",
       req="ASSENT-GRANT-001")
    grants = t.admin.ok("grant.list", {"request_id": req["request_id"]})["grants"]
    eq(len(grants), 1, "grants of the request", req="ASSENT-GRANT-001")


@case("access/decide/ttl", req="ASSENT-REQ-021")
def test_decide_ttl(t):
    """An approve with ttl_s above the request's is -32006 (limit request.ttl_s); a shorter
    ttl_s shortens the grant."""
    ag = t.new_agent()
    req = t.ask(ag, [_secret(t)], ttl_s=100)
    err = t.approver.err("access.decide", {"request_id": req["request_id"], "decision": "approve", "ttl_s": 101},
                         code=-32006, req="ASSENT-REQ-021")
    eq(err.get("data"), {"limit": "request.ttl_s", "max": 100}, "data", req="ASSENT-REQ-021")
    d = t.approve(req["request_id"], ttl_s=30)
    eq(round(parse_time(d["grant"]["expires_at"]) - parse_time(d["request"]["decided_at"])), 30, "granted ttl",
       req="ASSENT-REQ-021")


@case("access/decide/quorum", req=["ASSENT-REQ-020", "ASSENT-REQ-021", "ASSENT-REQ-019"], needs=("approver2",))
def test_quorum(t):
    """With approvals_required 2 the first approve leaves the request pending (grant null),
    the same approver cannot vote twice (already_voted), the second approver's vote approves;
    the grant takes the smallest ttl_s given."""
    name = _secret(t, approvals_required=2)
    ag = t.new_agent()
    req = t.ask(ag, [name], ttl_s=200)
    d1 = t.approve(req["request_id"], ttl_s=150)
    eq((d1["request"]["state"], d1["request"]["approvals"], d1["grant"]), ("pending", 1, None),
       "after the first vote", req="ASSENT-REQ-020")
    t.approver.err("access.decide", {"request_id": req["request_id"], "decision": "approve"}, code=-32001,
                   reason="already_voted", req="ASSENT-REQ-019")
    d2 = t.approve(req["request_id"], approver=t.approver2, ttl_s=180)
    eq((d2["request"]["state"], d2["request"]["approvals"]), ("approved", 2), "after the second vote",
       req="ASSENT-REQ-020")
    eq(round(parse_time(d2["grant"]["expires_at"]) - parse_time(d2["request"]["decided_at"])), 150,
       "grant ttl = smallest given", req="ASSENT-REQ-021")


@case("access/decide/deny", req=["ASSENT-REQ-022", "ASSENT-REQ-026"])
def test_deny(t):
    """A deny ends the request at once and records the note as decision_note."""
    ag = t.new_agent()
    req = t.ask(ag, [_secret(t)])
    d = t.approver.ok("access.decide", {"request_id": req["request_id"], "decision": "deny", "note": "not now"})
    eq((d["request"]["state"], d["request"]["decision_note"], d["grant"]), ("denied", "not now", None),
       "state, decision_note, grant", req="ASSENT-REQ-022")
    check(d["request"]["decided_at"] is not None, "decided_at", actual=d["request"], req="ASSENT-REQ-022")
    eq(ag.ok("access.get", {"request_id": req["request_id"]})["request"]["decision_note"], "not now",
       "the originator sees the note", req="ASSENT-REQ-022")


@case("access/decide/deny-after-approval", req="ASSENT-REQ-022", needs=("approver2",))
def test_deny_after_approval(t):
    """A deny after approvals short of the quorum still denies at once."""
    ag = t.new_agent()
    req = t.ask(ag, [_secret(t, approvals_required=2)])
    t.approve(req["request_id"])
    d = t.approver2.ok("access.decide", {"request_id": req["request_id"], "decision": "deny"})
    eq((d["request"]["state"], d["grant"]), ("denied", None), "state, grant", req="ASSENT-REQ-022")


@case("access/decide/finished", req="ASSENT-REQ-018")
def test_decide_finished(t):
    """Deciding a finished request (cancelled; approved or denied by another approver) is
    -32003 naming its state."""
    ag = t.new_agent()
    name = _secret(t)
    req = t.ask(ag, [name])
    ag.ok("access.cancel", {"request_id": req["request_id"]})
    for d in ("approve", "deny"):
        err = t.approver.err("access.decide", {"request_id": req["request_id"], "decision": d}, code=-32003,
                             req="ASSENT-REQ-018")
        eq((err.get("data") or {}).get("state"), "cancelled", "data.state", req="ASSENT-REQ-018")


@case("access/decide/finished-by-another", req="ASSENT-REQ-018", needs=("approver2",))
def test_decide_finished_other(t):
    """An approver who has not voted deciding a request another approver approved or denied
    gets -32003 with the state."""
    ag = t.new_agent()
    name = _secret(t)
    for end in ("approve", "deny"):
        req = t.ask(ag, [name])
        t.approver.ok("access.decide", {"request_id": req["request_id"], "decision": end})
        err = t.approver2.err("access.decide", {"request_id": req["request_id"], "decision": "approve"}, code=-32003,
                              req="ASSENT-REQ-018")
        want = {"approve": "approved", "deny": "denied"}[end]
        eq((err.get("data") or {}).get("state"), want, "data.state", req="ASSENT-REQ-018")


@case("access/decide/unknown", req=["ASSENT-RPC-027", "ASSENT-REQ-017"])
def test_decide_unknown(t):
    """Deciding an unknown request is -32002."""
    t.approver.err("access.decide", {"request_id": "rq_" + "e" * 32, "decision": "approve"}, code=-32002,
                   req="ASSENT-RPC-027")


# -- time -----------------------------------------------------------------------------------------

@case("access/timeout/timed-out", req=["ASSENT-REQ-023", "ASSENT-REQ-018"])
def test_timed_out(t):
    """A pending request whose expires_at passed is timed_out (not denied) at once, by every
    method, and can no longer be decided."""
    ag = t.new_agent()
    req = t.ask(ag, [_secret(t)], timeout_s=1)
    sleep_until_wallclock(parse_time(req["expires_at"]), 0.05)
    eq(ag.ok("access.get", {"request_id": req["request_id"]})["request"]["state"], "timed_out", "state by access.get",
       req="ASSENT-REQ-023")
    err = t.approver.err("access.decide", {"request_id": req["request_id"], "decision": "approve"}, code=-32003,
                         req="ASSENT-REQ-018")
    eq((err.get("data") or {}).get("state"), "timed_out", "data.state", req="ASSENT-REQ-023")
    states = [r["state"] for r in ag.ok("access.list")["requests"] if r["request_id"] == req["request_id"]]
    eq(states, ["timed_out"], "state by access.list", req="ASSENT-REQ-023")


@case("access/timeout/decide-after-deadline", req="ASSENT-REQ-018")
def test_decide_after_deadline(t):
    """An approve arriving right after expires_at (before any sweeper) is -32003."""
    ag = t.new_agent()
    req = t.ask(ag, [_secret(t)], timeout_s=1)
    sleep_until_wallclock(parse_time(req["expires_at"]), 0.02)
    t.approver.err("access.decide", {"request_id": req["request_id"], "decision": "approve"}, code=-32003,
                   req="ASSENT-REQ-018")


@case("access/timeout/survives-restart", req="ASSENT-REQ-024", needs=("launch",))
def test_timeout_restart(t):
    """A request whose deadline passes while the server is down is timed_out after restart."""
    with t.private() as target:
        admin = target.client("admin")
        name = t.uniq("S")
        admin.ok("secret.put", {"name": name, "value": "v"})
        base = target.client("agent")
        h = base.ok("client.hello", {"kind": "agent", "name": "restart"})
        ag = base.derive(identity=(h["client_id"], h["client_key"]))
        req = ag.ok("access.request", {"secrets": [name], "reason": t.reason(), "timeout_s": 1})["request"]
        t.launcher_of(target).stop()
        sleep_until_wallclock(parse_time(req["expires_at"]), 0.1)
        target = t.launcher_of(target).start()
        got = target.client("admin").ok("access.get", {"request_id": req["request_id"]})["request"]
        eq(got["state"], "timed_out", "state after restart", req="ASSENT-REQ-024")


@case("access/durability/acknowledged-survives-kill", req="ASSENT-REQ-025", needs=("launch",))
def test_durability(t):
    """A decision acknowledged just before a SIGKILL is there after restart, with its grant."""
    import signal
    with t.private() as target:
        admin = target.client("admin")
        name = t.uniq("S")
        admin.ok("secret.put", {"name": name, "value": "v"})
        base = target.client("agent")
        h = base.ok("client.hello", {"kind": "agent", "name": "durable"})
        ag = base.derive(identity=(h["client_id"], h["client_key"]))
        req = ag.ok("access.request", {"secrets": [name], "reason": t.reason()})["request"]
        d = target.client("approver").ok("access.decide", {"request_id": req["request_id"], "decision": "approve"})
        t.launcher_of(target).stop(signal.SIGKILL)
        target = t.launcher_of(target).start()
        got = target.client("admin").ok("access.get", {"request_id": req["request_id"]})["request"]
        eq((got["state"], got["grant_id"]), ("approved", d["grant"]["grant_id"]), "after SIGKILL and restart",
           req="ASSENT-REQ-025")
        v = target.client("admin").ok("audit.verify")
        eq(v["ok"], True, "audit chain after SIGKILL", req="ASSENT-REQ-025")


@case("access/reason/confined", req="ASSENT-REQ-026")
def test_reason_confined(t):
    """Reason text appears in results for callers allowed to see the request, never in
    metrics, errors or the audit log (only its BLAKE2b-256 hash)."""
    import hashlib
    ag = t.new_agent()
    reason = t.reason()
    req = t.ask(ag, [_secret(t)], reason=reason)
    t.new_agent().call("access.get", {"request_id": req["request_id"]})
    m = t.admin.http("GET", "/metrics")
    check(reason.encode() not in m.body, "the reason appears in /metrics", req="ASSENT-REQ-026")
    entries = t.audit_entries()
    check(reason not in str(entries), "the reason appears in the audit log", req="ASSENT-AUDIT-004")
    h = hashlib.blake2b(reason.encode(), digest_size=32).hexdigest()
    creates = [e for e in entries if e["action"] == "request.create" and e["subject"].get("request_id") == req["request_id"]]
    check(creates and creates[0]["subject"].get("reason_hash") == h, "request.create carries reason_hash = BLAKE2b-256",
          expected=h, actual=creates[:1], req="ASSENT-AUDIT-004")
