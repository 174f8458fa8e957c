"""Cases added because the mutation run (scripts/mutation-score.sh, docs/RFC/0002) showed
that a broken daemon passed the suite. Each names the fault of conformance/faults/faults.json
it catches; each is a plain protocol check and passes against a conforming target.

PROTOCOL.md 4.1: a single notification gets HTTP 204 with no body (ASSENT-RPC-007).
Python's http.client never reads a body after a 204, so the ordinary cases cannot see one;
this case reads the raw bytes of a keep-alive connection."""

import json
import socket
import time

from conformance.harness import wire
from conformance.harness.case import case
from conformance.harness.verdict import CaseFailure, check, eq


def _connect(endpoint, source, timeout):
    if endpoint.transport == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(endpoint.address)
        return s
    host, port = endpoint.host_port()
    s = socket.create_connection((host, port), timeout=timeout, source_address=(source, 0) if source else None)
    return s


def _request_bytes(endpoint, headers, body, close):
    host = "localhost" if endpoint.transport == "unix" else endpoint.address
    lines = ["POST /rpc HTTP/1.1", "Host: %s" % host]
    lines += ["%s: %s" % (k, v) for k, v in headers]
    lines += ["Content-Length: %d" % len(body), "Connection: %s" % ("close" if close else "keep-alive")]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _split_response(buf, what):
    """(status, headers, rest) of the response at the start of buf."""
    head, sep, rest = buf.partition(b"\r\n\r\n")
    if not sep:
        raise CaseFailure("%s: no complete HTTP response head" % what, actual=buf[:300], req="ASSENT-RPC-007")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise CaseFailure("%s does not start with an HTTP status line" % what, actual=buf[:300],
                          req="ASSENT-RPC-007")
    hs = []
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hs.append((k.strip(), v.strip()))
    return int(parts[1]), hs, rest


def _header(hs, name):
    for k, v in hs:
        if k.lower() == name.lower():
            return v
    return None


def _read_head(sock, deadline):
    buf = b""
    while b"\r\n\r\n" not in buf and time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    return buf


def _read_more(sock, quiet_s, deadline):
    """Whatever else arrives until the connection is quiet for quiet_s (or closes)."""
    buf = b""
    sock.settimeout(quiet_s)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    return buf


@case("rpc/notification/204-has-no-body-on-the-wire", req=["ASSENT-RPC-007", "ASSENT-RPC-018"])
def test_204_framing(t):
    """[mutation: notification-204-with-body] On one keep-alive connection: a notification's
    answer is a 204 whose head ends the response (no Content-Length other than 0, no
    Transfer-Encoding, and no byte follows it); a request sent next on the same connection
    gets its own 200 answer."""
    c = t.admin
    note = json.dumps({"jsonrpc": "2.0", "method": "system.ping"}).encode()
    ping = json.dumps({"jsonrpc": "2.0", "method": "system.ping", "id": 7}).encode()
    hs = c.headers()
    started = time.monotonic()
    deadline = started + 10.0
    sock = _connect(c.endpoint, c.source, 10.0)
    try:
        sock.sendall(_request_bytes(c.endpoint, hs, note, close=False))
        first = _read_head(sock, deadline)
        first += _read_more(sock, 0.5, deadline)
        second = b""
        if first.endswith(b"\r\n\r\n"):
            sock.settimeout(10.0)
            sock.sendall(_request_bytes(c.endpoint, hs, ping, close=True))
            second = _read_more(sock, 5.0, deadline)
    finally:
        sock.close()
    for body, answer in ((note, first), (ping, second)):
        if body is ping and not answer:
            continue
        ex = wire.Exchange(c.endpoint.transport, c.endpoint.address, c.source, "POST", "/rpc",
                           hs + [("Connection", "keep-alive" if body is note else "close")], body, False)
        ex.elapsed_ms = (time.monotonic() - started) * 1000
        try:
            ex.status, ex.resp_headers, _ = _split_response(answer, "the answer")
        except CaseFailure:
            pass
        ex.resp_body = answer
        ex.notes.append("raw bytes read from the connection (head and all)")
        wire.record(ex)

    status, h1, rest = _split_response(first, "the answer to the notification")
    eq(status, 204, "status of the notification's answer", req="ASSENT-RPC-007")
    cl = _header(h1, "Content-Length")
    check(cl in (None, "0"), "a 204 must not announce a body", expected="no Content-Length, or 0",
          actual="Content-Length: %s" % cl, req="ASSENT-RPC-007")
    check(_header(h1, "Transfer-Encoding") is None, "a 204 must not carry Transfer-Encoding",
          actual=_header(h1, "Transfer-Encoding"), req="ASSENT-RPC-007")
    check(rest == b"", "bytes follow the 204's head: the notification was answered with a body",
          expected="nothing", actual=rest[:120], req="ASSENT-RPC-007")
    status2, h2, body2 = _split_response(second, "the answer to the next request on the connection")
    eq(status2, 200, "status of the next request on the connection", req="ASSENT-RPC-018")
    n = _header(h2, "Content-Length")
    if n is not None and n.isdigit():
        body2 = body2[:int(n)]
    try:
        doc = json.loads(body2)
    except ValueError:
        raise CaseFailure("the next request's answer is not JSON", actual=body2[:200], req="ASSENT-RPC-018")
    eq(doc, {"jsonrpc": "2.0", "id": 7, "result": {"pong": True}}, "the next request's answer",
       req="ASSENT-RPC-018")
