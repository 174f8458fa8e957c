"""Machinery of the crash-chaos test: the daemon process, a gate that stops client calls
around each kill, JSON-RPC clients that tell "answered" from "outcome unknown", the
client-side ledger of everything the daemon acknowledged, and the checks run while the
daemon is stopped (SQLite, read-only) and after each restart (RPC, SSE).

Nothing here imports from tests/e2e or conformance/: only the standard library, Debian's
python3-requests and python3-nacl, and tools/mock-discord/mockctl.py (its documented API).
"""

import base64
import hashlib
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import requests
from nacl.public import PrivateKey, SealedBox

REPO = Path(__file__).resolve().parents[2]

API_VERSION = "1"
CHANNEL = "1100000000000000001"
DISCORD_USER = "1200000000000000001"

# Error codes of spec/PROTOCOL.md §4.4 used below.
FORBIDDEN, INVALID_STATE, EXPIRED, INTERNAL = -32001, -32003, -32004, -32603


def find_assentd() -> Optional[Path]:
    """$ASSENTD_BIN, else $ASSENT_BUILD_DIR/assentd (default `build`), a relative build dir
    taken from the current directory first, then from the repository root."""
    if os.environ.get("ASSENTD_BIN"):
        p = Path(os.environ["ASSENTD_BIN"])
        return p if p.is_file() else None
    build = Path(os.environ.get("ASSENT_BUILD_DIR") or "build")
    candidates = [build] if build.is_absolute() else [Path.cwd() / build, REPO / build]
    for d in candidates:
        if (d / "assentd").is_file():
            return (d / "assentd").resolve()
    return None


def token_hash(token: str) -> str:
    return "blake2b256:" + hashlib.blake2b(token.encode(), digest_size=32).hexdigest()


# ---- findings --------------------------------------------------------------------------

CATEGORIES = {
    "decisions": "acknowledged state changes survive every crash",
    "grants": "one grant per approved request, never duplicated or resurrected",
    "discord": "every request posted to Discord exactly once",
    "audit": "audit chain verifies and the database passes integrity_check",
    "events": "event ids strictly increasing, durable, no duplicates or holes",
    "daemon": "the daemon restarts, answers and stops cleanly",
}


class Findings:
    """Violations, by category; thread-safe. The run stops early once any exists."""

    def __init__(self):
        self._lock = threading.Lock()
        self.items: Dict[str, List[str]] = {c: [] for c in CATEGORIES}
        self.context = ""

    def add(self, category: str, message: str) -> None:
        assert category in CATEGORIES, category
        with self._lock:
            if len(self.items[category]) < 200:
                self.items[category].append(f"[{self.context}] {message}")

    def any(self) -> bool:
        with self._lock:
            return any(self.items.values())

    def of(self, category: str) -> List[str]:
        with self._lock:
            return list(self.items[category])


# ---- the daemon process ----------------------------------------------------------------

