"""PROTOCOL.md 6. Client identity."""

import secrets as pysecrets

from conformance.harness import expect
from conformance.harness.case import case
from conformance.harness.verdict import check, eq

ORIGINATOR_ONLY = ("access.get", "access.wait", "access.cancel", "access.extend", "grant.revoke", "secret.reveal")


def _random_key() -> str:
    import base64
    return base64.urlsafe_b64encode(pysecrets.token_bytes(32)).decode().rstrip("=")


@case("id/hello/mint", req=["ASSENT-ID-001", "ASSENT-ID-004", "ASSENT-RPC-033", "ASSENT-RPC-035"])
def test_mint(t):
    """client.hello without client_id mints cl_<32 hex> and a 43-character base64url key,
    resumed false."""
    r = t.hello()
    eq(r.get("resumed"), False, "resumed", req="ASSENT-ID-001")
    check(isinstance(r.get("client_key"), str), "client_key must be present on a mint", actual=r, req="ASSENT-ID-004")


@case("id/hello/mint-distinct", req=["ASSENT-ID-001", "ASSENT-RPC-033"])
def test_mint_distinct(t):
    """Two mints give different ids and different keys (16 and 32 random bytes)."""
    a, b = t.hello(), t.hello()
    check(a["client_id"] != b["client_id"], "two mints gave the same client_id", actual=[a["client_id"], b["client_id"]],
          req="ASSENT-RPC-033")
    check(a["client_key"] != b["client_key"], "two mints gave the same client_key", req="ASSENT-ID-001")


@case("id/hello/any-role", req="ASSENT-ID-001")
def test_hello_roles(t):
    """client.hello is open to every role (x-roles: any)."""
    for c in (t.admin, t.approver, t.agent):
        r = t.hello(c)
        eq(r["resumed"], False, "resumed for %s" % c.label, req="ASSENT-ID-001")


@case("id/hello/resume", req=["ASSENT-ID-002", "ASSENT-ID-004"])
def test_resume(t):
    """client.hello with the id and its key resumes it: same id, resumed true, no client_key."""
    a = t.hello()
    r = t.agent.ok("client.hello", {"kind": "agent", "name": "again", "client_id": a["client_id"],
                                    "client_key": a["client_key"]})
    eq(r.get("client_id"), a["client_id"], "client_id", req="ASSENT-ID-002")
    eq(r.get("resumed"), True, "resumed", req="ASSENT-ID-002")
    check("client_key" not in r, "a resume must never return the key again", actual=r, req="ASSENT-ID-004")


@case("id/hello/resume-after-restart", req="ASSENT-ID-002", needs=("launch",))
def test_resume_restart(t):
    """The originator identity survives a restart of the server."""
    with t.private() as target:
        c = target.client("agent")
        a = c.ok("client.hello", {"kind": "agent", "name": "survivor"})
        target = t.restart(target)
        c = target.client("agent")
        r = c.ok("client.hello", {"kind": "agent", "name": "survivor", "client_id": a["client_id"],
                                  "client_key": a["client_key"]})
        eq((r.get("client_id"), r.get("resumed")), (a["client_id"], True), "resume after restart", req="ASSENT-ID-002")
        info = c.derive(identity=(a["client_id"], a["client_key"])).ok("system.info")
        eq(info["client_id"], a["client_id"], "headers prove the identity after restart", req="ASSENT-ID-002")


@case("id/hello/wrong-key-mints-fresh", req=["ASSENT-ID-003", "ASSENT-ID-004"])
def test_wrong_key(t):
    """A known id with a key that does not match is not resumed: a fresh identity is minted
    (resumed false, another id, a new key)."""
    a = t.hello()
    r = t.agent.ok("client.hello", {"kind": "agent", "name": "thief", "client_id": a["client_id"],
                                    "client_key": _random_key()})
    eq(r.get("resumed"), False, "resumed", req="ASSENT-ID-003")
    check(r.get("client_id") != a["client_id"], "the attacked id must not be handed out", actual=r,
          req="ASSENT-ID-003")
    check("client_key" in r, "the fresh identity comes with its key", actual=r, req="ASSENT-ID-004")


@case("id/hello/unknown-id-mints-fresh", req="ASSENT-ID-003")
def test_unknown_id(t):
    """An unknown client_id (with some key) is not adopted: a fresh identity is minted."""
    cid = "cl_" + pysecrets.token_hex(16)
    r = t.agent.ok("client.hello", {"kind": "agent", "name": "x", "client_id": cid, "client_key": _random_key()})
    eq(r.get("resumed"), False, "resumed", req="ASSENT-ID-003")
    check(r.get("client_id") != cid, "the server adopted a client id it never minted", actual=r, req="ASSENT-ID-003")


@case("id/hello/original-key-still-works", req="ASSENT-ID-003")
def test_original_still_works(t):
    """After a failed resume with a wrong key, the real key still proves the identity."""
    a = t.hello()
    t.agent.ok("client.hello", {"kind": "agent", "name": "thief", "client_id": a["client_id"],
                                "client_key": _random_key()})
    info = t.agent.derive(identity=(a["client_id"], a["client_key"])).ok("system.info")
    eq(info["client_id"], a["client_id"], "client_id", req="ASSENT-ID-003")


