"""PROTOCOL.md 10. Grants."""

from conformance.harness import expect
from conformance.harness.case import case
from conformance.harness.context import parse_time, sleep_until_wallclock
from conformance.harness.verdict import check, eq


@case("grant/expiry/treated-expired", req=["ASSENT-GRANT-002", "ASSENT-REVEAL-002"])
def test_expired(t):
    """A grant whose expires_at passed is expired for every method at once (no sweeper
    needed): grant.list shows expired, reveal is -32004 naming it."""
    g = t.granted(approve_ttl_s=1)
    grant = g["grant"]
    sleep_until_wallclock(parse_time(grant["expires_at"]), 0.05)
    eq(t.grant(grant["grant_id"])["state"], "expired", "grant.list state", req="ASSENT-GRANT-002")
    from conformance.harness.context import Sealed
    err = g["agent"].err("secret.reveal", {"grant_id": grant["grant_id"], "name": g["name"],
                                            "recipient_key": Sealed().public_b64}, code=-32004, req="ASSENT-REVEAL-002")
    eq(err.get("data"), {"grant_id": grant["grant_id"], "state": "expired"}, "data", req="ASSENT-REVEAL-002")
    eq(err["_http_status"], 410, "HTTP status", req="ASSENT-RPC-018")


@case("grant/revoke/who-may", req=["ASSENT-GRANT-003", "ASSENT-AUTH-010"])
def test_revoke_who(t):
    """The originator, an approver and an admin may revoke; another agent gets not_originator."""
    for revoker in ("originator", "approver", "admin"):
        g = t.granted()
        gid = g["grant"]["grant_id"]
        t.new_agent().err("grant.revoke", {"grant_id": gid}, code=-32001, reason="not_originator",
                          req="ASSENT-GRANT-003")
        c = {"originator": g["agent"], "approver": t.approver, "admin": t.admin}[revoker]
        r = c.ok("grant.revoke", {"grant_id": gid})
        eq(r["grant"]["state"], "revoked", "state after revoke by %s" % revoker, req="ASSENT-GRANT-003")


@case("grant/revoke/not-live", req="ASSENT-GRANT-003")
def test_revoke_twice(t):
    """Revoking a grant that is no longer live is -32003 naming its state; unknown is -32002."""
    g = t.granted()
    gid = g["grant"]["grant_id"]
    t.admin.ok("grant.revoke", {"grant_id": gid})
    err = t.admin.err("grant.revoke", {"grant_id": gid}, code=-32003, req="ASSENT-GRANT-003")
    eq(err.get("data"), {"kind": "grant", "id": gid, "state": "revoked"}, "data", req="ASSENT-GRANT-003")
    err = t.admin.err("grant.revoke", {"grant_id": "gr_" + "0" * 32}, code=-32002, req="ASSENT-GRANT-003")
    eq((err.get("data") or {}).get("kind"), "grant", "data.kind", req="ASSENT-GRANT-003")


@case("grant/revoke-all/kill-switch", req=["ASSENT-GRANT-004", "ASSENT-AUTH-008"])
def test_revoke_all(t):
    """grant.revoke_all (admin only) revokes every live grant and cancels every pending
    request, reporting both counts."""
    t.approver.err("grant.revoke_all", {}, code=-32001, reason="role", req="ASSENT-AUTH-008")
    g1, g2 = t.granted(), t.granted()
    p = t.ask(t.new_agent(), [t.put_secret()["secret"]["name"]])
    live = _count(t, "grant.list", {"state": "live"}, "grants")
    pending = _count_requests(t)
    r = t.admin.ok("grant.revoke_all")
    eq((r["revoked_grants"], r["cancelled_requests"]), (live, pending), "counts", req="ASSENT-GRANT-004")
    for g in (g1, g2):
        eq(t.grant(g["grant"]["grant_id"])["state"], "revoked", "grant state", req="ASSENT-GRANT-004")
    eq(t.request_state(p["request_id"]), "cancelled", "pending request", req="ASSENT-GRANT-004")
    eq(_count(t, "grant.list", {"state": "live"}, "grants"), 0, "live grants left", req="ASSENT-GRANT-004")


def _count(t, method, params, key):
    return len(t.admin.ok(method, params)[key])


def _count_requests(t):
    n, after = 0, None
    while True:
        p = {"state": "pending", "limit": 500}
        if after:
            p["after"] = after
        r = t.admin.ok("access.list", p)
        n += len(r["requests"])
        if not r["next_after"]:
            return n
        after = r["next_after"]


@case("grant/list/order-filter-scope", req=["ASSENT-GRANT-005", "ASSENT-AUTH-009"])
def test_list(t):
    """grant.list: newest first, filtered by state and request_id, agents see their own only."""
    ag = t.new_agent()
    g1 = t.granted(agent=ag)
    g2 = t.granted(agent=ag)
    other = t.granted()
    mine = ag.ok("grant.list")["grants"]
    eq([g["grant_id"] for g in mine], [g2["grant"]["grant_id"], g1["grant"]["grant_id"]], "agent's grants, newest first",
       req="ASSENT-GRANT-005")
    check(other["grant"]["grant_id"] not in [g["grant_id"] for g in mine], "another agent's grant is listed",
          req="ASSENT-AUTH-009")
    eq(t.agent.ok("grant.list")["grants"], [], "agent without identity", req="ASSENT-AUTH-009")
    by_req = t.admin.ok("grant.list", {"request_id": g1["request"]["request_id"]})["grants"]
    eq([g["grant_id"] for g in by_req], [g1["grant"]["grant_id"]], "request_id filter", req="ASSENT-GRANT-005")
    ag.ok("grant.revoke", {"grant_id": g1["grant"]["grant_id"]})
    eq([g["grant_id"] for g in ag.ok("grant.list", {"state": "revoked"})["grants"]], [g1["grant"]["grant_id"]],
       "state filter", req="ASSENT-GRANT-005")
    everyone = t.approver.ok("grant.list")["grants"]
    check(other["grant"]["grant_id"] in [g["grant_id"] for g in everyone], "approvers see every grant",
          req="ASSENT-AUTH-009")
    times = [parse_time(g["created_at"]) for g in everyone]
    eq(times, sorted(times, reverse=True), "newest first", req="ASSENT-GRANT-005")


@case("grant/exhausted", req=["ASSENT-GRANT-006", "ASSENT-REVEAL-002"])
def test_exhausted(t):
    """Spending the last use makes the grant exhausted; a further reveal is -32004 exhausted."""
    g = t.granted()
    _, r = t.reveal(g["agent"], g["grant"]["grant_id"], g["name"])
    eq(r["uses_left"], 0, "uses_left", req="ASSENT-GRANT-006")
    eq(t.grant(g["grant"]["grant_id"])["state"], "exhausted", "state", req="ASSENT-GRANT-006")
    from conformance.harness.context import Sealed
    err = g["agent"].err("secret.reveal", {"grant_id": g["grant"]["grant_id"], "name": g["name"],
                                            "recipient_key": Sealed().public_b64}, code=-32004, req="ASSENT-REVEAL-002")
    eq((err.get("data") or {}).get("state"), "exhausted", "data.state", req="ASSENT-REVEAL-002")
