"""PROTOCOL.md 1. Transports and endpoints, 2. HTTP checks in order."""

import json
import os
import re
import socket
import stat
import time

from conformance.harness import expect, wire
from conformance.harness.case import case
from conformance.harness.client import Reply
from conformance.harness.verdict import CaseFailure, check, eq

PING = {"jsonrpc": "2.0", "method": "system.ping", "id": 1}
ID_RE = re.compile(rb"(cl|rq|gr|sc)_[0-9a-f]{32}")
METRIC_LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})?'
                         r' [-+]?([0-9.eE+-]+|NaN|\+Inf|-Inf)( -?[0-9]+)?$')


def padded_ping(size: int) -> bytes:
    """A valid ping request of exactly `size` bytes (whitespace after the object)."""
    body = b'{"jsonrpc":"2.0","method":"system.ping","id":1}'
    return body + b" " * (size - len(body))


# -- listeners ------------------------------------------------------------------------------

@case("http/listeners/unix-socket-modes", req="ASSENT-HTTP-001", needs=("unix",))
def test_unix_modes(t):
    """The Unix socket is mode 0600 inside a directory of mode 0700."""
    path = t.target.unix.address
    if not os.path.exists(path):
        raise CaseFailure("the discovery file names a Unix socket that does not exist", actual=path,
                          req="ASSENT-HTTP-001")
    st = os.stat(path)
    check(stat.S_ISSOCK(st.st_mode), "not a socket", actual=oct(st.st_mode), req="ASSENT-HTTP-001")
    eq(oct(stat.S_IMODE(st.st_mode)), oct(0o600), "socket mode", req="ASSENT-HTTP-001")
    dst = os.stat(os.path.dirname(path))
    eq(oct(stat.S_IMODE(dst.st_mode)), oct(0o700), "mode of the socket's directory", req="ASSENT-HTTP-001")


@case("http/listeners/same-semantics", req="ASSENT-HTTP-002", needs=("unix",))
def test_same_semantics(t):
    """TCP and the Unix socket serve the same endpoints with the same semantics."""
    u = t.unix("admin")
    eq(u.ok("system.info"), t.admin.ok("system.info"), "system.info over Unix vs TCP", req="ASSENT-HTTP-002")
    eq(u.http("GET", "/healthz").body, t.admin.http("GET", "/healthz").body, "/healthz", req="ASSENT-HTTP-002")
    r1, r2 = u.http("GET", "/nope"), t.admin.http("GET", "/nope")
    eq(r1.status, r2.status, "unknown path status", req="ASSENT-HTTP-002")
    r1 = u.call("no.such_method", deliberately_invalid=True)
    eq(r1.status, 404, "unknown method over Unix", req="ASSENT-HTTP-002")


# -- routes ----------------------------------------------------------------------------------

@case("http/routes/unknown-path-404", req="ASSENT-HTTP-003")
def test_unknown_path(t):
    """Paths outside the table get 404 with an HttpError not_found."""
    for method, path in (("GET", "/"), ("GET", "/nope"), ("POST", "/rpc/"), ("POST", "/RPC"),
                         ("GET", "/healthz/x"), ("GET", "/metrics.txt"), ("POST", "/rpc/x"),
                         ("GET", "/rpc.json")):
        r = t.admin.http(method, path, b"{}" if method == "POST" else None,
                         content_type="application/json" if method == "POST" else None)
        expect.http_error(r, 404, "not_found", req="ASSENT-HTTP-003")


def _405(t, method, path, allowed):
    r = t.admin.http(method, path, b"" if method in ("POST", "PUT") else None)
    body = expect.http_error(r, 405, "method_not_allowed", req="ASSENT-HTTP-004")
    allow = r.header("Allow") or ""
    check(allowed in [a.strip() for a in allow.split(",")], "Allow must name %s for %s" % (allowed, path),
          expected=allowed, actual=allow, req="ASSENT-HTTP-004")
    eq(body.get("allow"), allow, "body allow vs Allow header", req="ASSENT-HTTP-004")


