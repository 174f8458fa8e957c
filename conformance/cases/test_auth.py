"""PROTOCOL.md 5. Authentication, roles and lockout.

Authentication failures count per peer, and three lock the peer out for a minute, so every
case that fails authentication on purpose does it from its own TCP source address
(127.0.0.N); the rest of the run is not poisoned."""

import os
import socket
import subprocess
import sys
import textwrap

from conformance.harness import expect
from conformance.harness.case import case
from conformance.harness.verdict import CaseFailure, check, eq

PING = {"jsonrpc": "2.0", "method": "system.ping", "id": 1}


# -- tokens on TCP ------------------------------------------------------------------------------

@case("auth/tcp/no-token-401", req="ASSENT-AUTH-002")
def test_no_token(t):
    """A TCP request to /rpc without Authorization is 401 unauthorized."""
    r = t.peer(None).post(PING, deliberately_invalid=True)
    expect.http_error(r, 401, "unauthorized", req="ASSENT-AUTH-002")


@case("auth/tcp/unknown-token-401", req="ASSENT-AUTH-002")
def test_unknown_token(t):
    """A well-formed token the target does not know is 401."""
    r = t.peer(None).post(PING, auth=t.bad_token(), deliberately_invalid=True)
    expect.http_error(r, 401, "unauthorized", req="ASSENT-AUTH-002")


@case("auth/tcp/malformed-authorization-401", req="ASSENT-AUTH-002")
def test_malformed_authorization(t):
    """Authorization that is not "Bearer <token>" (Basic, an empty bearer, a token with a
    different case) is 401."""
    admin_tok = t.target.tokens.by_role["admin"]
    for value in ("Basic YWRtaW46YWRtaW4=", "Bearer ", "Bearer " + admin_tok.swapcase(), "Token " + admin_tok):
        r = t.peer(None).post(PING, auth=value, deliberately_invalid=True)
        expect.http_error(r, 401, "unauthorized", req="ASSENT-AUTH-002")


@case("auth/tcp/token-prefix-401", req=["ASSENT-AUTH-002", "ASSENT-AUTH-004"])
def test_token_prefix(t):
    """A prefix or an extension of a valid token is not that token."""
    tok = t.target.tokens.by_role["admin"]
    for value in (tok[:-1], tok + "x"):
        r = t.peer(None).post(PING, auth=value, deliberately_invalid=True)
        expect.http_error(r, 401, "unauthorized", req="ASSENT-AUTH-002")


@case("auth/roles/from-token", req=["ASSENT-AUTH-001", "ASSENT-RPC-032"])
def test_roles(t):
    """system.info reports the role of the token: admin, approver, agent."""
    for c, role in ((t.admin, "admin"), (t.approver, "approver"), (t.agent, "agent")):
        eq(c.ok("system.info").get("role"), role, "role for the %s token" % role, req="ASSENT-AUTH-001")


@case("auth/roles/no-header-raises-role", req="ASSENT-AUTH-001")
def test_no_header_raises(t):
    """Headers other than Authorization never raise a role."""
    extra = [("X-Assent-Role", "admin"), ("Assent-Role", "admin"), ("X-Forwarded-For", "127.0.0.1"),
             ("X-Forwarded-User", "root")]
    r = t.agent.post({"jsonrpc": "2.0", "method": "system.info", "id": 1}, extra_headers=extra)
    eq(expect.single_result(r, req="ASSENT-AUTH-001").get("role"), "agent", "role", req="ASSENT-AUTH-001")
    r = t.agent.post({"jsonrpc": "2.0", "method": "secret.list", "id": 2}, extra_headers=extra)
    expect.single_error(r, -32001, req="ASSENT-AUTH-001")


@case("auth/unix/no-token-is-agent", req="ASSENT-AUTH-001", needs=("unix",))
def test_unix_no_token(t):
    """On the Unix socket a request without a token has the agent role."""
    info = t.unix(None).ok("system.info")
    eq(info.get("role"), "agent", "role without a token on the socket", req="ASSENT-AUTH-001")