class DaemonProcess:
    """One assentd on a fixed data directory, restarted as often as the test wants. Ready
    means: its discovery file exists and names this process's pid (a file left by a killed
    predecessor is removed before each start and would name another pid anyway)."""

    def __init__(self, binary: Path, home: Path, args: List[str]):
        self.binary = binary
        self.home = home
        self.data_dir = home / "data"
        self.args = args
        self.proc: Optional[subprocess.Popen] = None
        self.url: Optional[str] = None
        self.log_path = home / "assentd.log"
        self.starts = 0

    @property
    def db_path(self) -> Path:
        return self.data_dir / "assent.db"

    def _spawn(self):
        for stale in ("assentd.json", "assentd.pid"):
            try:
                (self.data_dir / stale).unlink()
            except FileNotFoundError:
                pass
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {self.starts + 1} ---\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [str(self.binary), "--data-dir", str(self.data_dir), *self.args],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        self.starts += 1

    def start(self, timeout_s: float = 20.0) -> str:
        self._spawn()
        discovery = self.data_dir / "assentd.json"
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise DaemonDied(f"assentd exited with {self.proc.returncode} before ready; "
                                 f"log tail:\n{self.log_tail()}")
            try:
                info = json.loads(discovery.read_text())
                if info.get("pid") == self.proc.pid:
                    break
            except (FileNotFoundError, ValueError):
                pass  # not written yet (it is written atomically, but be lenient)
            if time.monotonic() > deadline:
                self.kill()
                raise DaemonDied(f"assentd not ready after {timeout_s} s; log tail:\n"
                                 f"{self.log_tail()}")
            time.sleep(0.005)
        tcp = [l["address"] for l in info["listeners"] if l["transport"] == "tcp"]
        if not tcp or tcp[0].endswith(":0"):
            raise DaemonDied(f"discovery file names no bound TCP listener: {info}")
        if not tcp[0].startswith("127.0.0.1:"):
            raise DaemonDied(f"daemon listens off loopback: {tcp[0]}")
        self.url = "http://" + tcp[0]
        return self.url

    def start_and_kill_early(self, delay_s: float) -> None:
        """A crash during start-up (store opening, recovery, first sweep)."""
        self._spawn()
        time.sleep(delay_s)
        self.kill()

    def term_then_kill(self, delay_s: float) -> Optional[int]:
        """A crash during a graceful shutdown: SIGTERM, then SIGKILL `delay_s` later. The
        exit status when the daemon finished stopping first, else None."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(delay_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait(30)

    def terminate(self, timeout_s: float = 15.0) -> Optional[int]:
        """SIGTERM; the exit status, or None when it had to be killed."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except FileNotFoundError:
            return ""


class DaemonDied(Exception):
    pass


# ---- the gate: no client call starts while the daemon is down ---------------------------

class Aborted(Exception):
    pass


@dataclass(frozen=True)
class Epoch:
    number: int
    url: str


class Gate:
    """Client calls run inside `op()`. The main thread closes the gate, kills the daemon,
    waits until no op is in flight (so the ledger holds every answer that arrived), checks,
    restarts and opens the gate again with the new URL (the port changes every start)."""

    def __init__(self):
        self.cond = threading.Condition()
        self.up = False
        self.epoch = Epoch(0, "")
        self.ops = 0
        self.inflight = 0
        self.aborted = False

    def open(self, url: str) -> None:
        with self.cond:
            self.epoch = Epoch(self.epoch.number + 1, url)
            self.up = True
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.up = False

    def abort(self) -> None:
        with self.cond:
            self.aborted = True
            self.cond.notify_all()

    def is_current(self, ep: Epoch) -> bool:
        with self.cond:
            return self.up and self.epoch == ep

    @contextmanager
    def op(self):
        with self.cond:
            while not self.up and not self.aborted:
                self.cond.wait(1.0)
            if self.aborted:
                raise Aborted()
            self.ops += 1
            self.inflight += 1
            ep = self.epoch
            self.cond.notify_all()
        try:
            yield ep
        finally:
            with self.cond:
                self.inflight -= 1
                self.cond.notify_all()

    def wait_for(self, predicate, timeout_s: float) -> bool:
        with self.cond:
            return self.cond.wait_for(predicate, timeout_s)


# ---- JSON-RPC ---------------------------------------------------------------------------

class Unknown(Exception):
    """The call's outcome is unknown: the connection broke before a full answer arrived."""


@dataclass
class Answer:
    result: Optional[dict] = None
    error: Optional[dict] = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def code(self) -> Optional[int]:
        return self.error["code"] if self.error else None

    @property
    def data(self) -> dict:
        return (self.error or {}).get("data") or {}


