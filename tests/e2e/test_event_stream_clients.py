"""End-to-end: assentd's event stream (GET /events) with the clients people use — `curl
-N`, and a standard EventSource (the npm `eventsource` package, v4, driven by
eventsource_client.mjs) including its own reconnect with Last-Event-ID across a daemon
restart (issue 4; ASSENT-EVT-005, ASSENT-EVT-014).

Events come from agent requests made with the CLI on the Unix socket; the streams read
them over TCP with the approver token (approvers see every event). What a client
received is compared with the events table of the database, read directly.
"""

import json
import shutil
import statistics
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, require_domain_methods
from sse_helpers import (DEMO_VALUE, LineReader, curl_events, new_request, start_tcp_daemon,
                         stored_events)

NODE = shutil.which("node")
CLIENT = Path(__file__).with_name("eventsource_client.mjs")
EVENTSOURCE = REPO / "scripts" / "node_modules" / "eventsource" / "package.json"


def setup_daemon(cli, port=0):
    cli.init()
    tcp = start_tcp_daemon(cli, port)
    require_domain_methods(cli)
    cli.add_secret("DEMO", DEMO_VALUE)
    return tcp


def create_and_cancel(cli):
    """Two events: request.created, request.cancelled. Returns the request id."""
    request_id = new_request(cli)
    cli.run("cancel", request_id, check=0)
    return request_id


# ---- EventSource (npm `eventsource`) -------------------------------------------------------