@case("auth/unix/token-gives-role", req="ASSENT-AUTH-001", needs=("unix",))
def test_unix_token(t):
    """On the Unix socket a bearer token gives its role."""
    eq(t.unix("admin").ok("system.info").get("role"), "admin", "role", req="ASSENT-AUTH-001")
    eq(t.unix("approver").ok("system.info").get("role"), "approver", "role", req="ASSENT-AUTH-001")


@case("auth/unix/foreign-uid-403", req=["ASSENT-AUTH-003", "ASSENT-HTTP-011"], needs=("launch", "root", "unix"))
def test_foreign_uid(t):
    """A Unix-socket peer with another UID is refused with 403 peer_forbidden (the suite,
    as root, opens the private instance's directories to UID 65534 and connects as it)."""
    with t.private() as target:
        if target.unix is None:
            raise CaseFailure("the private instance has no Unix socket")
        sock = target.unix.address
        # Let UID 65534 reach the socket: +x on every directory up to it, and rw on the socket.
        d = os.path.dirname(sock)
        while d and d != "/":
            st = os.stat(d)
            os.chmod(d, st.st_mode | 0o011)
            if d == t.run.work_root:
                break
            d = os.path.dirname(d)
        os.chmod(sock, 0o666)
        script = textwrap.dedent("""
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(5)
            s.connect(sys.argv[1])
            body = b'{"jsonrpc":"2.0","method":"system.ping","id":1}'
            s.sendall(b"POST /rpc HTTP/1.1\\r\\nHost: localhost\\r\\nAssent-Api-Version: 1\\r\\n"
                      b"Content-Type: application/json\\r\\nConnection: close\\r\\nContent-Length: "
                      + str(len(body)).encode() + b"\\r\\n\\r\\n" + body)
            out = b""
            while True:
                c = s.recv(65536)
                if not c: break
                out += c
            sys.stdout.write(out.decode("utf-8", "replace"))
        """)
        p = subprocess.run([sys.executable, "-c", script, sock], user=65534, group=65534,
                           capture_output=True, timeout=15)
        if p.returncode != 0:
            raise CaseFailure("could not talk to the socket as UID 65534", actual=p.stderr.decode()[-500:])
        raw = p.stdout.decode("utf-8", "replace")
        head, _, body = raw.partition("\r\n\r\n")
        status = int(head.split(" ")[1]) if head.startswith("HTTP/") else None
        eq(status, 403, "status for a foreign UID", req="ASSENT-AUTH-003")
        check('"peer_forbidden"' in body, "HttpError peer_forbidden", actual=body[:300], req="ASSENT-AUTH-003")


# -- roles per method -------------------------------------------------------------------------

@case("auth/roles/agent-secret-list", req=["ASSENT-AUTH-008", "ASSENT-RPC-018"])
def test_agent_secret_list(t):
    """An agent calling secret.list (admin only) gets -32001, reason role, required_roles [admin], HTTP 403."""
    r = t.agent.call("secret.list")
    err = expect.single_error(r, -32001, http=403, req="ASSENT-AUTH-008")
    eq(err.get("data"), {"reason": "role", "required_roles": ["admin"]}, "data", req="ASSENT-AUTH-008")


@case("auth/roles/every-method", req=["ASSENT-AUTH-008", "ASSENT-RPC-027"])
def test_roles_every_method(t):
    """For every method and every role x-roles does not admit, the call is -32001 role with
    required_roles listing the admitted roles (checked before params: params are {})."""
    clients = {"admin": t.admin, "approver": t.approver, "agent": t.agent}
    for name, m in sorted(t.spec.methods.items()):
        roles = m.get("x-roles", [])
        admitted = set(r for r in roles if r != "originator")
        if "originator" in roles:
            admitted.add("agent")
        for role, c in clients.items():
            if role in admitted:
                continue
            r = c.call(name, {}, deliberately_invalid=True)
            err = expect.single_error(r, -32001, http=403, req="ASSENT-AUTH-008")
            data = err.get("data") or {}
            eq(data.get("reason"), "role", "%s as %s: data.reason" % (name, role), req="ASSENT-AUTH-008")
            want = sorted(x for x in roles if x != "originator")
            if "originator" in roles and "agent" not in want:
                want = sorted(want + ["agent"])
            got = sorted(data.get("required_roles") or [])
            check(set(got) <= set(want + ["agent"]) and set(x for x in want if x != "agent") <= set(got),
                  "%s as %s: required_roles must name the admitted roles" % (name, role),
                  expected=want, actual=got, req="ASSENT-AUTH-008")