@case("id/hello/key-mismatch-audited", req=["ASSENT-ID-003", "ASSENT-AUDIT-001"])
def test_mismatch_audited(t):
    """A key mismatch is audited as client.key_mismatch (without the key)."""
    a = t.hello()
    before = t.audit_head_seq()
    wrong = _random_key()
    t.agent.ok("client.hello", {"kind": "agent", "name": "thief", "client_id": a["client_id"], "client_key": wrong})
    entries = t.audit_entries(before)
    hits = [e for e in entries if e["action"] == "client.key_mismatch"]
    check(hits, "an audit entry client.key_mismatch", actual=[e["action"] for e in entries], req="ASSENT-ID-003")
    check(wrong not in str(entries) and a["client_key"] not in str(entries), "a client key in the audit log",
          req="ASSENT-AUDIT-004")


@case("id/headers/prove-identity", req=["ASSENT-ID-005", "ASSENT-HTTP-019"])
def test_headers(t):
    """With Assent-Client-Id/Key the request has that identity; with the key of another
    identity it is 401."""
    a = t.new_agent()
    b = t.new_agent()
    eq(a.ok("system.info")["client_id"], a.client_id, "client_id", req="ASSENT-ID-005")
    r = t.peer("agent").post({"jsonrpc": "2.0", "method": "system.ping", "id": 1},
                             identity=(a.client_id, b.client_key), deliberately_invalid=True)
    expect.http_error(r, 401, "unauthorized", req="ASSENT-HTTP-019")


@case("id/identity-required/request", req=["ASSENT-ID-007", "ASSENT-REQ-001", "ASSENT-ID-005"])
def test_identity_required_request(t):
    """access.request by an agent without identity headers is -32001 client_identity_required."""
    s = t.put_secret()
    r = t.agent.call("access.request", {"secrets": [s["secret"]["name"]], "reason": t.reason()})
    err = expect.single_error(r, -32001, http=403, req="ASSENT-ID-007")
    eq((err.get("data") or {}).get("reason"), "client_identity_required", "data.reason", req="ASSENT-ID-007")


@case("id/identity-required/originator-methods", req=["ASSENT-ID-007", "ASSENT-AUTH-010"])
def test_identity_required_originator(t):
    """Every originator-only method answers an agent without identity with -32001
    client_identity_required, before looking the object up."""
    rq = "rq_" + pysecrets.token_hex(16)
    gr = "gr_" + pysecrets.token_hex(16)
    from conformance.harness.context import Sealed
    params = {
        "access.get": {"request_id": rq}, "access.wait": {"request_id": rq, "timeout_s": 0},
        "access.cancel": {"request_id": rq}, "access.extend": {"request_id": rq, "timeout_s": 60},
        "grant.revoke": {"grant_id": gr},
        "secret.reveal": {"grant_id": gr, "name": "X", "recipient_key": Sealed().public_b64},
    }
    for m in ORIGINATOR_ONLY:
        r = t.agent.call(m, params[m])
        err = expect.single_error(r, -32001, http=403, req="ASSENT-ID-007")
        eq((err.get("data") or {}).get("reason"), "client_identity_required", "%s data.reason" % m,
           req="ASSENT-ID-007")


@case("id/hello/resume-updates-name-kind", req="ASSENT-ID-006")
def test_resume_updates(t):
    """A resumed hello updates name and kind: a later request shows the new values."""
    a = t.new_agent(kind="agent", name="before-name")
    t.agent.ok("client.hello", {"kind": "script", "name": "after-name", "client_id": a.client_id,
                                "client_key": a.client_key})
    s = t.put_secret()
    req = t.ask(a, [s["secret"]["name"]])
    eq(req["originator"], {"client_id": a.client_id, "kind": "script", "name": "after-name"}, "originator",
       req="ASSENT-ID-006")


@case("id/kind/policy-filter", req=["ASSENT-ID-006", "ASSENT-REQ-004"])
def test_kind_filter(t):
    """kind is a policy filter: a secret for scripts refuses an agent-kind client with
    client_kind_not_allowed, and serves it after it says hello as a script."""
    s = t.put_secret(policy={"client_kinds": ["script"]})
    a = t.new_agent(kind="agent")
    r = a.call("access.request", {"secrets": [s["secret"]["name"]], "reason": t.reason()})
    err = expect.single_error(r, -32001, http=403, req="ASSENT-REQ-004")
    eq((err.get("data") or {}).get("reason"), "client_kind_not_allowed", "data.reason", req="ASSENT-REQ-004")
    t.agent.ok("client.hello", {"kind": "script", "name": "now-a-script", "client_id": a.client_id,
                                "client_key": a.client_key})
    req = t.ask(a, [s["secret"]["name"]])
    eq(req["state"], "pending", "state", req="ASSENT-ID-006")