@case("http/routes/rpc-get-405", req="ASSENT-HTTP-004")
def test_rpc_get(t):
    """GET /rpc is 405 with Allow: POST and an HttpError method_not_allowed."""
    _405(t, "GET", "/rpc", "POST")


@case("http/routes/rpc-put-delete-405", req="ASSENT-HTTP-004")
def test_rpc_put(t):
    """PUT and DELETE /rpc are 405 with Allow: POST."""
    _405(t, "PUT", "/rpc", "POST")
    _405(t, "DELETE", "/rpc", "POST")


@case("http/routes/healthz-post-405", req="ASSENT-HTTP-004")
def test_healthz_post(t):
    """POST /healthz and POST /readyz are 405 with Allow: GET."""
    _405(t, "POST", "/healthz", "GET")
    _405(t, "POST", "/readyz", "GET")


@case("http/routes/metrics-delete-405", req="ASSENT-HTTP-004")
def test_metrics_delete(t):
    """DELETE /metrics is 405 with Allow: GET."""
    _405(t, "DELETE", "/metrics", "GET")


@case("http/routes/events-post-405", req="ASSENT-HTTP-004", profile="events")
def test_events_post(t):
    """POST /events is 405 with Allow: GET."""
    _405(t, "POST", "/events", "GET")


@case("http/routes/options-405", req="ASSENT-HTTP-004")
def test_options(t):
    """OPTIONS on a known path is 405 with Allow, like any other method it does not serve."""
    _405(t, "OPTIONS", "/rpc", "POST")
    _405(t, "OPTIONS", "/healthz", "GET")


