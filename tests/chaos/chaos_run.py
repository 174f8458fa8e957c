"""One crash-chaos run: client workers doing request / decide / reveal cycles against
assentd, a main thread that SIGKILLs the daemon at random points, checks the store while it
is down, restarts it on the same data directory and checks again through RPC and SSE.

The seed fixes every random choice (plans, secrets, kill spacing, kill delays, start-up
kills); the interleaving of the worker threads is up to the OS, so a failure found with
a seed may need a few runs, or ASSENT_CHAOS_WORKERS=1, to show again.
"""

import calendar
import json
import os
import random
import re
import secrets as pysecrets
import shlex
import shutil
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import requests

from chaos_harness import (CHANNEL, DISCORD_USER, EXPIRED, FORBIDDEN, INTERNAL, INVALID_STATE,
                           REPO, Aborted, Answer, DaemonDied, DaemonProcess, Findings, Gate,
                           Ledger, ProtocolViolation, Req, RpcClient, Unknown, check_stopped,
                           new_recipient, open_db_readonly, open_sealed, token_hash)

import sys
sys.path.insert(0, str(REPO / "tools" / "mock-discord"))
from mockctl import MockDiscordProcess, MockError  # noqa: E402

# Secrets and their policies: one use, two uses, and a quorum of two approvers.
SECRETS = {
    "CHAOS_ONE": {"uses_per_grant": 1},
    "CHAOS_TWO": {"uses_per_grant": 2},
    "CHAOS_QUORUM": {"uses_per_grant": 1, "approvals_required": 2},
}
SECRET_SETS = [["CHAOS_ONE"], ["CHAOS_TWO"], ["CHAOS_ONE", "CHAOS_TWO"], ["CHAOS_QUORUM"]]
# What a cycle does after its request, with weights.
PLANS = [("reveal", 40), ("discord", 10), ("revoke", 12), ("deny", 12), ("cancel", 10),
         ("expire", 8), ("quorum_deny", 8), ("timeout", 5)]
APPROVERS = ("approver-1", "approver-2")
RID = re.compile(r"rq_[0-9a-f]{32}")


@dataclass
class Settings:
    seed: int
    cycles: int = 1000
    workers: int = 4
    kill_every_min: int = 20
    kill_every_max: int = 50
    startup_kill_p: float = 0.1
    shutdown_kill_p: float = 0.05
    discord_fault_p: float = 0.15
    keep: bool = False

    @staticmethod
    def from_env(seed: int, cycles: Optional[int] = None) -> "Settings":
        env = os.environ
        return Settings(
            seed=seed,
            cycles=cycles if cycles is not None else int(env.get("ASSENT_CHAOS_CYCLES", "1000")),
            workers=int(env.get("ASSENT_CHAOS_WORKERS", "4")),
            kill_every_min=int(env.get("ASSENT_CHAOS_KILL_MIN", "20")),
            kill_every_max=int(env.get("ASSENT_CHAOS_KILL_MAX", "50")),
            keep=env.get("ASSENT_CHAOS_KEEP") == "1",
        )


@dataclass
class Report:
    settings: Settings
    findings: Findings
    discord: bool = False
    discord_reason: str = ""
    kills: int = 0
    startup_kills: int = 0
    shutdown_kills: int = 0
    unknown_outcomes: int = 0
    ops: int = 0
    cycles_done: int = 0
    requests_in_store: int = 0
    grants_in_store: int = 0
    events: int = 0
    audit_entries: int = 0
    discord_messages: int = 0
    discord_clicks: int = 0
    discord_clicks_lost: int = 0
    discord_faults: int = 0
    discord_nonce_hits: int = 0
    duration_s: float = 0.0
    home: Optional[str] = None
    plans: Dict[str, int] = field(default_factory=dict)
    timings: Dict[str, float] = field(default_factory=dict)
    skip_reason: Optional[str] = None

    def timed(self, what: str, since: float) -> None:
        self.timings[what] = self.timings.get(what, 0.0) + time.monotonic() - since

    def summary(self) -> str:
        s = self.settings
        discord = (f"discord on: {self.discord_messages} messages, {self.discord_clicks} "
                   f"approvals by click ({self.discord_clicks_lost} clicks lost to a kill), "
                   f"{self.discord_nonce_hits} re-sent posts answered by "
                   f"nonce, {self.discord_faults} Discord faults injected"
                   if self.discord else "discord off")
        return (f"seed {s.seed}: {self.cycles_done}/{s.cycles} cycles, {self.ops} calls, "
                f"{self.kills} SIGKILLs ({self.startup_kills} during start-up, "
                f"{self.shutdown_kills} during a SIGTERM shutdown), "
                f"{self.unknown_outcomes} calls with unknown outcome, "
                f"{self.requests_in_store} requests, {self.grants_in_store} grants, "
                f"{self.events} events, {self.audit_entries} audit entries, "
                f"{discord}, {self.duration_s:.1f} s")


class NotServing(Exception):
    """The daemon cannot run cycles at all (an old build): the tests skip, saying why."""


