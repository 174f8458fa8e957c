"""A Server-Sent Events reader for GET /events that validates every event's data against
the schema of its type in `x-events` (ASSENT-EVT-003), and records the stream for reports.

A raw socket with its own HTTP/1.1 head parsing and de-chunking: reads with deadlines that
can time out and resume (the standard library's readers cannot)."""

from __future__ import annotations

import json
import select
import socket
import time
from typing import Any, Callable, List, Optional, Sequence, Tuple

from . import wire
from .verdict import CaseFailure, TargetViolation


class Event:
    def __init__(self, id: Optional[str], type: str, data: str, raw: List[str]):
        self.id = id
        self.type = type
        self.data_text = data
        self.raw = raw
        try:
            self.data = json.loads(data) if data else None
        except ValueError:
            self.data = None

    def __repr__(self) -> str:
        return "<Event %s %s %s>" % (self.id, self.type, self.data_text[:120])


def _connect(endpoint: Any, source: Optional[str], timeout: float) -> socket.socket:
    if endpoint.transport == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(endpoint.address)
    else:
        host, port = endpoint.host_port()
        s = socket.create_connection((host, port), timeout=timeout,
                                     source_address=(source, 0) if source else None)
    return s


class SseStream:
    """One open GET /events; next_event() / collect() / wait_for() read what arrives."""

    def __init__(self, client: Any, query: str = "", headers: Sequence[Tuple[str, str]] = (),
                 timeout: float = 10.0, version: Any = None, auth: Any = None):
        from .client import DEFAULT
        self.client = client
        self.spec = client.spec
        path = "/events" + (("?" + query) if query else "")
        hs = client.headers(content_type=None, extra=headers,
                            version=DEFAULT if version is None else version,
                            auth=DEFAULT if auth is None else auth)
        hs.append(("Accept", "text/event-stream"))
        self.ex = wire.Exchange(client.endpoint.transport, client.endpoint.address, client.source, "GET",
                                path, hs, None, False)
        wire.record(self.ex)
        self.sock = _connect(client.endpoint, client.source, timeout)
        req = "GET %s HTTP/1.1\r\nHost: localhost\r\n" % path
        req += "".join("%s: %s\r\n" % (k, v) for k, v in hs) + "\r\n"
        self.sock.sendall(req.encode("latin-1"))
        self.buf = b""
        self.body = b""
        self.chunked = False
        self.chunk_left = 0
        self.length: Optional[int] = None
        self.lines: List[str] = []
        self.comments: List[str] = []
        self.comment_times: List[float] = []
        self.retry: Optional[str] = None
        self.received: List[Event] = []
        self.closed = False
        self._pending: List[str] = []
        self.status: Optional[int] = None
        self._read_head(time.monotonic() + timeout)
        if self.status != 200:
            self._drain(time.monotonic() + 2.0)
            self.ex.resp_body = self.body
            self.closed = True

    # -- bytes ---------------------------------------------------------------------------

    def _recv(self, deadline: float) -> bool:
        left = deadline - time.monotonic()
        if left <= 0 or self.closed:
            return False
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            return False
        try:
            data = self.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.buf += data
        return True

    def _read_head(self, deadline: float) -> None:
        while b"\r\n\r\n" not in self.buf:
            if not self._recv(deadline):
                raise CaseFailure("no HTTP answer head to GET /events", actual=self.buf[:200])
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        self.status = int(parts[1])
        self.ex.status = self.status
        self.ex.reason = parts[2] if len(parts) > 2 else ""
        self.ex.resp_headers = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:] if ":" in l]
        self.chunked = "chunked" in (self.header("Transfer-Encoding") or "").lower()
        cl = self.header("Content-Length")
        self.length = int(cl) if (cl and not self.chunked) else None
        self._decode()

    def _decode(self) -> None:
        if not self.chunked:
            self.body += self.buf
            self.buf = b""
            return
        while True:
            if self.chunk_left == 0:
                if b"\r\n" not in self.buf:
                    return
                size_line, rest = self.buf.split(b"\r\n", 1)
                if size_line == b"":
                    self.buf = rest
                    continue
                try:
                    size = int(size_line.split(b";")[0], 16)
                except ValueError:
                    raise TargetViolation("bad chunk size in the event stream", actual=size_line[:50].decode("latin-1"))
                self.buf = rest
                if size == 0:
                    self.closed = True
                    return
                self.chunk_left = size
            take = self.buf[:self.chunk_left]
            self.body += take
            self.buf = self.buf[len(take):]
            self.chunk_left -= len(take)
            if self.chunk_left > 0:
                return

    def _drain(self, deadline: float) -> None:
        while not self.closed:
            if self.length is not None and len(self.body) >= self.length:
                return
            if not self._recv(deadline):
                return
            self._decode()

    def header(self, name: str) -> Optional[str]:
        return self.ex.header(name)

    def _readline(self, deadline: float) -> Optional[str]:
        while b"\n" not in self.body:
            if self.closed and not self.buf:
                return None
            if not self._recv(deadline):
                return None
            self._decode()
        raw, self.body = self.body.split(b"\n", 1)
        self.ex.resp_body += raw + b"\n"
        line = raw.decode("utf-8", "replace").rstrip("\r")
        self.lines.append(line)
        return line

    # -- events --------------------------------------------------------------------------

    def next_event(self, timeout: float) -> Optional[Event]:
        """The next event; comments (heartbeats) and retry: lines are collected on the way."""
        deadline = time.monotonic() + timeout
        while True:
            line = self._readline(deadline)
            if line is None:
                return None
            if line == "":
                if self._pending:
                    block, self._pending = self._pending, []
                    ev = self._parse(block)
                    if ev is not None:
                        return ev
                continue
            if line.startswith(":"):
                self.comments.append(line)
                self.comment_times.append(time.monotonic())
                continue
            self._pending.append(line)

    def _parse(self, block: List[str]) -> Optional[Event]:
        eid, etype, data = None, "message", []
        for line in block:
            field, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if field == "id":
                eid = value
            elif field == "event":
                etype = value
            elif field == "data":
                data.append(value)
            elif field == "retry":
                self.retry = value
        if not data and etype == "message" and eid is None:
            return None
        ev = Event(eid, etype, "\n".join(data), block)
        self.received.append(ev)
        self.validate(ev)
        return ev

    def validate(self, ev: Event) -> None:
        ndata = len([l for l in ev.raw if l.startswith("data")])
        if ndata != 1:
            raise TargetViolation("every event has exactly one data: line of JSON", req="ASSENT-EVT-003",
                                  actual=ev.raw)
        if ev.type == "shutdown":
            if ev.id is not None:
                raise TargetViolation("the shutdown event carries no id: field", req="ASSENT-EVT-011", actual=ev.raw)
        elif ev.id is None or not ev.id.isdigit():
            raise TargetViolation("every event but shutdown carries its decimal id in an id: field",
                                  req="ASSENT-EVT-002" if ev.type != "gap" else "ASSENT-EVT-006", actual=ev.raw)
        ref = self.spec.event_ref(ev.type)
        if ref is None:
            raise TargetViolation("unknown event type %r" % ev.type, req="ASSENT-EVT-003", actual=ev.raw)
        if ev.data is None:
            raise TargetViolation("event data is not JSON", req="ASSENT-EVT-003", actual=ev.data_text)
        probs = self.spec.problems(ref, ev.data)
        if probs:
            self.ex.notes.append("[ASSENT-EVT-003] %s data fails %s" % (ev.type, probs[0]))
            raise TargetViolation("%s data fails %s: %s" % (ev.type, ref, probs[0]), req="ASSENT-EVT-003",
                                  actual=ev.data)
        for tok in self.client.target.token_labels():
            if tok in ev.data_text:
                raise TargetViolation("an event carries a bearer token", req="ASSENT-EVT-004")

    def pump_until(self, pred: Callable[["SseStream"], bool], timeout: float) -> bool:
        """Read (events, comments, retry lines) until pred(self) holds or the time is up."""
        deadline = time.monotonic() + timeout
        while not pred(self):
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return pred(self)
            line = self._readline(min(deadline, time.monotonic() + 0.2))
            if line is None:
                continue
            if line == "":
                if self._pending:
                    block, self._pending = self._pending, []
                    self._parse(block)
            elif line.startswith(":"):
                self.comments.append(line)
                self.comment_times.append(time.monotonic())
            else:
                self._pending.append(line)
        return True

    def collect(self, timeout: float, until: Optional[Callable[[Event], bool]] = None) -> List[Event]:
        """Events arriving within `timeout` (or until one satisfies `until`)."""
        out: List[Event] = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            ev = self.next_event(left)
            if ev is None:
                return out
            out.append(ev)
            if until is not None and until(ev):
                return out

    def wait_for(self, pred: Callable[[Event], bool], timeout: float, what: str) -> Event:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            ev = self.next_event(left) if left > 0 else None
            if ev is None:
                raise CaseFailure("no %s on the event stream within %.1f s" % (what, timeout),
                                  actual=[(e.id, e.type) for e in self.received][-10:])
            if pred(ev):
                return ev

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    def __enter__(self) -> "SseStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