class RpcClient:
    """One caller (a token, and for agents a client identity) with a keep-alive session
    per daemon epoch. urllib3 never retries here (requests' default adapter: 0 retries),
    so a POST is sent at most once per call."""

    def __init__(self, token: str, identity: Optional[dict] = None, timeout_s: float = 30.0):
        self.token = token
        self.identity = identity
        self.timeout_s = timeout_s
        self._session: Optional[requests.Session] = None
        self._session_url: Optional[str] = None
        self._id = 0

    def headers(self) -> dict:
        # identity: Content-Length then counts the bytes of the body as read.
        h = {"Content-Type": "application/json", "Assent-Api-Version": API_VERSION,
             "Accept-Encoding": "identity",
             "Authorization": "Bearer " + self.token}
        if self.identity:
            h["Assent-Client-Id"] = self.identity["client_id"]
            h["Assent-Client-Key"] = self.identity["client_key"]
        return h

    def session(self, url: str) -> requests.Session:
        if self._session is None or self._session_url != url:
            if self._session is not None:
                self._session.close()
            self._session = requests.Session()
            self._session_url = url
        return self._session

    def close(self):
        if self._session is not None:
            self._session.close()
            self._session = None

    def call(self, url: str, method: str, params: Optional[dict] = None) -> Answer:
        self._id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method,
                           "params": params or {}})
        try:
            resp = self.session(url).post(url + "/rpc", data=body, headers=self.headers(),
                                          timeout=(5, self.timeout_s))
            text = resp.content
        except requests.exceptions.RequestException as e:
            # Drop the pool: a connection that broke once is not reused.
            self.close()
            raise Unknown(f"{type(e).__name__}: {e}") from None
        # urllib3 does not enforce Content-Length: a body cut short by the kill arrives as
        # a short (often empty) body. That is an unknown outcome too; the caller tells it
        # from a live daemon's bad answer by whether the daemon was still meant to be up.
        length = resp.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) != len(text):
            self.close()
            raise Unknown(f"{method}: HTTP {resp.status_code}, body of {len(text)} bytes "
                          f"of {length}")
        try:
            answer = json.loads(text)
        except ValueError:
            self.close()
            raise Unknown(f"{method}: HTTP {resp.status_code} with a non-JSON body "
                          f"{text[:200]!r}") from None
        if not isinstance(answer, dict) or answer.get("id") != self._id:
            raise ProtocolViolation(f"{method}: answer with a wrong id or shape: {answer!r:.300}")
        if "error" in answer:
            return Answer(error=answer["error"])
        return Answer(result=answer["result"])


class ProtocolViolation(Exception):
    pass


def new_recipient():
    """A fresh X25519 key pair per reveal (ASSENT-REVEAL-008)."""
    sk = PrivateKey.generate()
    return sk, base64.b64encode(bytes(sk.public_key)).decode()


def open_sealed(sk: PrivateKey, sealed_b64: str) -> bytes:
    return SealedBox(sk).decrypt(base64.b64decode(sealed_b64))


# ---- the ledger ---------------------------------------------------------------------------

FINAL_REQUEST_STATES = ("approved", "denied", "cancelled", "timed_out")
GRANT_ENDS = ("expired", "revoked", "exhausted")


@dataclass
class Req:
    """Everything the clients were told about one request (cycle), and what is still open.

    "acked" facts came in a complete answer and must survive any crash; "unknown" ops broke
    mid-call and may have happened or not, until a later answer settles them."""
    n: int
    worker: int
    client_id: str
    crid: str
    params: dict
    secrets: List[str]
    uses_total: int
    quorum: int
    plan: str
    request_id: Optional[str] = None
    create_acked: bool = False
    create_unknown: bool = False
    state_acked: str = "pending"           # pending until a final state was acknowledged
    decision_target: Optional[str] = None  # final state of a decide/cancel whose outcome is open
    votes_acked: set = field(default_factory=set)
    vote_unknown: bool = False
    grant_id: Optional[str] = None
    uses_left: Optional[int] = None        # exact, as of the last acknowledged answer
    reveal_unknown: bool = False
    revoke: str = "none"                   # none | unknown | acked
    grant_end_seen: Optional[str] = None   # an end state once acknowledged or observed
    state_seen: Optional[str] = None       # a final request state once observed
    short_ttl: bool = False
    expires_at: Optional[float] = None    # the decision deadline, POSIX seconds
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.reqs: List[Req] = []
        self.by_key: Dict[tuple, Req] = {}

    def add(self, r: Req) -> None:
        with self.lock:
            self.reqs.append(r)
            self.by_key[(r.client_id, r.crid)] = r

    def snapshot(self) -> List[Req]:
        with self.lock:
            return list(self.reqs)


