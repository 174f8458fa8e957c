"""HTTP on the wire: raw exchanges over TCP (optionally from a chosen loopback source address)
or a Unix socket, each one recorded for the reports.

http.client rather than requests: the suite must send exact bytes and exact headers (no
header added behind its back, a body of exactly N bytes, no Content-Type at all, invalid
UTF-8), bind the client socket to 127.0.0.x to be a distinct peer, and speak AF_UNIX.
"""

from __future__ import annotations

import http.client
import socket
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

BODY_KEEP = 4096  # bytes of each body kept in reports

# Strings that must never reach a report in clear (tokens, client keys). Filled by the
# target set-up; values are replaced by a label.
REDACTIONS: Dict[str, str] = {}


def redact_text(text: str) -> str:
    for secret, label in REDACTIONS.items():
        if secret and secret in text:
            text = text.replace(secret, label)
    return text


def _show_body(body: Optional[bytes]) -> Dict[str, Any]:
    if body is None:
        return {"length": 0, "text": ""}
    shown = body[:BODY_KEEP]
    try:
        text = shown.decode("utf-8")
    except UnicodeDecodeError:
        text = shown.decode("utf-8", "backslashreplace")
    return {"length": len(body), "text": redact_text(text), "truncated": len(body) > BODY_KEEP}


class Exchange:
    """One HTTP request and its answer (or the transport error instead of an answer)."""

    def __init__(self, transport: str, address: str, source: Optional[str], method: str,
                 path: str, headers: Sequence[Tuple[str, str]], body: Optional[bytes],
                 deliberately_invalid: bool):
        self.transport = transport
        self.address = address
        self.source = source
        self.method = method
        self.path = path
        self.req_headers = list(headers)
        self.req_body = body
        self.deliberately_invalid = deliberately_invalid
        self.status: Optional[int] = None
        self.reason = ""
        self.resp_headers: List[Tuple[str, str]] = []
        self.resp_body: bytes = b""
        self.transport_error: Optional[str] = None
        self.elapsed_ms: float = 0.0
        self.notes: List[str] = []  # validation notes attached by the client

    def header(self, name: str) -> Optional[str]:
        name = name.lower()
        for k, v in self.resp_headers:
            if k.lower() == name:
                return v
        return None

    def headers_named(self, name: str) -> List[str]:
        name = name.lower()
        return [v for k, v in self.resp_headers if k.lower() == name]

    def to_json(self) -> Dict[str, Any]:
        def red_headers(hs):
            out = []
            for k, v in hs:
                lk = k.lower()
                if lk == "authorization":
                    v = redact_text(v)
                    if v.startswith("Bearer ") and not v.startswith("Bearer <"):
                        v = "Bearer <redacted>"
                elif lk == "assent-client-key":
                    v = "<redacted client key>"
                out.append([k, v])
            return out

        return {
            "transport": self.transport,
            "address": self.address,
            "source": self.source,
            "request": {
                "method": self.method,
                "path": self.path,
                "headers": red_headers(self.req_headers),
                "body": _show_body(self.req_body),
                "deliberately_invalid": self.deliberately_invalid,
            },
            "response": None if self.status is None else {
                "status": self.status,
                "reason": self.reason,
                "headers": [[k, redact_text(v)] for k, v in self.resp_headers],
                "body": _show_body(self.resp_body),
            },
            "transport_error": self.transport_error,
            "elapsed_ms": round(self.elapsed_ms, 2),
            "notes": [redact_text(n) for n in self.notes],
        }


class Recorder:
    """Where the exchanges of the running case go (one per case; set by conftest)."""

    current: Optional["Recorder"] = None

    def __init__(self) -> None:
        self.exchanges: List[Exchange] = []

    def add(self, ex: Exchange) -> None:
        self.exchanges.append(ex)


def record(ex: Exchange) -> None:
    if Recorder.current is not None:
        Recorder.current.add(ex)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Endpoint:
    """Where a target listens: TCP host:port, or a Unix socket path."""

    def __init__(self, transport: str, address: str):
        self.transport = transport  # "tcp" | "unix"
        self.address = address

    def __repr__(self) -> str:
        return "%s:%s" % (self.transport, self.address)

    def host_port(self) -> Tuple[str, int]:
        host, _, port = self.address.rpartition(":")
        return host.strip("[]"), int(port)

    def connection(self, source: Optional[str], timeout: float) -> http.client.HTTPConnection:
        if self.transport == "unix":
            return UnixHTTPConnection(self.address, timeout)
        host, port = self.host_port()
        src = (source, 0) if source else None
        return http.client.HTTPConnection(host, port, timeout=timeout, source_address=src)


def send(endpoint: Endpoint, method: str, path: str, headers: Sequence[Tuple[str, str]],
         body: Optional[bytes], *, source: Optional[str] = None, timeout: float = 15.0,
         deliberately_invalid: bool = False, add_content_length: bool = True,
         keep: bool = True) -> Exchange:
    """One request on a fresh connection; never raises for HTTP statuses. A transport error
    (reset, timeout) is recorded in the exchange instead of a response."""
    hs = list(headers)
    if add_content_length and body is not None and not any(k.lower() == "content-length" for k, _ in hs):
        hs.append(("Content-Length", str(len(body))))
    elif add_content_length and body is None and method in ("POST", "PUT", "PATCH") and \
            not any(k.lower() == "content-length" for k, _ in hs):
        hs.append(("Content-Length", "0"))
    ex = Exchange(endpoint.transport, endpoint.address, source, method, path, hs, body,
                  deliberately_invalid)
    conn = endpoint.connection(source, timeout)
    started = time.monotonic()
    send_error: Optional[BaseException] = None
    try:
        conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
        for k, v in hs:
            conn.putheader(k, v)
        try:
            conn.endheaders(body)
        except (BrokenPipeError, ConnectionResetError) as e:
            # The server may answer (e.g. 413) and close before reading the whole body.
            send_error = e
        resp = conn.getresponse()
        ex.status = resp.status
        ex.reason = resp.reason
        ex.resp_headers = list(resp.getheaders())
        # Read the body against one overall deadline: a target that wrongly answers with an
        # endless stream (e.g. an event stream where an error was due) must not hang the run.
        deadline = started + timeout
        parts = []
        while True:
            if time.monotonic() > deadline:
                ex.resp_body = b"".join(parts)
                raise TimeoutError("the answer's body did not end within %.0f s (status %s, %s)" % (
                    timeout, resp.status, resp.getheader("Content-Type")))
            chunk = resp.read1(65536)
            if not chunk:
                break
            parts.append(chunk)
        ex.resp_body = b"".join(parts)
    except (OSError, http.client.HTTPException, TimeoutError) as e:
        ex.transport_error = "%s: %s" % (type(e).__name__, e)
        if send_error is not None:
            ex.transport_error += " (while sending: %s: %s)" % (type(send_error).__name__, send_error)
    finally:
        ex.elapsed_ms = (time.monotonic() - started) * 1000
        conn.close()
    if keep:
        record(ex)
    return ex