class Run:
    def __init__(self, binary: Path, settings: Settings):
        self.binary = binary
        self.s = settings
        self.rng = random.Random(settings.seed)
        self.findings = Findings()
        self.report = Report(settings, self.findings)
        self.gate = Gate()
        self.ledger = Ledger()
        self.tokens = {name: "tok_" + pysecrets.token_urlsafe(24)
                       for name in ("admin-1", "approver-1", "approver-2", "agent-1")}
        self.values = {name: f"value-of-{name}-{pysecrets.token_hex(8)}" for name in SECRETS}
        self.cycle_lock = threading.Lock()
        self.next_n = 0
        self.unknown_lock = threading.Lock()
        self.sse_events: List[tuple] = []   # (id, type, data) in the order streamed
        self.sse_checked = 0
        self.sse: Optional["SseReader"] = None
        self.audit_marks: Dict[int, str] = {}
        self.daemon: Optional[DaemonProcess] = None
        self.mock: Optional[MockDiscordProcess] = None
        self.home: Optional[Path] = None
        self.identities: List[dict] = []
        self.clients: Dict[tuple, RpcClient] = {}
        self.discord_index: Optional["DiscordIndex"] = None

    # ---- plumbing ----------------------------------------------------------------------

    def client(self, name: str, identity: Optional[dict] = None, owner: str = "main") -> RpcClient:
        """One client per (token, identity), kept so that every keep-alive connection can
        be closed before a SIGTERM (an idle keep-alive connection holds a server thread)."""
        key = (name, identity["client_id"] if identity else None, owner)
        with self.cycle_lock:
            c = self.clients.get(key)
            if c is None:
                c = self.clients[key] = RpcClient(self.tokens[name], identity)
            return c

    def close_clients(self):
        with self.cycle_lock:
            for c in self.clients.values():
                c.close()

    def direct(self, client: RpcClient, method: str, params: Optional[dict] = None) -> Answer:
        """A call by the main thread, the daemon known to be up."""
        try:
            a = client.call(self.daemon.url, method, params)
        except Unknown as e:
            raise DaemonDied(f"{method}: connection lost while the daemon should be up: {e}")
        if a.code == INTERNAL:
            self.findings.add("daemon", f"{method} {params}: -32603 {a.error}")
        return a

    def note_unknown(self):
        with self.unknown_lock:
            self.report.unknown_outcomes += 1

    def take_cycle(self) -> Optional[int]:
        with self.cycle_lock:
            if self.next_n >= self.s.cycles or self.findings.any():
                return None
            self.next_n += 1
            return self.next_n

    # ---- the run -----------------------------------------------------------------------

    def run(self) -> Report:
        started = time.monotonic()
        self.home = Path(tempfile.mkdtemp(prefix="assent-chaos-", dir="/tmp"))
        self.report.home = str(self.home)
        workers: List[Worker] = []
        try:
            self._setup()
            if self.report.discord:
                self.discord_index = DiscordIndex(self)
                self.discord_index.start()
            workers = [Worker(self, i) for i in range(self.s.workers)]
            self._start_sse(0)
            self.gate.open(self.daemon.url)
            for w in workers:
                w.start()
            self._chaos_loop(workers)
            if self.findings.any():
                self.gate.abort()
                if self.discord_index:
                    self.discord_index.stop()
            for w in workers:
                w.join(60)
                if w.is_alive():
                    self.findings.add("daemon", f"worker {w.idx} still busy after the run")
            if not self.findings.any():
                t0 = time.monotonic()
                self._final()
                self.report.timed("final checks", t0)
        except NotServing as e:
            self.report.skip_reason = str(e)
        except DaemonDied as e:
            self.findings.add("daemon", str(e))
        except Exception:
            self.findings.add("daemon", "harness error:\n" + traceback.format_exc())
        finally:
            self.gate.abort()
            for w in workers:
                w.join(10)
            if self.sse:
                self.sse.stop()
            if self.discord_index:
                self.discord_index.stop()
            if self.daemon:
                self.daemon.kill()
            if self.mock:
                self.mock.stop()
                self.mock_log.close()
            self.report.ops = self.gate.ops
            self.report.cycles_done = sum(1 for r in self.ledger.snapshot() if r.done)
            self.report.duration_s = time.monotonic() - started
            if self.findings.any() or self.s.keep:
                self.report.home = str(self.home)  # kept for a post-mortem
            else:
                shutil.rmtree(self.home, ignore_errors=True)
                self.report.home = None
        return self.report

    def _setup(self):
        home = self.home
        entries = [{"name": name, "role": name.split("-")[0], "hash": token_hash(tok)}
                   for name, tok in self.tokens.items()]
        tokens_file = home / "tokens.json"
        tokens_file.write_text(json.dumps({"version": 1, "tokens": entries}))
        os.chmod(tokens_file, 0o600)
        self.mock_log = open(home / "mock-discord.log", "ab")
        # Discord's own nonce window (the mock's default, 5 min) is kept: a post re-sent
        # after a restart must come within it, as it must with Discord.
        self.mock = MockDiscordProcess(stderr=self.mock_log).start()
        bot_token_file = home / "bot.token"
        bot_token_file.write_text(self.mock.bot_token + "\n")
        os.chmod(bot_token_file, 0o600)
        args = ["--listen", "tcp://127.0.0.1:0", "--tokens-file", str(tokens_file),
                "--validate-responses", "--heartbeat-s", "2",
                "--discord-api-base", self.mock.base_url,
                "--discord-public-key", self.mock.public_key,
                "--discord-bot-token-file", str(bot_token_file),
                "--discord-channel-id", CHANNEL, "--discord-allow-user", DISCORD_USER,
                "--discord-mode", "interactions",
                *shlex.split(os.environ.get("ASSENT_CHAOS_DAEMON_ARGS", ""))]
        self.daemon = DaemonProcess(self.binary, home, args)
        self.daemon.start()
        admin = self.client("admin-1")
        info = self.direct(admin, "system.info")
        if not info.ok:
            raise DaemonDied(f"system.info: {info.error}")
        profiles = info.result.get("profiles", [])
        self.report.discord = "discord" in profiles
        if not self.report.discord:
            self.report.discord_reason = (
                f"assentd started with the --discord-* flags reports profiles {profiles} "
                "without 'discord' and posts nothing: src/daemon/daemon.cc does not wire the "
                "Discord approver yet (docs/discord.md, 'Wiring in assentd')")
        else:
            self.mock.set_interactions_url(self.daemon.url + "/discord/interactions")
        for name, extra in SECRETS.items():
            policy = {"ttl_s_default": 3600, "ttl_s_max": 86400, **extra}
            a = self.direct(admin, "secret.put", {"name": name, "value": self.values[name],
                                                  "policy": policy})
            if a.code == -32008:
                raise NotServing("this assentd answers -32008 not_implemented for secret.put: "
                                 "it does not serve the domain methods")
            if not a.ok:
                raise DaemonDied(f"secret.put {name}: {a.error}")
        for i in range(self.s.workers):
            a = self.direct(self.client("agent-1"), "client.hello",
                            {"kind": "agent", "name": f"chaos-agent-{i}"})
            if not a.ok:
                raise DaemonDied(f"client.hello: {a.error}")
            self.identities.append({"client_id": a.result["client_id"],
                                    "client_key": a.result["client_key"]})

    def _chaos_loop(self, workers):
        alive = lambda: any(w.is_alive() for w in workers)  # noqa: E731
        while alive() and not self.findings.any():
            target = self.gate.ops + self.rng.randint(self.s.kill_every_min, self.s.kill_every_max)
            self.gate.wait_for(lambda: self.gate.ops >= target or not alive(), 120)
            if not alive() or self.findings.any():
                break
            if self.gate.ops < target:
                self.findings.add("daemon", f"no progress for 120 s (ops {self.gate.ops})")
                break
            time.sleep(self.rng.uniform(0, 0.004))  # land inside a call more often than not
            self.gate.close()
            t0 = time.monotonic()
            if self.rng.random() < self.s.shutdown_kill_p:
                rc = self.daemon.term_then_kill(self.rng.uniform(0.0, 0.05))
                if rc is None:
                    self.report.shutdown_kills += 1
                elif rc != 0:
                    self.findings.add("daemon", f"SIGTERM: exit status {rc} (expected 0)")
            else:
                self.daemon.kill()
            self.report.kills += 1
            self.findings.context = f"after kill {self.report.kills}"
            quiet = self.gate.wait_for(lambda: self.gate.inflight == 0, 60)
            self.report.timed("kill and quiesce", t0)
            if not quiet:
                self.findings.add("daemon", "client calls still in flight 60 s after the kill")
                break
            self._restart()

    def _stopped_checks(self):
        if self.sse:
            self.sse.join_dead(10)
        st = check_stopped(self.daemon.db_path, self.ledger, self.findings, self.sse_events,
                           self.sse_checked, self.audit_marks, self.report.discord)
        self.sse_checked = len(self.sse_events)
        return st

    def _restart(self):
        t0 = time.monotonic()
        st = self._stopped_checks()
        self.report.timed("stopped checks", t0)
        if self.findings.any():
            return
        if self.rng.random() < self.s.startup_kill_p:
            self.daemon.start_and_kill_early(self.rng.uniform(0.0, 0.03))
            self.report.kills += 1
            self.report.startup_kills += 1
            st = self._stopped_checks()
        t0 = time.monotonic()
        self.daemon.start()
        self.report.timed("restarts", t0)
        if self.report.discord:
            self.mock.set_interactions_url(self.daemon.url + "/discord/interactions")
            if self.rng.random() < self.s.discord_fault_p:
                # Discord misbehaves too: a post or edit that lands but whose answer is
                # lost (the nonce must prevent a second post), a 500, a short 429.
                route = self.rng.choice(["create_message", "update_message"])
                rule = self.rng.choice([{"kind": "drop", "commit": True}, {"kind": "500"},
                                        {"kind": "429", "retry_after_s": 0.2}])
                self.mock.faults({"route": route, "count": 1, **rule})
                self.report.discord_faults += 1
        t0 = time.monotonic()
        self._running_checks(st)
        self.report.timed("running checks", t0)
        last = self.sse_events[-1][0] if self.sse_events else 0
        self._start_sse(last)
        self.gate.open(self.daemon.url)

    def _start_sse(self, since: int):
        self.sse = SseReader(self, self.daemon.url, since)
        self.sse.start()

    # ---- checks through the API after a restart ------------------------------------------

    def _running_checks(self, st):
        admin = self.client("admin-1")
        t0 = time.monotonic()
        v = self.direct(admin, "audit.verify")
        self.report.timed("audit.verify after restarts", t0)
        if not v.ok:
            self.findings.add("audit", f"audit.verify: {v.error}")
        else:
            r = v.result
            if not r["ok"] or r["first_bad_seq"] is not None:
                self.findings.add("audit", f"audit.verify after restart: {r}")
            if r["entries"] < st.audit_count:
                self.findings.add("audit", f"audit.verify counts {r['entries']} entries, "
                                  f"the store held {st.audit_count} before the restart")
        reqs = [r for r in self.ledger.snapshot() if r.request_id]
        # A grant seen ended stays ended, also through the API: reveal → -32004.
        ended = [r for r in reqs if r.grant_end_seen]
        for r in self.rng.sample(ended, min(4, len(ended))):
            self._probe_ended_grant(r)
        # Idempotency: the same client_request_id and content give back the same request.
        acked = [r for r in reqs if r.create_acked]
        for r in self.rng.sample(acked, min(3, len(acked))):
            agent = self.client("agent-1", self.identities[r.worker])
            a = self.direct(agent, "access.request", r.params)
            if not a.ok:
                self.findings.add("decisions", f"re-sent access.request of {r.request_id}: {a.error}")
            elif a.result["request"]["request_id"] != r.request_id:
                self.findings.add("decisions", f"re-sent access.request of {r.request_id} (crid "
                                  f"{r.crid}) returned {a.result['request']['request_id']}")
            elif r.state_seen and a.result["request"]["state"] != r.state_seen:
                self.findings.add("decisions", f"re-sent access.request of {r.request_id}: state "
                                  f"{a.result['request']['state']}, was {r.state_seen}")
        if self.report.discord and self.report.kills % 10 == 0:
            self._check_discord_no_duplicates()

    def _probe_ended_grant(self, r: Req):
        agent = self.client("agent-1", self.identities[r.worker])
        sk, pk = new_recipient()
        a = self.direct(agent, "secret.reveal", {"grant_id": r.grant_id, "name": r.secrets[0],
                                                 "recipient_key": pk})
        if a.ok:
            self.findings.add("grants", f"grant {r.grant_id} of {r.request_id} was "
                              f"{r.grant_end_seen} and revealed again (uses_left "
                              f"{a.result['uses_left']}): resurrected")
        elif a.code != EXPIRED or a.data.get("state") != r.grant_end_seen:
            self.findings.add("grants", f"reveal on {r.grant_end_seen} grant {r.grant_id}: "
                              f"expected -32004 state {r.grant_end_seen}, got {a.error}")

    def _check_discord_no_duplicates(self):
        counts: Dict[str, int] = {}
        for m in self.mock.messages(CHANNEL):
            if m["_mock"].get("created_via") != "create_message":
                continue  # a reply to a click, not one of the daemon's posts
            for rid in set(RID.findall(m.get("content") or "")):
                counts[rid] = counts.get(rid, 0) + 1
        for rid, c in counts.items():
            if c > 1:
                self.findings.add("discord", f"request {rid} posted {c} times")

    # ---- the end ----------------------------------------------------------------------

    def _final(self):
        admin = self.client("admin-1")
        self.findings.context = "final"
        reqs = [r for r in self.ledger.snapshot() if r.request_id]
        t0 = time.monotonic()
        # Short-lived grants: expired by now or within their ttl, never still usable.
        deadline = time.monotonic() + 10
        for r in reqs:
            if not (r.short_ttl and r.grant_id):
                continue
            while True:
                a = self.direct(admin, "grant.list", {"request_id": r.request_id})
                grants = a.result["grants"] if a.ok else []
                state = grants[0]["state"] if len(grants) == 1 else None
                if state != "live" or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            if state != "expired" and not (state == "exhausted" and r.grant_end_seen == "exhausted"):
                self.findings.add("grants", f"grant {r.grant_id} with ttl_s 1 is {state} at the end")
            elif r.grant_end_seen is None:
                r.grant_end_seen = state
        # Requests nobody decided: timed out (timers survive restarts), and stay so.
        for r in reqs:
            if r.plan != "timeout":
                continue
            # From expires_at on it is timed_out for every method (ASSENT-REQ-023); the
            # daemon runs on this machine's clock.
            wait = (r.expires_at or 0) + 0.05 - time.time()
            if wait > 0:
                time.sleep(wait)
            a = self.direct(admin, "access.get", {"request_id": r.request_id})
            state = a.result["request"]["state"] if a.ok else a.error
            if state != "timed_out":
                self.findings.add("decisions", f"{r.request_id} (timeout_s 1) is {state} at the end")
                continue
            a = self.direct(self.client("approver-1"), "access.decide",
                            {"request_id": r.request_id, "decision": "approve"})
            if a.ok or a.code != INVALID_STATE or a.data.get("state") != "timed_out":
                self.findings.add("decisions", f"approve of timed-out {r.request_id}: "
                                  f"{a.error or a.result}")
        self.report.timed("final: expiries", t0)
        t0 = time.monotonic()
        # Every ended grant answers -32004 with its state, and is the one grant of its request.
        for r in reqs:
            if not r.grant_id:
                continue
            a = self.direct(admin, "grant.list", {"request_id": r.request_id})
            grants = a.result["grants"] if a.ok else []
            if len(grants) != 1 or grants[0]["grant_id"] != r.grant_id:
                self.findings.add("grants", f"grant.list for {r.request_id}: "
                                  f"{[g['grant_id'] for g in grants]}, acked {r.grant_id}")
                continue
            if grants[0]["state"] != "live":
                if r.grant_end_seen and grants[0]["state"] != r.grant_end_seen:
                    self.findings.add("grants", f"grant {r.grant_id} was {r.grant_end_seen}, "
                                      f"grant.list says {grants[0]['state']}")
                r.grant_end_seen = grants[0]["state"]
                self._probe_ended_grant(r)
        self.report.timed("final: grant probes", t0)
        # Requests: every acknowledged state, through the API.
        states = {}
        after = None
        while True:
            params = {"limit": 500, **({"after": after} if after else {})}
            a = self.direct(admin, "access.list", params)
            if not a.ok:
                self.findings.add("decisions", f"access.list: {a.error}")
                break
            for q in a.result["requests"]:
                states[q["request_id"]] = q
            after = a.result["next_after"]
            if not after:
                break
        for r in reqs:
            q = states.get(r.request_id)
            if q is None:
                self.findings.add("decisions", f"{r.request_id} missing from access.list")
            elif r.state_acked != "pending" and q["state"] != r.state_acked:
                self.findings.add("decisions", f"{r.request_id}: access.list says {q['state']}, "
                                  f"acked {r.state_acked}")
            elif r.grant_id and q["grant_id"] != r.grant_id:
                self.findings.add("grants", f"{r.request_id}: access.list grant {q['grant_id']}, "
                                  f"acked {r.grant_id}")
        if self.report.discord:
            self._wait_outbox_drained()
        v = self.direct(admin, "audit.verify")
        if not v.ok or not v.result["ok"]:
            self.findings.add("audit", f"audit.verify at the end: {v.error or v.result}")
        t0 = time.monotonic()
        self.close_clients()
        rc = self.daemon.terminate()
        self.report.timed("final: SIGTERM", t0)
        if rc != 0:
            self.findings.add("daemon", f"SIGTERM: exit status {rc} (expected 0)")
        if self.sse:
            self.sse.join_dead(10)
        st = self._stopped_checks()
        self._final_store_consistency()
        self.report.requests_in_store = st.request_count
        self.report.grants_in_store = st.grant_count
        self.report.audit_entries = st.audit_count
        # One more start: the full event history replays from 0, exactly as stored.
        self.daemon.start()
        v = self.direct(admin, "audit.verify")
        if not v.ok or not v.result["ok"]:
            self.findings.add("audit", f"audit.verify after the last restart: {v.error or v.result}")
        t0 = time.monotonic()
        self._final_event_replay(st.event_max_id)
        self.report.timed("final: replay", t0)
        if self.report.discord:
            self._wait_outbox_drained()
        self.close_clients()
        rc = self.daemon.terminate()
        if rc != 0:
            self.findings.add("daemon", f"SIGTERM: exit status {rc} (expected 0)")
        if self.report.discord:
            self._final_discord()

    def _wait_outbox_drained(self, timeout_s=60.0):
        deadline = time.monotonic() + timeout_s
        headers = {"Authorization": "Bearer " + self.tokens["admin-1"]}
        depth = None
        while time.monotonic() < deadline:
            text = requests.get(self.daemon.url + "/metrics", headers=headers, timeout=10).text
            for line in text.splitlines():
                if line.startswith("assent_outbox_depth"):
                    depth = float(line.split()[-1])
            if depth == 0:
                return
            time.sleep(0.1)
        self.findings.add("discord", f"outbox not drained after {timeout_s} s (depth {depth})")

    def _final_store_consistency(self):
        """A crash never leaves a change without its event and audit entry: with the daemon
        stopped, every request and grant has exactly the events and audit entries of the
        transitions it went through (ASSENT-EVT-015, ASSENT-AUDIT-001)."""
        db = open_db_readonly(self.daemon.db_path)
        try:
            ev: Dict[tuple, int] = {}
            used_last: Dict[str, dict] = {}
            ids = []
            for row in db.execute("SELECT id, type, data FROM events ORDER BY id"):
                ids.append(row["id"])
                d = json.loads(row["data"])
                key_id = d.get("grant_id") if row["type"].startswith("grant.") else d.get("request_id")
                ev[(row["type"], key_id)] = ev.get((row["type"], key_id), 0) + 1
                if row["type"] == "grant.used":
                    used_last[d["grant_id"]] = d
            self.report.events = len(ids)
            au: Dict[tuple, int] = {}
            for row in db.execute("SELECT action, subject, outcome FROM audit"):
                s = json.loads(row["subject"])
                key_id = s.get("grant_id") if row["action"].startswith("grant.") else s.get("request_id")
                au[(row["action"], row["outcome"], key_id)] = au.get(
                    (row["action"], row["outcome"], key_id), 0) + 1
            for q in db.execute("SELECT id, state FROM requests"):
                rid, state = q["id"], q["state"]
                if ev.get(("request.created", rid), 0) != 1:
                    self.findings.add("events", f"{rid}: {ev.get(('request.created', rid), 0)} "
                                      "request.created events")
                if au.get(("request.create", "ok", rid), 0) != 1:
                    self.findings.add("audit", f"{rid}: {au.get(('request.create', 'ok', rid), 0)} "
                                      "request.create audit entries")
                for final, etype, action in (("approved", "request.approved", "request.approve"),
                                             ("denied", "request.denied", "request.deny"),
                                             ("cancelled", "request.cancelled", "request.cancel"),
                                             ("timed_out", "request.timed_out", "request.timeout")):
                    want = 1 if state == final else 0
                    if ev.get((etype, rid), 0) != want:
                        self.findings.add("events", f"{rid} ({state}): {ev.get((etype, rid), 0)} "
                                          f"{etype} events, expected {want}")
                    if au.get((action, "ok", rid), 0) != want:
                        self.findings.add("audit", f"{rid} ({state}): "
                                          f"{au.get((action, 'ok', rid), 0)} {action} entries, "
                                          f"expected {want}")
            for g in db.execute("SELECT id, state, uses_left, uses_total FROM grants"):
                gid, spent = g["id"], g["uses_total"] - g["uses_left"]
                if ev.get(("grant.used", gid), 0) != spent:
                    self.findings.add("events", f"grant {gid}: {spent} uses spent, "
                                      f"{ev.get(('grant.used', gid), 0)} grant.used events")
                if au.get(("grant.reveal", "ok", gid), 0) != spent:
                    self.findings.add("audit", f"grant {gid}: {spent} uses spent, "
                                      f"{au.get(('grant.reveal', 'ok', gid), 0)} reveals audited")
                for end, etype, action in (("revoked", "grant.revoked", "grant.revoke"),
                                           ("expired", "grant.expired", "grant.expire")):
                    want = 1 if g["state"] == end else 0
                    if ev.get((etype, gid), 0) != want:
                        self.findings.add("events", f"grant {gid} ({g['state']}): "
                                          f"{ev.get((etype, gid), 0)} {etype} events")
                    if au.get((action, "ok", gid), 0) != want:
                        self.findings.add("audit", f"grant {gid} ({g['state']}): "
                                          f"{au.get((action, 'ok', gid), 0)} {action} entries")
                if g["state"] == "exhausted" and used_last.get(gid, {}).get("state") != "exhausted":
                    self.findings.add("events", f"grant {gid}: exhausted, but its last grant.used "
                                      f"says {used_last.get(gid)}")
            # The stream of the whole run: strictly increasing, no duplicate, no hole.
            streamed = [e[0] for e in self.sse_events]
            if any(b <= a for a, b in zip(streamed, streamed[1:])):
                self.findings.add("events", "streamed event ids not strictly increasing")
            missing = sorted(set(ids) - set(streamed))
            if missing:
                self.findings.add("events", f"{len(missing)} stored events never streamed across "
                                  f"restarts (holes): {missing[:10]}")
        finally:
            db.close()

    def _final_event_replay(self, max_id: int):
        r = SseReader(self, self.daemon.url, 0, stop_at=max_id, record=False)
        r.start()
        r.join(30)
        r.stop()
        got = r.events
        ids = [e[0] for e in got]
        if not ids or ids[-1] < max_id:
            self.findings.add("events", f"replay from 0 reached id {ids[-1] if ids else None}, "
                              f"the store holds up to {max_id}")
        if any(b <= a for a, b in zip(ids, ids[1:])):
            self.findings.add("events", "replayed event ids not strictly increasing")
        db = open_db_readonly(self.daemon.db_path)
        try:
            stored = {row["id"]: (row["type"], json.loads(row["data"]))
                      for row in db.execute("SELECT id, type, data FROM events WHERE id <= ?",
                                            (max_id,))}
        finally:
            db.close()
        replayed = {e[0]: (e[1], e[2]) for e in got if e[0] <= max_id}
        if set(replayed) != set(stored):
            self.findings.add("events", f"replay from 0: {len(set(stored) - set(replayed))} "
                              f"stored events missing, {len(set(replayed) - set(stored))} extra")
        for eid, ev in replayed.items():
            if eid in stored and stored[eid] != ev:
                self.findings.add("events", f"event {eid} replayed as {ev}, stored {stored[eid]}")
                break

    def _final_discord(self):
        msgs = self.mock.messages(CHANNEL)
        self.report.discord_messages = len(msgs)
        self.report.discord_nonce_hits = sum(m["_mock"].get("nonce_hits") or 0 for m in msgs)
        per: Dict[str, List[dict]] = {}
        for m in msgs:
            if m["_mock"].get("created_via") != "create_message":
                continue  # a reply to a click, not one of the daemon's posts
            for rid in set(RID.findall(m.get("content") or "")):
                per.setdefault(rid, []).append(m)
        db = open_db_readonly(self.daemon.db_path)
        try:
            stored = {row["id"]: row["state"] for row in db.execute("SELECT id, state FROM requests")}
        finally:
            db.close()
        for rid, state in stored.items():
            ms = per.get(rid, [])
            if len(ms) != 1:
                self.findings.add("discord", f"request {rid} ({state}) has {len(ms)} messages")
            elif state != "pending" and ms[0].get("components"):
                self.findings.add("discord", f"request {rid} is {state} but its message still "
                                  "has buttons (the outcome edit was lost)")
        for rid in per:
            if rid not in stored:
                self.findings.add("discord", f"message for {rid}, a request the store never held")


