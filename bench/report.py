#!/usr/bin/python3
"""One performance report: every figure beside its target.

Usage: /usr/bin/python3 bench/report.py [--quick] [--build build] [--only SECTION ...]
Needs build/assentd (scripts/build.sh) and, for the fuzz figures, build-fuzz/ (scripts/build.sh --fuzz).
Prints: ping vs the bare cpp-httplib ceiling (bench/ping.sh), the approval round trip over
the Unix socket and TCP, RPC p99 with 64 SSE subscribers attached and events flowing,
event fan-out latency, idle RSS, cold start to ready, conformance run time and fuzz exec/s.
Figures measured on a busy 2-core machine vary; run it on an idle one for numbers to quote.
"""
import argparse
import base64
import gc
import glob
import hashlib
import json
import multiprocessing
import os
import re
import secrets
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import requests
from nacl.public import PrivateKey, SealedBox

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS = []


def row(name, value, target, ok):
    ROWS.append((name, value, target, "met" if ok else ("MISSED" if ok is not None else "-")))
    print("  %-44s %-22s target %-14s %s" % (name, value, target, ROWS[-1][3]), flush=True)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


class Daemon:
    def __init__(self, build, extra=()):
        self.dir = tempfile.mkdtemp(prefix="assent-bench-")
        self.tokens = {r: "bench-%s-%s" % (r, secrets.token_hex(16)) for r in ("admin", "approver", "agent")}
        with open(self.dir + "/tokens.json", "w") as f:
            json.dump({"version": 1, "tokens": [
                {"name": r, "role": r, "hash": "blake2b256:" + hashlib.blake2b(t.encode(), digest_size=32).hexdigest()}
                for r, t in self.tokens.items()]}, f)
        os.chmod(self.dir + "/tokens.json", 0o600)
        self.sock = self.dir + "/data/run/assentd.sock"
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [os.path.join(build, "assentd"), "--data-dir", self.dir + "/data", "--listen", "tcp://127.0.0.1:0",
             "--listen", "unix:" + self.sock, "--tokens-file", self.dir + "/tokens.json", "--log-level", "warn",
             *extra], stderr=subprocess.DEVNULL)
        disc = self.dir + "/data/assentd.json"
        while not os.path.exists(disc):
            if self.proc.poll() is not None:
                raise SystemExit("assentd exited early")
            time.sleep(0.001)
        self.ready_s = time.monotonic() - t0
        d = json.load(open(disc))
        self.addr = [l["address"] for l in d["listeners"] if l["transport"] == "tcp"][0]
        self.url = "http://%s/rpc" % self.addr

    def rss_kb(self):
        for line in open("/proc/%d/status" % self.proc.pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Rpc:
    """Keep-alive JSON-RPC client over TCP or the Unix socket (raw HTTP/1.1)."""

    def __init__(self, daemon, role, unix=False, client=None):
        self.daemon, self.unix = daemon, unix
        self.headers = {"Assent-Api-Version": "1", "Content-Type": "application/json",
                        "Authorization": "Bearer " + daemon.tokens[role]}
        if client:
            self.headers.update({"Assent-Client-Id": client[0], "Assent-Client-Key": client[1]})
        self.conn = None

    def _connect(self):
        if self.unix:
            s = socket.socket(socket.AF_UNIX)
            s.connect(self.daemon.sock)
        else:
            host, port = self.daemon.addr.rsplit(":", 1)
            s = socket.create_connection((host, int(port)))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = s
        self.buf = b""

    def _recv(self):
        data = self.conn.recv(65536)
        if not data:
            raise ConnectionError("assentd closed the connection")
        return data

    def call(self, method, params):
        reused = self.conn is not None
        if self.conn is None:
            self._connect()
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": 1}).encode()
        head = "POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n" % len(body)
        head += "".join("%s: %s\r\n" % kv for kv in self.headers.items()) + "\r\n"
        try:
            self.conn.sendall(head.encode() + body)
            while b"\r\n\r\n" not in self.buf:
                self.buf += self._recv()
        except (ConnectionError, OSError):
            if not reused or self.buf:
                raise
            # The server closed the idle keep-alive connection before reading this
            # request (kKeepAliveIdleSeconds): send it again on a new one, as HTTP
            # clients do.
            self.conn.close()
            self.conn = None
            return self.call(method, params)
        header, rest = self.buf.split(b"\r\n\r\n", 1)
        n = int(re.search(rb"(?i)content-length: *(\d+)", header).group(1))
        while len(rest) < n:
            rest += self._recv()
        self.buf = rest[n:]
        if re.search(rb"(?im)^connection: *close", header):
            # The server ends the connection after a number of requests; reconnect at
            # the next call, as any HTTP/1.1 client does.
            self.conn.close()
            self.conn = None
        return json.loads(rest[:n])


def bench_ping(args):
    print("ping vs bare cpp-httplib (bench/ping.sh)", flush=True)
    out = subprocess.run(["bash", os.path.join(ROOT, "bench/ping.sh"), "3" if args.quick else "10"],
                         capture_output=True, text=True).stdout
    for m in re.finditer(r"summary c=(\d+): assentd/bare = ([0-9.]+), assentd p99 = ([0-9.]+) ms, starved connections = (\d+)", out):
        c, ratio, p99, starved = m.groups()
        row("ping c=%s assentd/bare" % c, ratio, ">= 0.9", float(ratio) >= 0.9 if c == "32" else None)
        row("ping c=%s p99" % c, p99 + " ms", "<= 3 ms", float(p99) <= 3 if c == "32" else None)
        row("ping c=%s starved connections" % c, starved, "0", int(starved) == 0)


def round_trip(d, unix, n):
    admin, approver = Rpc(d, "admin", unix), Rpc(d, "approver", unix)
    agent0 = Rpc(d, "agent", unix)
    hello = agent0.call("client.hello", {"kind": "agent", "name": "bench"})["result"]
    agent = Rpc(d, "agent", unix, (hello["client_id"], hello["client_key"]))
    admin.call("secret.put", {"name": "BENCH", "value": "v" * 32})
    key = PrivateKey.generate()
    pub = base64.b64encode(bytes(key.public_key)).decode()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        rid = agent.call("access.request", {"secrets": ["BENCH"], "reason": "bench"})["result"]["request"]["request_id"]
        gid = approver.call("access.decide", {"request_id": rid, "decision": "approve"})["result"]["grant"]["grant_id"]
        sealed = agent.call("secret.reveal", {"grant_id": gid, "name": "BENCH", "recipient_key": pub})["result"]["sealed_value"]
        times.append((time.perf_counter() - t0) * 1000)
        assert SealedBox(key).decrypt(base64.b64decode(sealed)) == b"v" * 32
    return times


def bench_round_trip(args, build):
    print("approval round trip: request → decide → reveal", flush=True)
    d = Daemon(build)
    try:
        for unix in (True, False):
            t = round_trip(d, unix, 100 if args.quick else 300)
            name = "unix" if unix else "tcp"
            row("round trip %s p50" % name, "%.2f ms" % statistics.median(t), "<= 5 ms", statistics.median(t) <= 5)
            row("round trip %s p99 / ops/s" % name, "%.2f ms / %.0f" % (pct(t, 99), 1000 / statistics.mean(t)), "-", None)
    finally:
        d.stop()


def subscribers(addr, token, count, ready, conn):
    """Holds `count` event streams with one thread; sends back {event id: [arrival times]}."""
    host, port = addr.rsplit(":", 1)
    sel = selectors.DefaultSelector()
    bufs = {}
    for _ in range(count):
        s = socket.create_connection((host, int(port)))
        s.sendall(("GET /events HTTP/1.1\r\nHost: x\r\nAssent-Api-Version: 1\r\nAuthorization: Bearer %s\r\n\r\n"
                   % token).encode())
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        bufs[s] = b""
    sel.register(conn, selectors.EVENT_READ)
    ready.set()
    arrivals = {}
    while True:
        for key, _ in sel.select(timeout=0.5):
            if key.fileobj is conn:
                conn.recv()
                conn.send(arrivals)
                return
            s = key.fileobj
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            if not chunk:
                sel.unregister(s)
                continue
            now = time.perf_counter()
            buf = bufs[s] + chunk
            for m in re.finditer(rb"id: (\d+)\n", buf):
                arrivals.setdefault(int(m.group(1)), []).append(now)
            bufs[s] = buf[buf.rfind(b"\n") + 1:]


def bench_sse(args, build):
    """RPC p99 with and without 64 subscribers, in the same loop with events flowing.

    The loop: system.ping, and after every 10th ping an access.request and its
    access.cancel (two events). Rounds alternate, A-B-B-A, between no subscriber and 64
    subscribers (attached for the round, in a process of their own), so that drift of the
    machine falls on both sides; the p99 of each side is taken over all its rounds. For
    reference: a ping-only run, and the loop on the fresh daemon before any subscriber.
    Delivery latency is measured per event and subscriber from the start of the RPC that
    committed it (an upper bound) to its arrival.
    """
    print("SSE: 64 subscribers, RPC p99 and event delivery latency", flush=True)
    d = Daemon(build)
    try:
        rpc = Rpc(d, "admin")
        hello = Rpc(d, "agent").call("client.hello", {"kind": "agent", "name": "b"})["result"]
        agent = Rpc(d, "agent", client=(hello["client_id"], hello["client_key"]))
        rpc.call("secret.put", {"name": "S", "value": "x"})
        n = 1000 if args.quick else 3000
        rounds = args.sse_rounds or (2 if args.quick else 6)

        def loop(events):
            # Python's collector would pause the client at random (more so as the report's
            # own data grows): off while measuring.
            gc.collect()
            gc.disable()
            lat, starts = [], []
            for i in range(n):
                t0 = time.perf_counter()
                rpc.call("system.ping", {})
                lat.append((time.perf_counter() - t0) * 1000)
                if events and i % 10 == 0:
                    starts.append(time.perf_counter())
                    r = agent.call("access.request", {"secrets": ["S"], "reason": "b"})
                    starts.append(time.perf_counter())
                    agent.call("access.cancel", {"request_id": r["result"]["request"]["request_id"]})
            gc.enable()
            return lat, starts

        loop(True)  # warm-up
        ping_only = pct(loop(False)[0], 99)
        fresh = pct(loop(True)[0], 99)
        base, subs, delays = [], [], []
        delivered = committed = full = 0
        ctx = multiprocessing.get_context("fork")

        def with_subscribers():
            nonlocal delivered, committed, full, delays
            # The subscribers share one thread in a process of their own: sharing the GIL
            # with the RPC client would measure Python, not assentd.
            ready = ctx.Event()
            parent_end, child_end = ctx.Pipe()
            sub = ctx.Process(target=subscribers, args=(d.addr, d.tokens["approver"], 64, ready, child_end),
                              daemon=True)
            sub.start()
            ready.wait(10)
            time.sleep(0.5)  # let 64 streams attach (checked below: every event reached all 64)
            lat, starts = loop(True)
            time.sleep(0.5)
            parent_end.send("stop")
            arrivals = parent_end.recv()
            sub.join(5)
            # The round's events, in commit order, are the ids seen, in order: the k-th
            # was committed by the k-th request/cancel call.
            ids = sorted(arrivals)
            committed += len(starts)
            delivered += len(ids)
            full += sum(1 for v in arrivals.values() if len(v) == 64)
            if len(ids) == len(starts):
                delays += [(t - starts[k]) * 1000 for k, eid in enumerate(ids) for t in arrivals[eid]]
            time.sleep(1.0)  # the streams close and the daemon settles
            return lat

        # Rounds in A-B-B-A order, so that neither side always follows the other.
        for i in range(rounds):
            if i % 2 == 0:
                base += loop(True)[0]
                subs += with_subscribers()
            else:
                subs += with_subscribers()
                base += loop(True)[0]
        p_base, p_subs = pct(base, 99), pct(subs, 99)
        row("RPC p99, ping only, no subscribers", "%.3f ms" % ping_only, "-", None)
        row("RPC p99, events flowing, fresh daemon", "%.3f ms" % fresh, "-", None)
        row("RPC p99, events flowing, no subscribers", "%.3f ms" % p_base, "-", None)
        row("RPC p99, events flowing, 64 subscribers", "%.3f ms (%+.0f %%)" % (p_subs, 100 * (p_subs / p_base - 1)),
            "<= +20 %", p_subs <= p_base * 1.2)
        row("events delivered to all 64", "%d of %d (%d committed)" % (full, delivered, committed), "all",
            full == delivered == committed)
        if delays:
            row("delivery latency p99 (64 subscribers)", "%.2f ms" % pct(delays, 99), "<= 50 ms",
                pct(delays, 99) <= 50)
    finally:
        d.stop()


def bench_start_rss(build):
    print("start-up and memory", flush=True)
    starts, rss = [], []
    for _ in range(5):
        d = Daemon(build)
        starts.append(d.ready_s * 1000)
        time.sleep(0.3)
        rss.append(d.rss_kb() / 1024)
        d.stop()
    row("cold start to ready (median of 5)", "%.1f ms" % statistics.median(starts), "<= 100 ms", statistics.median(starts) <= 100)
    row("idle RSS", "%.1f MB" % statistics.median(rss), "<= 15 MB", statistics.median(rss) <= 15)


def bench_conformance(build):
    print("conformance run time", flush=True)
    t0 = time.monotonic()
    rc = subprocess.run(["bash", os.path.join(ROOT, "conformance/run-reference.sh"), build],
                        capture_output=True, text=True,
                        env=dict(os.environ, CONFORMANCE_REPORT_DIR=tempfile.mkdtemp())).returncode
    s = time.monotonic() - t0
    row("full conformance run (rc=%d)" % rc, "%.1f s" % s, "<= 60 s", s <= 60 and rc == 0)


def bench_fuzz(args):
    print("fuzz exec/s (fuzz/run.sh, %d s each)" % (5 if args.quick else 20), flush=True)
    for f in sorted(glob.glob(os.path.join(ROOT, "fuzz/*_fuzz.cc"))):
        h = os.path.basename(f)[:-len("_fuzz.cc")]
        if not os.path.exists(os.path.join(ROOT, "build-fuzz", h + "_fuzz")):
            row("fuzz %s" % h, "not built", "-", None)
            continue
        out = subprocess.run(["bash", os.path.join(ROOT, "fuzz/run.sh"), h, "5" if args.quick else "20"],
                             capture_output=True, text=True).stdout
        m = re.search(r"average_exec_per_sec:\s*(\d+)", out)
        row("fuzz %s exec/s" % h, m.group(1) if m else "?", "-", None)


def main():
    sections = {
        "ping": lambda a, b: bench_ping(a),
        "round-trip": bench_round_trip,
        "sse": bench_sse,
        "start-rss": lambda a, b: bench_start_rss(b),
        "conformance": lambda a, b: bench_conformance(b),
        "fuzz": lambda a, b: bench_fuzz(a),
    }
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="shorter runs")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--sse-rounds", type=int, default=0, metavar="N",
                    help="SSE section: rounds a side (default 6; 2 with --quick)")
    ap.add_argument("--only", action="append", choices=sorted(sections), metavar="SECTION",
                    help="run only this section (repeatable): " + ", ".join(sections))
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    if not os.path.exists(os.path.join(build, "assentd")):
        raise SystemExit("%s/assentd is missing: build it first (scripts/build.sh)" % build)
    print("Assent performance report (load average %.1f on %d cores)" % (os.getloadavg()[0], os.cpu_count()))
    for name, run in sections.items():
        if not args.only or name in args.only:
            run(args, build)
    missed = [r for r in ROWS if r[3] == "MISSED"]
    print("\n%d figures, %d targets met, %d missed" % (len(ROWS), sum(r[3] == "met" for r in ROWS), len(missed)))


if __name__ == "__main__":
    main()