@pytest.fixture
def eventsource():
    """Starts eventsource_client.mjs on a URL; stopped (stdin closed, then killed) at the end."""
    assert NODE, "node is not installed (scripts/setup.sh installs it)"
    assert EVENTSOURCE.is_file(), "scripts/node_modules lacks eventsource: run scripts/setup.sh"
    procs = []

    def start(url, token_file):
        proc = subprocess.Popen([NODE, str(CLIENT), url, str(token_file)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(proc)
        return LineReader(proc.stdout, json.loads)

    yield start
    for proc in procs:
        try:
            proc.stdin.close()
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def events_of(lines):
    """(id, type) of each event with an id the client received, in order."""
    return [(int(l["id"]), l["type"]) for l in lines if l["kind"] == "event" and l["id"]]


def received_request(lines, type_, request_id):
    return any(l["kind"] == "event" and l["type"] == type_
               and l["data"].get("request_id") == request_id for l in lines)


def test_eventsource_receives_each_event_as_it_is_created(cli, eventsource):
    tcp = setup_daemon(cli)
    client = eventsource(f"http://{tcp}/events", cli.approver_token_file)
    client.wait_for(lambda ls: any(l["kind"] == "open" for l in ls), what="the stream to open")
    for _ in range(3):
        # Each event arrives before the next is made: delivered live, not replayed later.
        request_id = new_request(cli)
        client.wait_for(lambda ls: received_request(ls, "request.created", request_id),
                        what=f"request.created of {request_id}")
        cli.run("cancel", request_id, check=0)
        client.wait_for(lambda ls: received_request(ls, "request.cancelled", request_id),
                        what=f"request.cancelled of {request_id}")
    lines = client.snapshot()
    # Opened live (no Last-Event-ID), once, and saw exactly what the database holds.
    assert [l["last_event_id"] for l in lines if l["kind"] == "connect"] == [None]
    assert events_of(lines) == stored_events(cli)
    assert len(events_of(lines)) == 6


def test_eventsource_reconnects_by_itself_with_last_event_id_across_a_restart(cli, eventsource):
    tcp = setup_daemon(cli)
    port = int(tcp.rsplit(":", 1)[1])
    client = eventsource(f"http://{tcp}/events", cli.approver_token_file)
    client.wait_for(lambda ls: any(l["kind"] == "open" for l in ls), what="the stream to open")
    before = create_and_cancel(cli)
    client.wait_for(lambda ls: received_request(ls, "request.cancelled", before),
                    what="the events made before the restart")
    last_before_drop = events_of(client.snapshot())[-1][0]

    # The daemon goes away: the stream ends with `shutdown`, the client keeps retrying.
    cli.run("daemon", "stop", check=0)
    client.wait_for(lambda ls: any(l["kind"] == "event" and l["type"] == "shutdown" for l in ls),
                    what="the shutdown event")
    # Events happen while the client cannot connect (the daemon serves only its Unix
    # socket for a while), so they can reach it only through the replay it asks for.
    cli.start_daemon()
    during = [create_and_cancel(cli) for _ in range(2)]
    client.wait_for(lambda ls: sum(l["kind"] == "connect" for l in ls) >= 3,
                    what="two reconnect attempts while the TCP listener is down")
    cli.run("daemon", "stop", check=0)
    # Back on the same TCP port; more events while the client finds its way back.
    start_tcp_daemon(cli, port)
    after = create_and_cancel(cli)
    client.wait_for(lambda ls: received_request(ls, "request.cancelled", after),
                    timeout=20, what="the events made after the restart")

    lines = client.snapshot()
    stored = stored_events(cli)
    # No duplicate and no hole: exactly the database's events, in order, across the drop.
    assert events_of(lines) == stored
    for request_id in during:
        assert received_request(lines, "request.created", request_id)
    # Every reconnect asked to resume after the last event seen before the drop.
    connects = [l for l in lines if l["kind"] == "connect"]
    assert connects[0]["last_event_id"] is None
    assert len(connects) >= 3
    assert {c["last_event_id"] for c in connects[1:]} == {str(last_before_drop)}
    # The delay comes from the stream's `retry: 1000` (the package's default is 3 s).
    delays = []
    for i, line in enumerate(lines):
        if line["kind"] == "error":
            nxt = next((l for l in lines[i + 1:] if l["kind"] == "connect"), None)
            if nxt:
                delays.append((nxt["t"] - line["t"]) / 1000)
    assert delays, lines
    assert min(delays) >= 0.9, delays
    assert statistics.median(delays) < 2.0, delays


# ---- curl -N --------------------------------------------------------------------------------

def sse_events(lines):
    """[(id or None, type, data)] parsed from raw SSE lines."""
    out, current = [], {}
    for line in lines:
        if line == "":
            if "event" in current:
                out.append((current.get("id"), current["event"], json.loads(current["data"])))
            current = {}
        elif not line.startswith(":") and ": " in line:
            key, value = line.split(": ", 1)
            current[key] = value
    return out


def test_curl_n_streams_events_heartbeats_and_ends_cleanly_on_shutdown(cli):
    tcp = setup_daemon(cli)
    head = cli.home / "events-response-head"
    proc, out = curl_events(cli, tcp, "-D", str(head))
    try:
        out.wait_for(lambda ls: "retry: 1000" in ls, what="the stream's retry line")
        # The connection ends with the stream, and the answer says so (no client pools it).
        fields = head.read_text().lower()
        assert "content-type: text/event-stream" in fields, fields
        assert "connection: close" in fields, fields
        assert "transfer-encoding: chunked" in fields, fields
        request_id = new_request(cli)
        events = out.wait_for(lambda ls: [e for e in sse_events(ls)
                                          if e[1] == "request.created"],
                              what="request.created")
        event_id, _, data = events[0]
        assert data["request_id"] == request_id
        assert [(int(event_id), "request.created")] == stored_events(cli)
        out.wait_for(lambda ls: ": heartbeat" in ls, timeout=5, what="a heartbeat comment")

        # Resuming with Last-Event-ID replays from the next id: here, the same event.
        replay, replay_out = curl_events(cli, tcp, "-H", f"Last-Event-ID: {int(event_id) - 1}")
        try:
            replayed = replay_out.wait_for(lambda ls: sse_events(ls), what="the replay")
            assert replayed[0] == events[0]
        finally:
            replay.kill()
            replay.wait()

        # SIGTERM: a `shutdown` event, then the server closes and curl exits 0 by itself.
        cli.run("daemon", "stop", check=0)
        assert proc.wait(timeout=10) == 0, proc.stderr.read()
        assert sse_events(out.snapshot())[-1][:2] == (None, "shutdown")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