# ---- checks while the daemon is stopped ---------------------------------------------------

def open_db_readonly(path: Path) -> sqlite3.Connection:
    # mode=ro: nothing is written to the database; SQLite reads the WAL the killed daemon
    # left behind (recovering the wal-index in memory if needed).
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    db.row_factory = sqlite3.Row
    return db


@dataclass
class StoppedState:
    audit_count: int = 0
    audit_max_seq: int = 0
    event_max_id: int = 0
    request_count: int = 0
    grant_count: int = 0


def check_stopped(db_path: Path, ledger: Ledger, findings: Findings, sse_events: List[tuple],
                  sse_checked: int, audit_marks: Dict[int, str],
                  discord: bool) -> StoppedState:
    """Runs every check that reads the store directly. Returns what later checks compare
    against. `sse_events[sse_checked:]` are the events streamed since the last check."""
    out = StoppedState()
    db = open_db_readonly(db_path)
    try:
        ic = [row[0] for row in db.execute("PRAGMA integrity_check")]
        if ic != ["ok"]:
            findings.add("audit", f"PRAGMA integrity_check: {ic[:5]}")
        fk = list(db.execute("PRAGMA foreign_key_check"))
        if fk:
            findings.add("audit", f"PRAGMA foreign_key_check: {[tuple(r) for r in fk[:5]]}")

        # Audit: seq 1..N without gaps, and every entry seen before is still there, unchanged.
        n, lo, hi = db.execute("SELECT COUNT(*), MIN(seq), MAX(seq) FROM audit").fetchone()
        out.audit_count, out.audit_max_seq = n, hi or 0
        if n and (lo != 1 or hi != n):
            findings.add("audit", f"audit seq not 1..N without gaps: count {n}, min {lo}, max {hi}")
        for seq, h in list(audit_marks.items()):
            row = db.execute("SELECT hash FROM audit WHERE seq = ?", (seq,)).fetchone()
            if row is None or row[0] != h:
                findings.add("audit", f"audit entry {seq} seen before a crash is gone or changed "
                             f"(was {h[:16]}…, now {row[0][:16] + '…' if row else 'missing'})")
        if hi:
            audit_marks[hi] = db.execute("SELECT hash FROM audit WHERE seq = ?",
                                         (hi,)).fetchone()[0]

        # Events: every event a client was streamed is durable with the same content.
        out.event_max_id = db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
        for (eid, etype, data) in sse_events[sse_checked:]:
            row = db.execute("SELECT type, data FROM events WHERE id = ?", (eid,)).fetchone()
            if row is None:
                findings.add("events", f"event {eid} ({etype}) was streamed but is not in the store")
            elif row["type"] != etype or json.loads(row["data"]) != data:
                findings.add("events", f"event {eid} streamed as {etype} {data} but stored as "
                             f"{row['type']} {row['data']}")

        _check_requests_and_grants(db, ledger, findings, out)
        if discord:
            dead = db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'dead'").fetchone()[0]
            if dead:
                findings.add("discord", f"{dead} outbox rows are dead (a Discord call given up)")
    finally:
        db.close()
    return out