def parse_time(text: str) -> float:
    """RFC 3339 UTC (`Z`, optional fraction) → POSIX seconds."""
    base, _, frac = text.rstrip("Z").partition(".")
    t = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return t + (float("0." + frac) if frac else 0.0)


class DiscordIndex(threading.Thread):
    """Finds the approval message of a request on the mock (by the request id in its
    content), polling GET /_mock/messages only while a worker waits for one."""

    def __init__(self, run: Run):
        super().__init__(daemon=True, name="chaos-discord-index")
        self.mock = run.mock
        self.cond = threading.Condition()
        self.found: Dict[str, tuple] = {}
        self.waiting = 0
        self.halt = False

    def run(self):
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.waiting > 0 or self.halt, 1.0)
                if self.halt:
                    return
                if not self.waiting:
                    continue
            try:
                msgs = self.mock.messages(CHANNEL)
            except (OSError, MockError):
                msgs = []
            with self.cond:
                for m in msgs:
                    if m["_mock"].get("created_via") != "create_message":
                        continue
                    approve = [c["custom_id"] for row in m.get("components") or []
                               for c in row.get("components", [])
                               if c.get("custom_id", "").startswith("assent:approve:")]
                    for rid in set(RID.findall(m.get("content") or "")):
                        if rid not in self.found and approve:
                            self.found[rid] = (m["id"], approve[0])
                self.cond.notify_all()
            time.sleep(0.15)

    def find(self, rid: str, timeout_s: float) -> Optional[tuple]:
        with self.cond:
            self.waiting += 1
            self.cond.notify_all()
            try:
                self.cond.wait_for(lambda: rid in self.found or self.halt, timeout_s)
                return self.found.get(rid)
            finally:
                self.waiting -= 1

    def stop(self):
        with self.cond:
            self.halt = True
            self.cond.notify_all()
        self.join(5)