# -- lockout --------------------------------------------------------------------------------------

@case("auth/lockout/two-failures-no-lockout", req="ASSENT-AUTH-005")
def test_two_failures(t):
    """auth_failures_max - 1 failures do not lock a peer out."""
    c = t.peer("admin")
    bad = c.derive(token=t.bad_token())
    for _ in range(t.spec.limits["auth_failures_max"] - 1):
        expect.http_error(bad.post(PING, deliberately_invalid=True), 401, "unauthorized", req="ASSENT-AUTH-005")
    eq(expect.single_result(c.post(PING), req="ASSENT-AUTH-005"), {"pong": True}, "valid call after two failures",
       req="ASSENT-AUTH-005")


@case("auth/lockout/third-failure", req=["ASSENT-AUTH-005", "ASSENT-AUTH-006", "ASSENT-HTTP-020"])
def test_third_failure(t):
    """The auth_failures_max-th failure within the window starts a lockout: the next request,
    even with a valid token, is 429 locked_out with Retry-After = retry_after_s, at most
    lockout_s and, right after the lockout began, close to it."""
    c = t.peer("admin")
    t.lock_out(c)
    r = c.post(PING, deliberately_invalid=True)
    body = expect.http_error(r, 429, "locked_out", req="ASSENT-AUTH-006")
    lockout = t.spec.limits["lockout_s"]
    ra = body.get("retry_after_s")
    check(isinstance(ra, int) and lockout - 5 <= ra <= lockout, "retry_after_s right after the lockout began",
          expected="%d..%d" % (lockout - 5, lockout), actual=ra, req="ASSENT-AUTH-006")
    eq(r.header("Retry-After"), str(ra), "Retry-After header", req="ASSENT-HTTP-020")


@case("auth/lockout/valid-token-refused", req="ASSENT-AUTH-006")
def test_valid_refused(t):
    """During a lockout every request from the peer is 429: valid tokens of every role, /rpc
    calls of any method."""
    c = t.peer("admin")
    t.lock_out(c)
    for role in ("admin", "approver", "agent"):
        r = c.derive(token=t.target.tokens.by_role[role]).post(
            {"jsonrpc": "2.0", "method": "system.info", "id": 1}, deliberately_invalid=True)
        expect.http_error(r, 429, "locked_out", req="ASSENT-AUTH-006")


@case("auth/lockout/per-peer", req="ASSENT-AUTH-005")
def test_per_peer(t):
    """A lockout is per peer: another address is still served."""
    c = t.peer("admin")
    t.lock_out(c)
    expect.http_error(c.post(PING, deliberately_invalid=True), 429, "locked_out", req="ASSENT-AUTH-005")
    other = t.peer("admin")
    eq(expect.single_result(other.post(PING), req="ASSENT-AUTH-005"), {"pong": True}, "another peer",
       req="ASSENT-AUTH-005")


@case("auth/lockout/missing-token-counts", req="ASSENT-AUTH-005")
def test_missing_token_counts(t):
    """A missing token on TCP is an authentication failure that counts toward the lockout."""
    c = t.peer("admin")
    none = c.derive(token=None)
    for _ in range(t.spec.limits["auth_failures_max"]):
        expect.http_error(none.post(PING, deliberately_invalid=True), 401, "unauthorized", req="ASSENT-AUTH-002")
    expect.http_error(c.post(PING, deliberately_invalid=True), 429, "locked_out", req="ASSENT-AUTH-005")


@case("auth/lockout/client-key-counts", req=["ASSENT-AUTH-005", "ASSENT-HTTP-019"])
def test_client_key_counts(t):
    """A client key that does not prove its id is an authentication failure that counts."""
    c = t.peer("agent")
    wrong = c.derive(identity=("cl_" + "3" * 32, "C" * 43))
    for _ in range(t.spec.limits["auth_failures_max"]):
        expect.http_error(wrong.post(PING, deliberately_invalid=True), 401, "unauthorized", req="ASSENT-HTTP-019")
    expect.http_error(c.post(PING, deliberately_invalid=True), 429, "locked_out", req="ASSENT-AUTH-005")


