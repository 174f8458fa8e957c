"""Helpers shared by the e2e tests of /events and /metrics: a daemon with a TCP listener,
a background reader of a child's output lines, and the events as stored in SQLite."""

import os
import shutil
import sqlite3
import subprocess
import threading
import time

DEMO_VALUE = b"e2e-events-V4lue"
CURL = shutil.which("curl")


def start_tcp_daemon(cli, port=0, unix=True):
    """Starts assentd with a TCP listener on 127.0.0.1:`port` (0: any free port), plus
    the config's Unix socket unless `unix` is false; returns "127.0.0.1:PORT"."""
    listen = ["--listen", f"tcp://127.0.0.1:{port}"]
    if unix:
        listen = ["--listen", f"unix:{cli.data_dir}/run/assentd.sock", *listen]
    info = cli.start_daemon(*listen, "--heartbeat-s", "1")
    return [l["address"] for l in info["listeners"] if l["transport"] == "tcp"][0]


def new_request(cli, secret="DEMO"):
    """An agent request through the Unix socket; returns its id (one request.created)."""
    return cli.json("request", secret, "--reason", "e2e events")["request"]["request_id"]


def stored_events(cli):
    """[(id, type)] of every event in the daemon's database, read-only, in id order."""
    db = sqlite3.connect(f"file:{cli.data_dir / 'assent.db'}?mode=ro", uri=True)
    try:
        return [(i, t) for i, t in db.execute("SELECT id, type FROM events ORDER BY id")]
    finally:
        db.close()


class LineReader:
    """Collects a child's stdout lines on a thread; `wait_for` polls them."""

    def __init__(self, stream, parse=lambda line: line):
        self.lines = []
        self._parse = parse
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            item = self._parse(raw.decode(errors="replace").rstrip("\n"))
            with self._cond:
                self.lines.append(item)
                self._cond.notify_all()

    def snapshot(self):
        with self._cond:
            return list(self.lines)

    def wait_for(self, predicate, timeout=15.0, what="a line"):
        """Waits until predicate(lines) is truthy and returns its value."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(self.lines)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}; "
                                         f"got {self.lines[-20:]}")
                self._cond.wait(left)


def curl_events(cli, tcp, *extra):
    """`curl -N` on /events with the approver token (given in a header file, not argv)."""
    assert CURL, "curl is not installed (scripts/setup.sh installs it)"
    headers = cli.home / "curl-headers"
    token = cli.approver_token_file.read_text().strip()
    headers.write_text(f"Authorization: Bearer {token}\nAssent-Api-Version: 1\n")
    os.chmod(headers, 0o600)
    proc = subprocess.Popen([CURL, "-sS", "-N", "-H", f"@{headers}", *extra,
                             f"http://{tcp}/events"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc, LineReader(proc.stdout)