class SseReader(threading.Thread):
    """Reads /events as admin from `since`; appends every event to the run's list (the
    order streamed across all restarts) and flags a repeated or decreasing id or a gap."""

    def __init__(self, run: Run, url: str, since: int, stop_at: Optional[int] = None,
                 record: bool = True):
        super().__init__(daemon=True)
        self.run_ = run
        self.url = url
        self.since = since
        self.stop_at = stop_at
        self.record = record
        self.events: List[tuple] = []
        self.resp = None
        self._halt = threading.Event()

    def run(self):
        headers = {"Assent-Api-Version": "1",
                   "Authorization": "Bearer " + self.run_.tokens["admin-1"]}
        last = self.since
        try:
            self.resp = requests.get(f"{self.url}/events?since={self.since}", headers=headers,
                                     stream=True, timeout=(5, 30))
            if self.resp.status_code != 200:
                self.run_.findings.add("events", f"/events?since={self.since}: HTTP "
                                       f"{self.resp.status_code}")
                return
            eid, etype, data = None, None, None
            for raw in self.resp.iter_lines(chunk_size=None, decode_unicode=False):
                if self._halt.is_set():
                    return
                line = raw.decode()
                if line.startswith(":") or line.startswith("retry:"):
                    continue
                if line.startswith("id:"):
                    eid = int(line[3:].strip())
                elif line.startswith("event:"):
                    etype = line[6:].strip()
                elif line.startswith("data:"):
                    data = json.loads(line[5:].strip())
                elif line == "":
                    if etype == "shutdown":
                        return
                    if etype == "gap":
                        self.run_.findings.add("events", f"gap event {data} (nothing is pruned "
                                               "in this run)")
                    elif etype is not None:
                        if eid is None or eid <= last:
                            self.run_.findings.add("events", f"event id {eid} ({etype}) after "
                                                   f"{last}: not strictly increasing")
                        else:
                            last = eid
                            self.events.append((eid, etype, data))
                            if self.record:
                                self.run_.sse_events.append((eid, etype, data))
                            if self.stop_at is not None and eid >= self.stop_at:
                                return
                    eid, etype, data = None, None, None
        except (requests.exceptions.RequestException, ValueError, AttributeError):
            return  # the daemon was killed (or the stream was closed by stop())
        finally:
            if self.resp is not None:
                self.resp.close()

    def stop(self):
        self._halt.set()
        try:
            if self.resp is not None:
                self.resp.close()
        except Exception:
            pass
        self.join(5)

    def join_dead(self, timeout):
        """After a kill the stream breaks by itself; after a SIGTERM the daemon sends
        `shutdown`."""
        self.join(timeout)
        if self.is_alive():
            self.stop()