@case("auth/lockout/metrics-refused", req="ASSENT-AUTH-006")
def test_lockout_metrics(t):
    """A locked-out peer is refused on /metrics too."""
    c = t.peer("admin")
    t.lock_out(c)
    r = c.http("GET", "/metrics")
    expect.http_error(r, 429, "locked_out", req="ASSENT-AUTH-006")


@case("auth/lockout/unix-per-uid", req=["ASSENT-AUTH-005", "ASSENT-AUTH-006"], needs=("launch", "unix"))
def test_unix_lockout(t):
    """On the Unix socket failures count per UID: three bad tokens lock the socket's UID out
    (a private instance, so the run's socket is not locked); TCP peers stay served."""
    with t.private() as target:
        u = target.client(None, transport="unix")
        bad = u.derive(token=t.bad_token())
        for _ in range(t.spec.limits["auth_failures_max"]):
            expect.http_error(bad.post(PING, deliberately_invalid=True), 401, "unauthorized", req="ASSENT-AUTH-005")
        expect.http_error(u.post(PING, deliberately_invalid=True), 429, "locked_out", req="ASSENT-AUTH-006")
        eq(expect.single_result(target.client("admin").post(PING), req="ASSENT-AUTH-005"), {"pong": True},
           "TCP is another peer", req="ASSENT-AUTH-005")


@case("auth/lockout/audited", req=["ASSENT-AUTH-007", "ASSENT-AUDIT-001"])
def test_lockout_audited(t):
    """Each authentication failure and the lockout are audited (auth.failure, auth.lockout)
    with the peer and without the token."""
    c = t.peer("admin")
    before = t.audit_head_seq()
    bad_tokens = [t.lock_out(c)]
    entries = t.audit_entries(after_seq=before)
    peer = "tcp:%s" % c.source
    fails = [e for e in entries if e["action"] == "auth.failure" and peer in (e["subject"].get("peer") or "")]
    locks = [e for e in entries if e["action"] == "auth.lockout" and peer in (e["subject"].get("peer") or "")]
    check(len(fails) >= t.spec.limits["auth_failures_max"], "one auth.failure entry per failure from %s" % peer,
          expected=t.spec.limits["auth_failures_max"], actual=len(fails), req="ASSENT-AUTH-007")
    check(len(locks) >= 1, "an auth.lockout entry for %s" % peer, actual=[e["action"] for e in entries],
          req="ASSENT-AUTH-007")
    blob = str(entries)
    for tok in bad_tokens:
        check(tok not in blob, "the presented token appears in the audit log", req="ASSENT-AUTH-007")


# -- tokens file ------------------------------------------------------------------------------

@case("auth/tokens/readable-file-refused", req="ASSENT-AUTH-012", level="SHOULD", needs=("launch",))
def test_tokens_mode(t):
    """The target refuses to start when the tokens file is readable by others (mode 0644)."""
    with t.private(tokens_mode=0o644, expect_start=False) as target:
        from conformance.harness.target import Target
        if isinstance(target, Target):
            raise CaseFailure("the target started with a tokens file of mode 0644", req="ASSENT-AUTH-012")


@case("auth/tokens/hash-format", req=["ASSENT-TGT-003", "ASSENT-AUTH-004"], needs=("launch",))
def test_tokens_file_format(t):
    """The target reads a tokens file of blake2b256:<hex> hashes only (the run's own tokens
    file holds no clear token, and every role's token works)."""
    import json as _json
    with open(t.target.launcher.tokens_file) as f:
        doc = _json.load(f)
    probs = t.spec.problems(t.spec.schema_ref("tokens", "TokensFile"), doc)
    check(not probs, "the suite's tokens file fails tokens.json (suite bug)", actual=str(probs[:1]))
    for role, tok in t.target.tokens.by_role.items():
        check(tok not in _json.dumps(doc), "clear token in the tokens file (suite bug)")
        info = t.target.client(role).ok("system.info")
        eq(info["role"], {"approver2": "approver"}.get(role, role), "role of %s" % role, req="ASSENT-TGT-003")