def _check_requests_and_grants(db, ledger: Ledger, findings: Findings, out: StoppedState):
    rows = db.execute(
        "SELECT id, originator, client_request_id, state, approvals, approvals_required "
        "FROM requests").fetchall()
    out.request_count = len(rows)
    by_key: Dict[tuple, list] = {}
    for row in rows:
        by_key.setdefault((row["originator"], row["client_request_id"]), []).append(row)
    grants_by_request: Dict[str, list] = {}
    grant_rows = db.execute(
        "SELECT id, request_id, originator, uses_left, uses_total, state FROM grants").fetchall()
    out.grant_count = len(grant_rows)
    for g in grant_rows:
        grants_by_request.setdefault(g["request_id"], []).append(g)

    known = set()
    for r in ledger.snapshot():
        with r.lock:
            key = (r.client_id, r.crid)
            known.add(key)
            found = by_key.get(key, [])
            what = f"request {r.request_id or '?'} (cycle {r.n}, {r.plan}, crid {r.crid})"
            if len(found) > 1:
                findings.add("decisions", f"{what}: {len(found)} requests share one "
                             f"client_request_id: {[f['id'] for f in found]}")
            if not found:
                if r.create_acked:
                    findings.add("decisions", f"{what}: acknowledged access.request lost")
                continue
            row = found[0]
            if r.request_id and row["id"] != r.request_id:
                findings.add("decisions", f"{what}: the store holds {row['id']} for its crid")
                continue
            state = row["state"]
            allowed = {r.state_acked}
            if r.decision_target and r.state_acked == "pending":
                allowed.add(r.decision_target)
            if r.plan == "timeout" and r.state_acked == "pending":
                allowed.add("timed_out")
            if r.state_seen:
                allowed = {r.state_seen}
            if state not in allowed:
                findings.add("decisions", f"{what}: state {state!r} in the store, expected one of "
                             f"{sorted(allowed)} (acked {r.state_acked!r}, open "
                             f"{r.decision_target!r})")
            if state in FINAL_REQUEST_STATES:
                r.state_seen = state
            if state == "pending" and row["approvals"] < len(r.votes_acked):
                findings.add("decisions", f"{what}: {row['approvals']} approvals in the store, "
                             f"{len(r.votes_acked)} votes acknowledged ({sorted(r.votes_acked)})")
            gs = grants_by_request.get(row["id"], [])
            if state == "approved" and len(gs) != 1:
                findings.add("grants", f"{what}: approved with {len(gs)} grants")
            if state != "approved" and gs:
                findings.add("grants", f"{what}: {state} but has grants {[g['id'] for g in gs]}")
            if len(gs) != 1:
                continue
            g = gs[0]
            if r.grant_id and g["id"] != r.grant_id:
                findings.add("grants", f"{what}: grant {g['id']} in the store, {r.grant_id} acked")
                continue
            if g["originator"] != r.client_id:
                findings.add("grants", f"{what}: grant bound to {g['originator']}, not the originator")
            if g["uses_total"] != r.uses_total:
                findings.add("grants", f"{what}: uses_total {g['uses_total']}, expected {r.uses_total}")
            _check_grant(r, g, what, findings)


    for key, found in by_key.items():
        if key not in known:
            findings.add("decisions", f"requests {[f['id'] for f in found]} with crid {key[1]} "
                         "exist that no client asked for")


def _check_grant(r: Req, g, what: str, findings: Findings) -> None:
    uses_left, gstate = g["uses_left"], g["state"]
    hi = r.uses_left if r.uses_left is not None else r.uses_total
    lo = hi - 1 if r.reveal_unknown else hi
    if not lo <= uses_left <= hi:
        findings.add("grants", f"{what}: uses_left {uses_left} in the store, acknowledged reveals "
                     f"allow {lo}..{hi}")
    if (uses_left == 0) != (gstate == "exhausted") and gstate not in ("revoked", "expired"):
        findings.add("grants", f"{what}: uses_left {uses_left} with state {gstate}")
    if gstate == "exhausted" and uses_left != 0:
        findings.add("grants", f"{what}: exhausted with {uses_left} uses left")
    if r.grant_end_seen:
        if gstate != r.grant_end_seen:
            findings.add("grants", f"{what}: grant {g['id']} was {r.grant_end_seen} and is now "
                         f"{gstate} (resurrected or changed after its end)")
        return
    if r.revoke == "acked" and gstate != "revoked":
        findings.add("grants", f"{what}: acknowledged revoke lost: grant is {gstate}")
    if gstate == "revoked" and r.revoke == "none":
        findings.add("grants", f"{what}: grant revoked though nobody revoked it")
    if gstate == "expired" and not r.short_ttl:
        findings.add("grants", f"{what}: grant expired early (ttl far in the future)")
    if gstate in GRANT_ENDS:
        r.grant_end_seen = gstate