class Worker(threading.Thread):
    """One agent identity doing cycles. Every call goes through the gate; a call whose
    connection broke is settled after the restart: re-sent when idempotent (access.request
    with its client_request_id, decide, cancel, revoke) or looked up when not (reveal)."""

    def __init__(self, run: Run, idx: int):
        super().__init__(daemon=True, name=f"chaos-worker-{idx}")
        self.r = run
        self.idx = idx
        self.rng = random.Random(f"{run.s.seed}/{idx}")
        ident = run.identities[idx]
        owner = f"worker-{idx}"
        self.agent = run.client("agent-1", ident, owner)
        self.approvers = {name: run.client(name, None, owner) for name in APPROVERS}
        self.admin = run.client("admin-1", None, owner)
        self.f = run.findings

    def run(self):
        try:
            while True:
                n = self.r.take_cycle()
                if n is None:
                    return
                self.cycle(n)
        except Aborted:
            return
        except Exception:
            self.f.add("daemon", f"worker {self.idx} crashed:\n{traceback.format_exc()}")

    # ---- one call ----------------------------------------------------------------------

    def call(self, client: RpcClient, method: str, params: dict, on_answer) -> bool:
        """Sends until an answer arrives; `on_answer(answer, retried)` runs before the op is
        released (so a check never sees an answer not yet in the ledger) and returns True
        when the call is settled, False to re-send. Returns False when the call failed
        for good (a finding was recorded)."""
        retried = False
        while True:
            with self.r.gate.op() as ep:
                try:
                    a = client.call(ep.url, method, params)
                except Unknown as e:
                    if self.r.gate.is_current(ep):
                        self.f.add("daemon", f"{method}: connection dropped by a live daemon: {e}")
                        return False
                    self.r.note_unknown()
                    retried = True
                    continue
                except ProtocolViolation as e:
                    self.f.add("daemon", str(e))
                    return False
                if a.code == INTERNAL:
                    self.f.add("daemon", f"{method} {params}: -32603 {a.error}")
                    return False
                settled = on_answer(a, retried)
                if settled is None:
                    return False
                if settled:
                    return True

    def query(self, client: RpcClient, method: str, params: dict) -> Optional[Answer]:
        """A read: re-sent until answered."""
        box = []

        def keep(a, retried):
            box.append(a)
            return True
        return box[0] if self.call(client, method, params, keep) else None

    # ---- a cycle -----------------------------------------------------------------------

    def cycle(self, n: int):
        rng = self.rng
        plan = rng.choices([p for p, _ in PLANS], [w for _, w in PLANS])[0]
        if plan == "discord" and not self.r.report.discord:
            plan = "reveal"
        if plan == "quorum_deny":
            names = ["CHAOS_QUORUM"]
        elif plan == "discord":
            names = list(rng.choice(SECRET_SETS))  # quorum 1: the click decides; 2: one vote
        elif plan == "expire":
            names = ["CHAOS_ONE"]
        else:
            names = list(rng.choice(SECRET_SETS))
        uses_per_secret = min(SECRETS[s].get("uses_per_grant", 1) for s in names)
        quorum = max(SECRETS[s].get("approvals_required", 1) for s in names)
        crid = f"chaos-{self.r.s.seed}-{n}"
        params = {"secrets": names, "reason": f"chaos cycle {n}: {plan}", "ttl_s": 3600,
                  "client_request_id": crid}
        if plan == "timeout":
            params["timeout_s"] = 1  # nobody decides: it times out, also while the daemon is down
        r = Req(n=n, worker=self.idx, client_id=self.r.identities[self.idx]["client_id"],
                crid=crid, params=params, secrets=names,
                uses_total=uses_per_secret * len(names), quorum=quorum, plan=plan,
                short_ttl=plan == "expire")
        with self.r.cycle_lock:
            self.r.report.plans[plan] = self.r.report.plans.get(plan, 0) + 1
        self.r.ledger.add(r)
        if not self.create(r):
            return
        if plan == "timeout":
            pass
        elif plan == "cancel":
            if quorum > 1 and rng.random() < 0.5 and not self.vote(r, "approver-1"):
                return
            self.cancel(r)
        elif plan in ("deny", "quorum_deny"):
            if quorum > 1 and not self.vote(r, "approver-1"):
                return
            denier = "approver-2" if quorum > 1 else rng.choice(APPROVERS)
            if self.deny(r, denier):
                self.late_approve(r, denier)
        elif plan == "discord":
            if self.approve_by_click(r):
                self.reveal_all(r)
        else:
            ttl = 1 if plan == "expire" else None
            if not self.approve(r, ttl):
                return
            if plan == "reveal":
                self.reveal_all(r)
            elif plan == "revoke":
                if r.uses_total > 1 and rng.random() < 0.5:
                    if not self.reveal(r, r.secrets[0]):
                        return
                if self.revoke(r, rng.choice(["agent", "approver-1", "admin"])):
                    self.reveal_refused(r, "revoked")
        with r.lock:
            r.done = True

    def create(self, r: Req) -> bool:
        def on(a: Answer, retried):
            if not a.ok:
                self.f.add("daemon", f"access.request (cycle {r.n}): {a.error}")
                return None
            q = a.result["request"]
            with r.lock:
                if r.request_id and q["request_id"] != r.request_id:
                    self.f.add("decisions", f"crid {r.crid}: {q['request_id']}, was {r.request_id}")
                r.request_id = q["request_id"]
                r.expires_at = parse_time(q["expires_at"])
                r.create_acked = True
                r.create_unknown = False
                if q["client_request_id"] != r.crid:
                    self.f.add("decisions", f"{q['request_id']}: crid {q['client_request_id']}")
                if q["state"] != "pending" and not (r.plan == "timeout" and
                                                    q["state"] == "timed_out"):
                    self.f.add("decisions", f"new request {q['request_id']} is {q['state']}")
            return True

        with r.lock:
            r.create_unknown = True
        return self.call(self.agent, "access.request", r.params, on)

    def _settle_from_get(self, r: Req, target: Optional[str], approver: Optional[str]):
        """After a re-sent decide/cancel was refused because the lost call had committed."""
        a = self.query(self.approvers["approver-1"], "access.get", {"request_id": r.request_id})
        if a is None:
            return None
        if not a.ok:
            self.f.add("daemon", f"access.get {r.request_id}: {a.error}")
            return None
        q = a.result["request"]
        with r.lock:
            if target is None:  # a vote short of the quorum
                if q["state"] != "pending" or q["approvals"] < len(r.votes_acked) + 1:
                    self.f.add("decisions", f"{r.request_id}: vote by {approver} refused as "
                               f"already counted, but the request shows {q['state']} with "
                               f"{q['approvals']} approvals")
                    return None
                r.votes_acked.add(approver)
                r.vote_unknown = False
                return True
            if q["state"] != target:
                self.f.add("decisions", f"{r.request_id}: a lost {target} call was refused on "
                           f"re-send, and the request is {q['state']}")
                return None
            r.state_acked = target
            r.decision_target = None
            if target == "approved":
                r.grant_id = q["grant_id"]
                r.uses_left = r.uses_total
                if not r.grant_id:
                    self.f.add("grants", f"{r.request_id}: approved without a grant")
                    return None
        return True

    def _decide(self, r: Req, approver: str, approve: bool, ttl_s: Optional[int]) -> bool:
        final = (not approve) or len(r.votes_acked) + 1 >= r.quorum
        target = ("approved" if approve else "denied") if final else None
        params = {"request_id": r.request_id, "decision": "approve" if approve else "deny"}
        if ttl_s:
            params["ttl_s"] = ttl_s
        if not approve:
            params["note"] = "chaos: no"
        with r.lock:
            if target:
                r.decision_target = target
            else:
                r.vote_unknown = True
        settle = []

        def on(a: Answer, retried):
            if a.ok:
                q, g = a.result["request"], a.result["grant"]
                with r.lock:
                    if target is None:
                        if q["state"] != "pending" or g is not None:
                            self.f.add("decisions", f"{r.request_id}: vote 1 of {r.quorum} gave "
                                       f"{q['state']} / grant {g}")
                        r.votes_acked.add(approver)
                        r.vote_unknown = False
                        return True
                    if q["state"] != target:
                        self.f.add("decisions", f"{r.request_id}: {params['decision']} gave "
                                   f"{q['state']}")
                        return None
                    r.state_acked = target
                    r.decision_target = None
                    if target == "approved":
                        if not g or g["request_id"] != r.request_id or g["state"] != "live":
                            self.f.add("grants", f"{r.request_id}: approval answered grant {g}")
                            return None
                        if g["uses_total"] != r.uses_total or g["uses_left"] != r.uses_total:
                            self.f.add("grants", f"{r.request_id}: new grant uses "
                                       f"{g['uses_left']}/{g['uses_total']}, expected {r.uses_total}")
                        r.grant_id = g["grant_id"]
                        r.uses_left = g["uses_left"]
                        if q["grant_id"] != r.grant_id:
                            self.f.add("grants", f"{r.request_id}: request names grant "
                                       f"{q['grant_id']}, decide answered {r.grant_id}")
                    elif g is not None:
                        self.f.add("grants", f"{r.request_id}: deny answered a grant {g}")
                return True
            already = (a.code == INVALID_STATE or
                       (a.code == FORBIDDEN and a.data.get("reason") == "already_voted"))
            if retried and already:
                settle.append(True)
                return True
            self.f.add("decisions", f"{r.request_id}: {params['decision']} by {approver}: "
                       f"{a.error}")
            return None

        if not self.call(self.approvers[approver], "access.decide", params, on):
            return False
        if settle:
            return bool(self._settle_from_get(r, target, approver))
        return True

    def vote(self, r: Req, approver: str) -> bool:
        return self._decide(r, approver, True, None)

    def approve(self, r: Req, ttl_s: Optional[int]) -> bool:
        voters = list(APPROVERS)
        self.rng.shuffle(voters)
        for i in range(r.quorum):
            if not self._decide(r, voters[i], True, ttl_s):
                return False
        return True

    def approve_by_click(self, r: Req) -> bool:
        """An allowlisted Discord user clicks Approve on the request's message; the mock
        signs the interaction and delivers it to the daemon (3 in 10 twice, as Discord may
        redeliver). With a quorum of two the click is one vote, and an approver's RPC vote
        completes it. A delivery that broke (the daemon was killed) is clicked again after
        the restart (`force`: the button may be gone by then); an ephemeral "already
        decided / already voted" then means the lost click had committed."""
        found = self.r.discord_index.find(r.request_id, 60)
        if self.r.gate.aborted:
            raise Aborted()
        if not found:
            self.f.add("discord", f"{r.request_id}: no approval message after 60 s")
            return False
        message_id, custom_id = found
        final = r.quorum == 1
        with r.lock:
            if final:
                r.decision_target = "approved"
            else:
                r.vote_unknown = True
        again = False
        while True:
            with self.r.gate.op() as ep:
                try:
                    res = self.r.mock.click(message_id, custom_id=custom_id, user_id=DISCORD_USER,
                                            force=again, duplicate=self.rng.random() < 0.3)
                except (OSError, MockError) as e:
                    self.f.add("discord", f"{r.request_id}: mock click failed: {e}")
                    return False
                d = (res.get("deliveries") or [{}])[0]
                outcome, status = d.get("outcome"), d.get("status")
                if outcome == "updated_message" and status == 200:
                    with r.lock:
                        if final:
                            r.state_acked = "approved"
                            r.decision_target = None
                        else:
                            r.votes_acked.add("discord")
                            r.vote_unknown = False
                    with self.r.cycle_lock:
                        self.r.report.discord_clicks += 1
                    buttons = (res.get("message") or {}).get("components")
                    if final and buttons:
                        self.f.add("discord", f"{r.request_id}: approved by click, but the "
                                   "updated message still has buttons")
                    if not final and not buttons:
                        self.f.add("discord", f"{r.request_id}: vote 1 of 2 by click removed "
                                   "the buttons")
                    break
                if status is None or status >= 500 or outcome in ("connection_error", "timeout"):
                    if self.r.gate.is_current(ep):
                        self.f.add("discord", f"{r.request_id}: click delivery {outcome} "
                                   f"(HTTP {status}) from a live daemon")
                        return False
                    self.r.note_unknown()
                    with self.r.cycle_lock:
                        self.r.report.discord_clicks_lost += 1
                    again = True
                    continue
                if again and outcome == "ephemeral_reply":
                    break  # the lost click had committed: settled below
                self.f.add("discord", f"{r.request_id}: click answered {outcome} (HTTP {status}) "
                           f"{res.get('ephemeral_replies')}")
                return False
        a = self.query(self.approvers["approver-1"], "access.get", {"request_id": r.request_id})
        if a is None or not a.ok:
            self.f.add("daemon", f"access.get {r.request_id}: {a and a.error}")
            return False
        q = a.result["request"]
        with r.lock:
            if not final:
                # One click is one vote, however often Discord delivers it.
                if q["state"] != "pending" or q["approvals"] != 1:
                    self.f.add("decisions", f"{r.request_id}: after one Discord vote of 2 the "
                               f"request is {q['state']} with {q['approvals']} approvals")
                    return False
                r.votes_acked.add("discord")
                r.vote_unknown = False
            elif q["state"] != "approved" or not q["grant_id"]:
                self.f.add("decisions", f"{r.request_id}: approved by a Discord click, now "
                           f"{q['state']} with grant {q['grant_id']}")
                return False
            else:
                r.state_acked = "approved"
                r.decision_target = None
                r.grant_id = q["grant_id"]
                r.uses_left = r.uses_total
        if not final:
            return self._decide(r, self.rng.choice(APPROVERS), True, None)
        return True

    def deny(self, r: Req, approver: str) -> bool:
        return self._decide(r, approver, False, None)

    def late_approve(self, r: Req, denier: str):
        """A denied request stays denied: a later approve by the other approver is -32003
        (with a quorum of two both have voted, so it is `already_voted` instead)."""
        approver = APPROVERS[1] if denier == APPROVERS[0] else APPROVERS[0]

        def on(a: Answer, retried):
            if a.ok:
                self.f.add("decisions", f"{r.request_id}: denied, then approved by a late vote")
            elif a.code == INVALID_STATE and a.data.get("state") == "denied":
                return True
            elif a.code == FORBIDDEN and a.data.get("reason") == "already_voted":
                return True
            else:
                self.f.add("decisions", f"{r.request_id}: late approve on a denied request: "
                           f"{a.error}")
            return None
        self.call(self.approvers[approver], "access.decide",
                  {"request_id": r.request_id, "decision": "approve"}, on)

    def cancel(self, r: Req) -> bool:
        with r.lock:
            r.decision_target = "cancelled"

        def on(a: Answer, retried):
            if a.ok:
                with r.lock:
                    if a.result["request"]["state"] != "cancelled":
                        self.f.add("decisions", f"{r.request_id}: cancel gave {a.result}")
                        return None
                    r.state_acked = "cancelled"
                    r.decision_target = None
                return True
            if retried and a.code == INVALID_STATE and a.data.get("state") == "cancelled":
                with r.lock:
                    r.state_acked = "cancelled"
                    r.decision_target = None
                return True
            self.f.add("decisions", f"{r.request_id}: cancel: {a.error}")
            return None
        return self.call(self.agent, "access.cancel", {"request_id": r.request_id}, on)

    def revoke(self, r: Req, who: str) -> bool:
        client = {"agent": self.agent, "admin": self.admin}.get(who) or self.approvers[who]
        with r.lock:
            r.revoke = "unknown"

        def on(a: Answer, retried):
            ok = a.ok and a.result["grant"]["state"] == "revoked"
            again = retried and a.code == INVALID_STATE and a.data.get("state") == "revoked"
            if ok or again:
                with r.lock:
                    r.revoke = "acked"
                    r.grant_end_seen = "revoked"
                return True
            self.f.add("grants", f"{r.grant_id}: revoke by {who}: {a.error or a.result}")
            return None
        return self.call(client, "grant.revoke", {"grant_id": r.grant_id}, on)

    def reveal(self, r: Req, name: str) -> bool:
        """One reveal that must succeed. A lost reveal is settled by reading the grant's
        uses_left (a reveal is not idempotent, so it is never blindly re-sent)."""
        while True:
            before = r.uses_left
            sk, pk = new_recipient()
            params = {"grant_id": r.grant_id, "name": name, "recipient_key": pk}
            lost = []

            def on(a: Answer, retried):
                if retried:
                    lost.append(True)  # the reveal broke; the re-send below is a lookup
                    return True
                if not a.ok:
                    self.f.add("grants", f"{r.grant_id}: reveal {name} with {before} uses left: "
                               f"{a.error}")
                    return None
                res = a.result
                with r.lock:
                    r.reveal_unknown = False
                    if res["uses_left"] != before - 1:
                        self.f.add("grants", f"{r.grant_id}: reveal left {res['uses_left']}, "
                                   f"expected {before - 1}")
                    r.uses_left = res["uses_left"]
                    if r.uses_left == 0:
                        r.grant_end_seen = "exhausted"
                value = open_sealed(sk, res["sealed_value"]).decode()
                if value != self.r.values[name] or res["name"] != name:
                    self.f.add("grants", f"{r.grant_id}: reveal of {name} opened to a wrong value")
                return True

            with r.lock:
                r.reveal_unknown = True
            if not self._reveal_once(params, on):
                return False
            if not lost:
                return True
            # Settle the lost reveal from the grant itself.
            a = self.query(self.agent, "grant.list", {"request_id": r.request_id})
            if a is None or not a.ok or len(a.result["grants"]) != 1:
                self.f.add("grants", f"{r.request_id}: grant.list after a lost reveal: "
                           f"{a and (a.error or a.result)}")
                return False
            g = a.result["grants"][0]
            with r.lock:
                if g["uses_left"] == before - 1:
                    r.uses_left = before - 1
                    r.reveal_unknown = False
                    if r.uses_left == 0:
                        r.grant_end_seen = "exhausted"
                        if g["state"] != "exhausted":
                            self.f.add("grants", f"{r.grant_id}: 0 uses left, state {g['state']}")
                    return True
                if g["uses_left"] != before or g["state"] != "live":
                    self.f.add("grants", f"{r.grant_id}: after a lost reveal uses_left "
                               f"{g['uses_left']} ({g['state']}), was {before}")
                    return False
                r.reveal_unknown = False
            # Not spent: reveal again.

    def _reveal_once(self, params, on) -> bool:
        """Sends the reveal once; a broken call is reported to `on` as retried, without
        re-sending it."""
        with self.r.gate.op() as ep:
            try:
                a = self.agent.call(ep.url, "secret.reveal", params)
            except Unknown as e:
                if self.r.gate.is_current(ep):
                    self.f.add("daemon", f"secret.reveal: connection dropped by a live daemon: {e}")
                    return False
                self.r.note_unknown()
                return on(None, True) is not None
            except ProtocolViolation as e:
                self.f.add("daemon", str(e))
                return False
            if a.code == INTERNAL:
                self.f.add("daemon", f"secret.reveal: -32603 {a.error}")
                return False
            return on(a, False) is not None

    def reveal_all(self, r: Req):
        per = r.uses_total // len(r.secrets)
        order = [name for name in r.secrets for _ in range(per)]
        self.rng.shuffle(order)
        for name in order:
            if not self.reveal(r, name):
                return
        self.reveal_refused(r, "exhausted")

    def reveal_refused(self, r: Req, state: str):
        """Reveal on an ended grant: -32004 naming its state (ASSENT-REVEAL-002)."""
        sk, pk = new_recipient()
        params = {"grant_id": r.grant_id, "name": self.rng.choice(r.secrets), "recipient_key": pk}

        def on(a: Answer, retried):
            if a.ok:
                self.f.add("grants", f"{r.grant_id} ({state}): reveal succeeded, uses_left "
                           f"{a.result['uses_left']}")
                return None
            if a.code != EXPIRED or a.data.get("state") != state or \
                    a.data.get("grant_id") != r.grant_id:
                self.f.add("grants", f"{r.grant_id} ({state}): reveal answered {a.error}")
                return None
            return True
        self.call(self.agent, "secret.reveal", params, on)