@case("http/routes/head-is-get-without-body", req="ASSENT-HTTP-004")
def test_head(t):
    """HEAD on a GET path is answered as GET without a body; HEAD /rpc is 405 (Allow: POST)."""
    with _Raw(t) as c:
        status, headers, body = c.exchange(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n", head=True)
        eq(status, 200, "HEAD /healthz status", req="ASSENT-HTTP-004")
        eq(body, b"", "HEAD /healthz body", req="ASSENT-HTTP-004")
        status, headers, body = c.exchange(b"HEAD /rpc HTTP/1.1\r\nHost: x\r\n\r\n", head=True)
        eq(status, 405, "HEAD /rpc status", req="ASSENT-HTTP-004")
        check("POST" in [a.strip() for a in headers.get("allow", "").split(",")],
              "Allow must name POST for HEAD /rpc", actual=headers.get("allow"), req="ASSENT-HTTP-004")


@case("http/routes/interactions-get-405", req="ASSENT-HTTP-004", profile="discord")
def test_interactions_get(t):
    """GET /discord/interactions is 405 with Allow: POST."""
    _405(t, "GET", "/discord/interactions", "POST")


@case("http/healthz/ok-without-auth", req="ASSENT-HTTP-005")
def test_healthz(t):
    """GET /healthz answers 200 "ok" without any header, from any peer."""
    c = t.anonymous(source=None).derive(version=None)
    r = c.http("GET", "/healthz")
    eq(r.status, 200, "status", req="ASSENT-HTTP-005")
    check(r.body in (b"ok", b"ok\n"), "the body must be ok and nothing else", expected="ok",
          actual=r.body[:200].decode("utf-8", "replace"), req="ASSENT-HTTP-005")


@case("http/healthz/no-detail-with-token", req="ASSENT-HTTP-005")
def test_healthz_token(t):
    """/healthz says ok and nothing more even to an admin."""
    r = t.admin.http("GET", "/healthz")
    check(r.status == 200 and r.body in (b"ok", b"ok\n"), "the body must be ok", expected="200 ok",
          actual="%s %r" % (r.status, r.body[:200]), req="ASSENT-HTTP-005")


@case("http/readyz/ready", req="ASSENT-HTTP-006")
def test_readyz(t):
    """GET /readyz answers 200 {"ready": true} once up, without authentication."""
    r = t.anonymous().derive(version=None).http("GET", "/readyz")
    eq(r.status, 200, "status", req="ASSENT-HTTP-006")
    eq(r.json, {"ready": True}, "body", req="ASSENT-HTTP-006")


@case("http/metrics/requires-token", req=["ASSENT-HTTP-007", "ASSENT-AUTH-002"])
def test_metrics_token(t):
    """GET /metrics without a token, or with a bad one, is 401 unauthorized (the suite launches
    targets without --unauthenticated-metrics)."""
    c = t.peer(None)
    r = c.http("GET", "/metrics")
    expect.http_error(r, 401, "unauthorized", req="ASSENT-HTTP-007")
    r = t.peer("admin").http("GET", "/metrics", auth=t.bad_token(), deliberately_invalid=True)
    expect.http_error(r, 401, "unauthorized", req="ASSENT-HTTP-007")


@case("http/metrics/prometheus-text", req="ASSENT-HTTP-007")
def test_metrics_format(t):
    """With a token of any role /metrics is Prometheus text: HELP/TYPE comments and samples."""
    for c in (t.admin, t.approver, t.agent):
        r = c.http("GET", "/metrics")
        eq(r.status, 200, "status for %s" % c.label, req="ASSENT-HTTP-007")
        ct = r.header("Content-Type") or ""
        check(ct.startswith("text/plain"), "Prometheus text format is text/plain", expected="text/plain; version=0.0.4",
              actual=ct, req="ASSENT-HTTP-007")
        text = r.body.decode("utf-8")
        samples = 0
        for line in text.splitlines():
            if not line.strip():
                continue
            if line.startswith("#"):
                check(re.match(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* ", line) or line.startswith("# "),
                      "bad comment line", actual=line, req="ASSENT-HTTP-007")
                continue
            check(METRIC_LINE.match(line), "not a Prometheus sample line", actual=line, req="ASSENT-HTTP-007")
            samples += 1
        check(samples > 0, "no samples at all", actual=text[:300], req="ASSENT-HTTP-007")


@case("http/metrics/no-secrets", req="ASSENT-HTTP-008")
def test_metrics_no_secrets(t):
    """Metrics never contain a token or a full id, even after calls naming attacker-chosen
    methods that look like ids, and failed authentications."""
    fake_id = "rq_" + "ab" * 16
    t.admin.call(fake_id, deliberately_invalid=True)
    t.admin.call("x." + "cd" * 16 + "-CONFORMANCE", deliberately_invalid=True)
    bad = t.bad_token()
    t.peer(None).call("system.ping", auth=bad, deliberately_invalid=True)
    r = t.admin.http("GET", "/metrics")
    eq(r.status, 200, "status", req="ASSENT-HTTP-008")
    for tok in list(t.target.tokens.by_role.values()) + [bad]:
        check(tok.encode() not in r.body, "a token appears in /metrics", req="ASSENT-HTTP-008")
    m = ID_RE.search(r.body)
    check(m is None, "a full id appears in /metrics", actual=m.group(0).decode() if m else None,
          req="ASSENT-HTTP-008")
    check(b"CONFORMANCE" not in r.body, "an attacker-chosen method name appears as a label",
          req="ASSENT-HTTP-008")


@case("http/content-type/json-bodies", req="ASSENT-HTTP-009")
def test_json_content_type(t):
    """Every JSON body carries Content-Type: application/json (checked on every exchange of the
    run; here for a result, an RPC error, a 404, a 405, a 426 and /readyz)."""
    t.admin.call("system.ping")
    t.admin.call("nope.nope", deliberately_invalid=True)
    t.admin.http("GET", "/nope")
    t.admin.http("GET", "/rpc")
    t.admin.call("system.ping", version=None, deliberately_invalid=True)
    t.admin.http("GET", "/readyz")


@case("http/stale-socket/live-server-kept", req="ASSENT-HTTP-010", needs=("launch",))
def test_live_socket(t):
    """A second instance on the same data directory (same socket path) must refuse to start
    while the first is alive, and the first keeps serving."""
    with t.private() as first:
        launcher = first.launcher
        from conformance.harness.target import Launcher
        second = Launcher(launcher.template, os.path.dirname(launcher.work_dir), os.path.basename(launcher.work_dir),
                          t.spec, t.run.tokens, mock=t.run.mock)
        import subprocess
        args = second.command()
        with open(second.log_path, "ab") as log:
            p = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            code = p.wait(10)
        except subprocess.TimeoutExpired:
            p.terminate()
            p.wait(5)
            raise CaseFailure("a second instance on a live socket did not refuse to start within 10 s",
                              req="ASSENT-HTTP-010")
        check(code != 0, "the second instance must exit with an error status", actual=code, req="ASSENT-HTTP-010")
        c = first.client("admin")
        eq(c.ok("system.ping"), {"pong": True}, "the first instance still serves", req="ASSENT-HTTP-010")
        if first.unix is not None:
            eq(first.client("admin", transport="unix").ok("system.ping"), {"pong": True},
               "the first instance's socket still serves", req="ASSENT-HTTP-010")


@case("http/stale-socket/removed", req="ASSENT-HTTP-010", level="SHOULD", needs=("launch",))
def test_stale_socket(t):
    """After a crash (SIGKILL) leaves the socket file behind, a new instance starts."""
    import signal
    with t.private() as first:
        launcher = first.launcher
        launcher.stop(signal.SIGKILL)
        try:
            again = launcher.start()
        except Exception as e:
            raise CaseFailure("the instance did not start over a stale socket file: %s" % str(e)[:500],
                              req="ASSENT-HTTP-010")
        eq(again.client("admin").ok("system.ping"), {"pong": True}, "serves after restart", req="ASSENT-HTTP-010")


# -- the order of checks ----------------------------------------------------------------------

@case("http/order/size-before-version", req=["ASSENT-HTTP-011", "ASSENT-HTTP-012"])
def test_size_first(t):
    """An oversized body without a version header and with a bad token is 413 (step 1)."""
    n = t.spec.limits["rpc_body_bytes_max"]
    r = t.peer(None).post(padded_ping(n + 1), raw=True, version=None, auth=t.bad_token(), deliberately_invalid=True)
    expect.http_error(r, 413, "payload_too_large", req="ASSENT-HTTP-011")


@case("http/order/version-before-auth", req="ASSENT-HTTP-011")
def test_version_before_auth(t):
    """No version header and a bad token: 426 (step 2) before 401 (step 5)."""
    r = t.peer(None).post(PING, version=None, auth=t.bad_token(), deliberately_invalid=True)
    expect.http_error(r, 426, "unsupported_version", req="ASSENT-HTTP-011")


@case("http/order/version-before-lockout", req="ASSENT-HTTP-011")
def test_version_before_lockout(t):
    """A locked-out peer without a version header gets 426 (step 2) before 429 (step 4)."""
    c = t.peer("admin")
    t.lock_out(c)
    r = c.post(PING, version=None, deliberately_invalid=True)
    expect.http_error(r, 426, "unsupported_version", req="ASSENT-HTTP-011")


@case("http/order/lockout-before-auth", req=["ASSENT-HTTP-011", "ASSENT-AUTH-006"])
def test_lockout_before_auth(t):
    """A locked-out peer with a bad token gets 429 (step 4), not 401 (step 5)."""
    c = t.peer("admin")
    t.lock_out(c)
    r = c.post(PING, auth=t.bad_token(), deliberately_invalid=True)
    expect.http_error(r, 429, "locked_out", req="ASSENT-HTTP-011")


@case("http/order/auth-before-media-type", req="ASSENT-HTTP-011")
def test_auth_before_media(t):
    """A bad token and a text/plain body: 401 (step 5) before 415 (step 6)."""
    r = t.peer(None).post(PING, auth=t.bad_token(), content_type="text/plain", deliberately_invalid=True)
    expect.http_error(r, 401, "unauthorized", req="ASSENT-HTTP-011")


@case("http/order/version-before-media-type", req="ASSENT-HTTP-011")
def test_version_before_media(t):
    """No version header and no Content-Type: 426 before 415."""
    r = t.admin.post(PING, version=None, content_type=None, deliberately_invalid=True)
    expect.http_error(r, 426, "unsupported_version", req="ASSENT-HTTP-011")


@case("http/order/nothing-parsed-before-checks", req=["ASSENT-HTTP-011", "ASSENT-HTTP-013"])
def test_nothing_parsed(t):
    """A body that is not JSON, refused at an HTTP step, gets the HttpError of that step, not -32700."""
    r = t.admin.post(b"{not json", raw=True, version=None, deliberately_invalid=True)
    expect.http_error(r, 426, "unsupported_version", req="ASSENT-HTTP-013")
    r = t.admin.post(b"{not json", raw=True, content_type="text/plain", deliberately_invalid=True)
    expect.http_error(r, 415, "unsupported_media_type", req="ASSENT-HTTP-013")


# -- body size --------------------------------------------------------------------------------

@case("limits/body/at-max", req=["ASSENT-HTTP-012", "ASSENT-LIM-001"])
def test_body_at_max(t):
    """A body of exactly rpc_body_bytes_max bytes passes the size check (a padded ping is served)."""
    n = t.spec.limits["rpc_body_bytes_max"]
    r = t.admin.post(padded_ping(n), raw=True)
    eq(expect.single_result(r, req="ASSENT-HTTP-012"), {"pong": True}, "result", req="ASSENT-HTTP-012")


@case("limits/body/over-max", req=["ASSENT-HTTP-012", "ASSENT-LIM-001"])
def test_body_over_max(t):
    """rpc_body_bytes_max + 1 bytes is 413 payload_too_large with limit_bytes."""
    n = t.spec.limits["rpc_body_bytes_max"]
    r = t.admin.post(padded_ping(n + 1), raw=True, deliberately_invalid=True)
    body = expect.http_error(r, 413, "payload_too_large", req="ASSENT-HTTP-012")
    eq(body.get("limit_bytes"), n, "limit_bytes", req="ASSENT-HTTP-012")


@case("limits/body/over-max-not-parsed", req="ASSENT-HTTP-012")
def test_body_over_max_garbage(t):
    """An oversized body that is not JSON is still 413 (it is not parsed)."""
    n = t.spec.limits["rpc_body_bytes_max"]
    r = t.admin.post(b"{" * (n + 1), raw=True, deliberately_invalid=True)
    expect.http_error(r, 413, "payload_too_large", req="ASSENT-HTTP-012")


@case("limits/body/declared-length-not-awaited", req=["ASSENT-LIM-005", "ASSENT-HTTP-012"])
def test_declared_length(t):
    """A request declaring a 1 GiB body is refused with 413 after at most
    rpc_body_bytes_max + 1 bytes: the suite sends N + 64 KiB of it and then waits; a target
    that waits for the whole declared body never answers."""
    from conformance.harness import wire
    n = t.spec.limits["rpc_body_bytes_max"]
    hs = t.admin.headers() + [("Content-Length", str(1 << 30))]
    started = time.monotonic()
    ex = wire.send(t.admin.endpoint, "POST", "/rpc", hs, b"x" * (n + 65536), timeout=12.0,
                   deliberately_invalid=True, add_content_length=False)
    took = time.monotonic() - started
    if ex.transport_error:
        raise CaseFailure("no answer within 12 s after rpc_body_bytes_max + 64 KiB of a body declared as 1 GiB",
                          actual=ex.transport_error, req="ASSENT-LIM-005")
    eq(ex.status, 413, "status", req="ASSENT-HTTP-012")
    t.note("413 came %.2f s after the request started" % took)


@case("limits/body/chunked-over-max", req=["ASSENT-LIM-005", "ASSENT-HTTP-012"])
def test_chunked(t):
    """A chunked body longer than rpc_body_bytes_max is refused (413), whatever its framing."""
    from conformance.harness import wire
    n = t.spec.limits["rpc_body_bytes_max"]
    chunk = b"x" * 65536
    body = b""
    total = 0
    while total <= n:
        body += b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        total += len(chunk)
    body += b"0\r\n\r\n"
    hs = t.admin.headers() + [("Transfer-Encoding", "chunked")]
    ex = wire.send(t.admin.endpoint, "POST", "/rpc", hs, body, timeout=10.0, deliberately_invalid=True,
                   add_content_length=False)
    check(ex.transport_error is None, "no answer to an oversized chunked body", actual=ex.transport_error,
          req="ASSENT-LIM-005")
    eq(ex.status, 413, "status", req="ASSENT-HTTP-012")


# -- one connection, several requests ---------------------------------------------------------

class _Raw:
    """One raw connection to the target (TCP or Unix socket) for exchanges the suite must
    frame itself: several requests on one socket, bodies on methods that take none,
    malformed requests. Answers are parsed by hand (status line, headers, Content-Length
    body) from one buffered reader, so bytes the server sends beyond an answer are seen."""

    def __init__(self, t, timeout: float = 5.0):
        ep = t.admin.endpoint
        if ep.transport == "unix":
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(ep.address)
        else:
            self.sock = socket.create_connection(ep.host_port(), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()
        self.sock.close()

    def send(self, data: bytes):
        self.sock.sendall(data)

    def answer(self, head: bool = False):
        """(status, headers with lower-case names, body) of the next answer."""
        line = self.file.readline()
        if not line:
            raise CaseFailure("the connection closed where an answer was due")
        parts = line.decode("latin-1").split(" ", 2)
        status = int(parts[1])
        headers = {}
        while True:
            h = self.file.readline()
            if h in (b"\r\n", b"\n", b""):
                break
            k, _, v = h.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        n = 0 if head else int(headers.get("content-length", "0"))
        body = self.file.read(n) if n else b""
        return status, headers, body

    def exchange(self, request: bytes, head: bool = False):
        self.send(request)
        return self.answer(head)

    def closed_by_server(self, wait: float = 3.0) -> bytes:
        """What the server sends before closing (b"" when it closes at once); raises when
        it keeps the connection open for `wait` seconds."""
        self.sock.settimeout(wait)
        try:
            return self.file.read()
        except (socket.timeout, TimeoutError):
            raise CaseFailure("the server kept the connection open after Connection: close")


def _request(method: str, path: str, headers, body: bytes = b"", framing: bool = True) -> bytes:
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: conformance"]
    lines += ["%s: %s" % (k, v) for k, v in headers]
    if framing and body:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# A body that is itself a complete request: a server that parses it as the next request
# answers it (404), which shows as an extra answer or a wrong second answer.
_SMUGGLED = b"GET /smuggled-by-a-body HTTP/1.1\r\nHost: conformance\r\n\r\n"


@case("http/keep-alive/unread-body-not-parsed", req="ASSENT-HTTP-022")
def test_unread_body(t):
    """A body sent with GET, HEAD or OPTIONS, or refused with 405 / 404, is never parsed as
    the next request on the same connection: either the answer carries Connection: close
    and the server closes, or a second request on that socket is answered normally (and
    nothing else is answered)."""
    ping = json.dumps(PING).encode()
    second = _request("POST", "/rpc", t.admin.headers(), ping)
    for method, path, expected in (("GET", "/healthz", 200), ("HEAD", "/healthz", 200),
                                   ("OPTIONS", "/rpc", 405), ("GET", "/rpc", 405),
                                   ("PUT", "/rpc", 405), ("DELETE", "/metrics", 405),
                                   ("GET", "/nope", 404)):
        with _Raw(t) as c:
            status, headers, _ = c.exchange(_request(method, path, (), _SMUGGLED),
                                            head=(method == "HEAD"))
            eq(status, expected, "%s %s with a body" % (method, path), req="ASSENT-HTTP-022")
            if headers.get("connection", "").lower() == "close":
                rest = c.closed_by_server()
                eq(rest, b"", "bytes after a Connection: close answer to %s %s" % (method, path),
                   req="ASSENT-HTTP-022")
                continue
            status, _, body = c.exchange(second)
            check(status == 200 and b'"pong"' in body,
                  "the request after %s %s with a body on the same connection was not served "
                  "(its body was parsed as a request)" % (method, path),
                  expected="200 pong", actual="%s %r" % (status, body[:200]), req="ASSENT-HTTP-022")
            c.sock.settimeout(0.5)
            try:
                extra = c.sock.recv(4096)
            except (socket.timeout, TimeoutError):
                extra = b""
            eq(extra, b"", "an extra answer on the connection after %s %s with a body" % (method, path),
               req="ASSENT-HTTP-022")


@case("http/keep-alive/two-requests-one-socket", req="ASSENT-HTTP-022")
def test_two_requests(t):
    """Two pings on one kept-alive connection, the second sent only after the first answer,
    are both served."""
    ping = json.dumps(PING).encode()
    with _Raw(t) as c:
        for i in range(2):
            status, headers, body = c.exchange(_request("POST", "/rpc", t.admin.headers(), ping))
            check(status == 200 and b'"pong"' in body, "ping %d on one connection" % (i + 1),
                  actual="%s %r" % (status, body[:200]), req="ASSENT-HTTP-022")


def _bad_request_closes(t, raw: bytes, what: str):
    with _Raw(t) as c:
        status, headers, body = c.exchange(raw)
        ex = wire.Exchange(t.admin.endpoint.transport, t.admin.endpoint.address, None, "RAW", what,
                           [], raw[:200], True)
        ex.status, ex.resp_headers, ex.resp_body = status, list(headers.items()), body
        wire.record(ex)
        expect.http_error(Reply(ex), 400, "bad_request", req="ASSENT-HTTP-023")
        eq(headers.get("connection", "").lower(), "close", "Connection header after %s" % what,
           req="ASSENT-HTTP-023")
        c.closed_by_server()


@case("http/framing/malformed-400-close", req="ASSENT-HTTP-023")
def test_malformed(t):
    """A malformed request line, a non-numeric or repeated Content-Length, a transfer coding
    other than chunked, or broken chunked framing: 400 bad_request with Connection: close,
    and the server closes the connection."""
    hs = t.admin.headers()
    ping = json.dumps(PING).encode()
    _bad_request_closes(t, b"THIS IS NOT HTTP\r\n\r\n", "a malformed request line")
    _bad_request_closes(t, _request("POST", "/rpc", hs + [("Content-Length", "4x")], ping, framing=False),
                        "Content-Length: 4x")
    _bad_request_closes(t, _request("POST", "/rpc", hs + [("Content-Length", str(len(ping)))] * 2, ping,
                                    framing=False), "two Content-Length headers")
    _bad_request_closes(t, _request("POST", "/rpc", hs + [("Transfer-Encoding", "gzip")], ping, framing=False),
                        "Transfer-Encoding: gzip")
    _bad_request_closes(t, _request("POST", "/rpc", hs + [("Transfer-Encoding", "chunked")],
                                    b"zz\r\n" + ping + b"\r\n0\r\n\r\n", framing=False),
                        "a chunk size that is not hexadecimal")


# -- media types ------------------------------------------------------------------------------

@case("http/content-type/json-with-parameters", req="ASSENT-HTTP-015")
def test_ct_params(t):
    """application/json; charset=utf-8 is accepted."""
    for ct in ("application/json; charset=utf-8", "application/json;charset=UTF-8"):
        r = t.admin.post(PING, content_type=ct)
        expect.single_result(r, req="ASSENT-HTTP-015")


def _415(t, ct):
    r = t.admin.post(PING, content_type=ct, deliberately_invalid=True)
    expect.http_error(r, 415, "unsupported_media_type", req="ASSENT-HTTP-015")


@case("http/content-type/text-plain-415", req="ASSENT-HTTP-015")
def test_ct_text(t):
    """text/plain is 415 unsupported_media_type."""
    _415(t, "text/plain")


@case("http/content-type/form-urlencoded-415", req="ASSENT-HTTP-015")
def test_ct_form(t):
    """application/x-www-form-urlencoded is 415."""
    _415(t, "application/x-www-form-urlencoded")


@case("http/content-type/multipart-415", req="ASSENT-HTTP-015")
def test_ct_multipart(t):
    """multipart/form-data is 415 (a server must not parse it as a form)."""
    _415(t, "multipart/form-data; boundary=conformance")


@case("http/content-type/lookalikes-415", req="ASSENT-HTTP-015")
def test_ct_lookalikes(t):
    """Media types that merely look like JSON (application/json-rpc, application/jsonx,
    application/json-seq, json) are 415."""
    for ct in ("application/json-rpc", "application/jsonx", "application/json-seq", "json"):
        _415(t, ct)


@case("http/content-type/missing-415", req="ASSENT-HTTP-015")
def test_ct_missing(t):
    """No Content-Type at all is 415."""
    r = t.admin.post(PING, content_type=None, deliberately_invalid=True)
    expect.http_error(r, 415, "unsupported_media_type", req="ASSENT-HTTP-015")


@case("http/content-type/case-insensitive", req="ASSENT-HTTP-015", level="INFO")
def test_ct_case(t):
    """Media types are case-insensitive (RFC 9110); the spec does not say so explicitly."""
    r = t.admin.post(PING, content_type="Application/JSON", deliberately_invalid=True)
    t.note("Content-Type Application/JSON answered HTTP %s" % r.status)


# -- pre-parse errors and leaks ---------------------------------------------------------------

@case("http/errors/pre-parse-http-error", req="ASSENT-HTTP-013")
def test_pre_parse(t):
    """Errors before JSON-RPC parsing (413, 415, 426, 401) are HttpError bodies, never JSON-RPC."""
    n = t.spec.limits["rpc_body_bytes_max"]
    replies = [
        t.admin.post(padded_ping(n + 1), raw=True, deliberately_invalid=True),
        t.admin.post(PING, content_type="text/plain", deliberately_invalid=True),
        t.admin.post(PING, version="9", deliberately_invalid=True),
        t.peer(None).post(PING, deliberately_invalid=True),
    ]
    for r in replies:
        check(isinstance(r.json, dict) and "jsonrpc" not in r.json and isinstance(r.json.get("error"), str),
              "expected an HttpError body", actual=r.json, req="ASSENT-HTTP-013")


@case("http/errors/no-token-in-message", req=["ASSENT-HTTP-014", "ASSENT-RPC-021"])
def test_no_token_echo(t):
    """A refused token or client key never appears in the error body."""
    bad = t.bad_token()
    r = t.peer(None).post(PING, auth=bad, deliberately_invalid=True)
    expect.http_error(r, 401, "unauthorized", req="ASSENT-HTTP-014")
    check(bad.encode() not in r.body and bad.encode() not in b"".join(v.encode() for _, v in r.ex.resp_headers),
          "the 401 echoes the token", req="ASSENT-HTTP-014")
    key = "K" * 43
    r = t.peer("admin").post(PING, identity=("cl_" + "0" * 32, key), deliberately_invalid=True)
    expect.http_error(r, 401, "unauthorized", req="ASSENT-HTTP-019")
    check(key.encode() not in r.body, "the 401 echoes the client key", req="ASSENT-HTTP-014")


@case("http/identity/headers-together", req="ASSENT-HTTP-019")
def test_identity_headers(t):
    """Assent-Client-Id without Assent-Client-Key, or the reverse, is 401 unauthorized."""
    r = t.peer("agent").post(PING, identity=("cl_" + "1" * 32, None), deliberately_invalid=True)
    expect.http_error(r, 401, "unauthorized", req="ASSENT-HTTP-019")
    r = t.peer("agent").post(PING, identity=(None, "A" * 43), deliberately_invalid=True)
    expect.http_error(r, 401, "unauthorized", req="ASSENT-HTTP-019")


@case("http/identity/key-must-prove-id", req=["ASSENT-HTTP-019", "ASSENT-HTTP-011"])
def test_identity_unproven(t):
    """A well-formed client id with a key that does not prove it is 401 (step 5)."""
    r = t.peer("agent").post(PING, identity=("cl_" + "2" * 32, "B" * 43), deliberately_invalid=True)
    expect.http_error(r, 401, "unauthorized", req="ASSENT-HTTP-019")
