"""End-to-end tests of the Discord approver: the real assentd against tools/mock-discord.

Each test starts its own daemon (TCP on port 0, a private data directory, tokens for the
three roles) wired to one shared mock Discord, which is reset between tests. The daemon
is driven over JSON-RPC like any client; Discord users are driven through the mock's
control API (clicks signed with the mock's application key, reactions, faults).

Covers ASSENT-DISC-001..009 and 011: approve, deny, quorum of two, unlisted clicker, forged
and stale signatures, a replayed interaction, a 429 storm, 500s and lost answers, a daemon
killed with posts pending (no loss, no duplicate), a post Discord refuses for good (given
up, audited, shown on the request), reactions mode, and the edits on timeout, cancel and a
decision taken elsewhere.

Run: /usr/bin/python3 -m pytest -q tests/e2e/test_discord.py
The daemon comes from $ASSENTD_BIN, else $ASSENT_BUILD_DIR/assentd, else build/assentd.
"""

import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "mock-discord"))
from mockctl import MockDiscordProcess  # noqa: E402

CHANNEL = "1100000000000000001"
ALICE = "1200000000000000001"
BOB = "1200000000000000002"
MALLORY = "100000000000000666"
APPROVE = "\u2705"
DENY = "\u274c"


def _find_assentd():
    if os.environ.get("ASSENTD_BIN"):
        return Path(os.environ["ASSENTD_BIN"])
    for d in (os.environ.get("ASSENT_BUILD_DIR"), REPO / "build", REPO / "build-discord"):
        if d and (Path(d) / "assentd").is_file():
            return Path(d) / "assentd"
    return None


ASSENTD = _find_assentd()


def _discord_wired():
    """True when this assentd build wires the Discord approver: given an unreadable bot
    token file, a wired daemon refuses to start; an unwired one ignores the flags."""
    if ASSENTD is None:
        return False
    d = tempfile.mkdtemp(prefix="assent-dprobe-", dir="/tmp")
    try:
        proc = subprocess.Popen(
            [str(ASSENTD), "--data-dir", d, "--listen", "tcp://127.0.0.1:0",
             "--discord-public-key", "00" * 32, "--discord-bot-token-file", d + "/missing",
             "--discord-channel-id", CHANNEL, "--discord-allow-user", ALICE],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return proc.returncode != 0 and b"bot token" in proc.stderr.read()
            if Path(d, "assentd.json").exists():
                break
            time.sleep(0.02)
        proc.terminate()
        proc.wait(10)
        return False
    finally:
        shutil.rmtree(d, ignore_errors=True)


# The daemon wires the Discord approver (src/daemon/daemon.cc): a missing binary or an
# unwired daemon is a failure of the build, never a reason to skip.
if ASSENTD is None:
    raise RuntimeError("no assentd binary: build it (ninja -C build assentd) or set ASSENTD_BIN")


def test_the_daemon_wires_the_discord_approver():
    assert _discord_wired(), (
        "this assentd does not wire the Discord approver: src/daemon/daemon.cc must build "
        "discord::DiscordApprover from the --discord-* flags (docs/discord.md, 'Wiring in assentd')")


def wait_until(predicate, timeout=15.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class RpcError(Exception):
    def __init__(self, error):
        super().__init__(json.dumps(error))
        self.error = error


class Daemon:
    """One assentd process with tokens for every role and an agent identity."""

    def __init__(self, mock, home: Path, mode="interactions", extra=(), allow=(ALICE, BOB)):
        self.mock = mock
        self.home = home
        self.data_dir = home / "data"
        self.tokens = {role: "tok_" + secrets.token_urlsafe(24) for role in
                       ("admin", "approver", "agent")}
        entries = [{"name": f"{role}-1", "role": role,
                    "hash": "blake2b256:" + hashlib.blake2b(t.encode(), digest_size=32).hexdigest()}
                   for role, t in self.tokens.items()]
        self.tokens_file = home / "tokens.json"
        self.tokens_file.write_text(json.dumps({"version": 1, "tokens": entries}))
        os.chmod(self.tokens_file, 0o600)
        self.bot_token_file = home / "bot.token"
        self.bot_token_file.write_text(mock.bot_token + "\n")
        os.chmod(self.bot_token_file, 0o600)
        self.args = [str(ASSENTD), "--data-dir", str(self.data_dir),
                     "--listen", "tcp://127.0.0.1:0", "--tokens-file", str(self.tokens_file),
                     "--discord-api-base", mock.base_url,
                     "--discord-public-key", mock.public_key,
                     "--discord-bot-token-file", str(self.bot_token_file),
                     "--discord-channel-id", CHANNEL, "--discord-mode", mode, *extra]
        for user in allow:
            self.args += ["--discord-allow-user", user]
        self.proc = None
        self.url = None
        self.client = None
        self.log = home / "assentd.log"

    def start(self):
        discovery = self.data_dir / "assentd.json"
        if discovery.exists():
            discovery.unlink()
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "ab"), stdin=subprocess.DEVNULL)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"assentd exited {self.proc.returncode}: "
                                     f"{self.log.read_text()[-2000:]}")
            return discovery.exists() and json.loads(discovery.read_text())
        info = wait_until(ready, what="assentd's discovery file")
        tcp = [l for l in info["listeners"] if l["transport"] == "tcp"][0]
        self.url = "http://" + tcp["address"]
        self.mock.set_interactions_url(self.url + "/discord/interactions")
        return self

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def rpc(self, method, params=None, role="agent"):
        headers = {"Content-Type": "application/json", "Assent-Api-Version": "1",
                   "Authorization": "Bearer " + self.tokens[role]}
        if role == "agent" and self.client:
            headers["Assent-Client-Id"] = self.client["client_id"]
            headers["Assent-Client-Key"] = self.client["client_key"]
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                           "params": params or {}}).encode()
        req = urllib.request.Request(self.url + "/rpc", data=body, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                answer = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            answer = json.loads(e.read())
        if "error" in answer:
            raise RpcError(answer["error"])
        return answer["result"]

    def hello(self):
        self.client = self.rpc("client.hello", {"kind": "agent", "name": "e2e-agent"})
        return self.client

    def metrics(self):
        req = urllib.request.Request(self.url + "/metrics", headers={
            "Authorization": "Bearer " + self.tokens["admin"]})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.read().decode()

    def outbox_depth(self):
        for line in self.metrics().splitlines():
            if line.startswith("assent_outbox_depth"):
                return float(line.split()[-1])
        raise AssertionError("no assent_outbox_depth metric")

    # ---- domain helpers ----
    def put_secret(self, name="GITHUB_TOKEN", approvals_required=1):
        return self.rpc("secret.put", {"name": name, "value": "ghp_" + "x" * 36,
                                       "policy": {"approvals_required": approvals_required}},
                        role="admin")

    def request(self, name="GITHUB_TOKEN", **extra):
        params = {"secrets": [name], "reason": "e2e: publish the release", **extra}
        return self.rpc("access.request", params)["request"]

    def state(self, request_id):
        return self.rpc("access.get", {"request_id": request_id}, role="approver")["request"]


@pytest.fixture(scope="module")
def mock():
    with MockDiscordProcess() as m:
        yield m


@pytest.fixture
def home():
    h = Path(tempfile.mkdtemp(prefix="assent-disc-", dir="/tmp"))
    yield h
    shutil.rmtree(h, ignore_errors=True)


@pytest.fixture
def make_daemon(mock, home):
    mock.reset()
    made = []

    def make(**kw):
        d = Daemon(mock, home, **kw)
        made.append(d)
        d.start()
        d.hello()
        return d
    yield make
    for d in made:
        d.stop()
    log = home / "assentd.log"
    if log.exists():
        # ASSENT-DISC-010: the bot token never reaches the log.
        assert mock.bot_token not in log.read_text()


def message_for(mock, request_id, timeout=15.0):
    return mock.wait_for_message(lambda m: request_id in m["content"], timeout_s=timeout)


def buttons(message):
    return [c for row in message["components"] for c in row.get("components", [])]


# ---- interactions mode -------------------------------------------------------------------

def test_approval_message_names_everything_the_human_must_see(make_daemon, mock):
    d = make_daemon()
    d.put_secret()
    req = d.request(command={"argv": ["npm", "publish"], "cwd": "/srv/app"}, ttl_s=120)
    msg = message_for(mock, req["request_id"])
    for needle in ("e2e-agent", "GITHUB_TOKEN", "e2e: publish the release", "npm publish",
                   "/srv/app", "2 min", req["request_id"]):
        assert needle in msg["content"], needle
    styles = sorted(b["style"] for b in buttons(msg))
    assert styles == [3, 4]
    create = [r for r in mock.requests(operation="create_message")]
    assert create and create[0]["body"]["enforce_nonce"] is True
    assert 1 <= len(create[0]["body"]["nonce"]) <= 25
    assert create[0]["auth"] == "ok"


def test_approve_click_approves_and_removes_the_buttons(make_daemon, mock):
    d = make_daemon()
    d.put_secret()
    req = d.request()
    msg = message_for(mock, req["request_id"])
    result = mock.click(msg["id"], button="approve", user_id=ALICE)
    assert result["deliveries"][0]["status"] == 200
    assert result["deliveries"][0]["outcome"] == "updated_message"
    assert result["message"]["components"] == []
    assert "Approved" in result["message"]["content"]
    # Committed before the 200 went out: the state is already there.
    got = d.state(req["request_id"])
    assert got["state"] == "approved"
    assert got["grant_id"]


def test_deny_click_denies(make_daemon, mock):
    d = make_daemon()
    d.put_secret()
    req = d.request()
    msg = message_for(mock, req["request_id"])
    result = mock.click(msg["id"], button="deny", user_id=ALICE)
    assert result["deliveries"][0]["outcome"] == "updated_message"
    assert result["message"]["components"] == []
    assert "Denied" in result["message"]["content"]
    assert d.state(req["request_id"])["state"] == "denied"


def test_quorum_of_two_needs_two_distinct_users(make_daemon, mock):
    d = make_daemon()
    d.put_secret(approvals_required=2)
    req = d.request()
    msg = message_for(mock, req["request_id"])
    first = mock.click(msg["id"], button="approve", user_id=ALICE)
    assert first["deliveries"][0]["outcome"] == "updated_message"
    assert len(buttons(first["message"])) == 2  # still open
    assert "1 of 2" in first["message"]["content"]
    assert d.state(req["request_id"])["state"] == "pending"
    again = mock.click(msg["id"], button="approve", user_id=ALICE)
    assert again["deliveries"][0]["outcome"] == "ephemeral_reply"
    assert d.state(req["request_id"])["approvals"] == 1
    second = mock.click(msg["id"], button="approve", user_id=BOB)
    assert second["message"]["components"] == []
    assert d.state(req["request_id"])["state"] == "approved"


def test_unlisted_clicker_gets_an_ephemeral_refusal_and_decides_nothing(make_daemon, mock):
    d = make_daemon()
    d.put_secret()
    req = d.request()
    msg = message_for(mock, req["request_id"])
    result = mock.click(msg["id"], button="approve", user_id=MALLORY)
    assert result["deliveries"][0]["outcome"] == "ephemeral_reply"
    assert result["ephemeral_replies"]
    assert len(buttons(mock.message(msg["id"]))) == 2
    got = d.state(req["request_id"])
    assert got["state"] == "pending" and got["approvals"] == 0


@pytest.mark.parametrize("attack", [{"bad_signature": True}, {"no_signature": True},
                                    {"tamper_body": True}, {"timestamp_skew_s": -600},
                                    {"timestamp_skew_s": 600}])
def test_forged_or_stale_deliveries_get_401_and_decide_nothing(make_daemon, mock, attack):
    d = make_daemon()
    d.put_secret()
    req = d.request()
    msg = message_for(mock, req["request_id"])
    result = mock.click(msg["id"], button="approve", user_id=ALICE, **attack)
    assert result["deliveries"][0]["status"] == 401
    body = result["deliveries"][0]["body"]
    assert (body if isinstance(body, dict) else json.loads(body))["error"] == "bad_signature"
    assert d.state(req["request_id"])["state"] == "pending"


def test_endpoint_passes_the_portals_ping_check(make_daemon, mock):
    make_daemon()
    result = mock.ping(verify=True)
    assert result["pong"] is True
    assert result["verified"] is True


def test_replayed_interaction_counts_once(make_daemon, mock):
    d = make_daemon()
    d.put_secret(approvals_required=2)
    req = d.request()
    msg = message_for(mock, req["request_id"])
    result = mock.click(msg["id"], button="approve", user_id=ALICE, duplicate=True)
    assert len(result["deliveries"]) == 2
    assert [x["status"] for x in result["deliveries"]] == [200, 200]
    assert d.state(req["request_id"])["approvals"] == 1


def test_click_on_a_finished_request_is_already_decided(make_daemon, mock):
    d = make_daemon()
    d.put_secret()
    req = d.request()
    msg = message_for(mock, req["request_id"])
    custom_id = [b["custom_id"] for b in buttons(msg) if b["style"] == 3][0]
    mock.click(msg["id"], button="deny", user_id=ALICE)
    late = mock.click(msg["id"], custom_id=custom_id, user_id=BOB, force=True)
    assert late["deliveries"][0]["outcome"] == "ephemeral_reply"
    assert "already decided" in json.dumps(late["ephemeral_replies"])
    assert d.state(req["request_id"])["state"] == "denied"


# ---- the outbox under faults ---------------------------------------------------------

def test_429_storm_is_waited_out_and_posts_once(make_daemon, mock):
    mock.faults({"route": "create_message", "kind": "429", "count": 4, "retry_after_s": 0.3})
    d = make_daemon()
    d.put_secret()
    req = d.request()
    message_for(mock, req["request_id"], timeout=20)
    calls = mock.requests(operation="create_message")
    limited = [c for c in calls if c["status"] == 429]
    assert len(limited) == 4
    # Never earlier than Discord asked.
    times = [c["time"] for c in calls]
    for before, after in zip(times, times[1:]):
        assert after - before >= 0.29
    assert len([m for m in mock.messages() if req["request_id"] in m["content"]]) == 1


def test_server_errors_and_lost_answers_post_exactly_once(make_daemon, mock):
    mock.faults({"route": "create_message", "kind": "500", "count": 2},
                {"route": "create_message", "kind": "drop", "count": 1, "commit": True})
    d = make_daemon()
    d.put_secret()
    req = d.request()
    wait_until(lambda: d.outbox_depth() == 0, timeout=20, what="the outbox to drain")
    posted = [m for m in mock.messages() if req["request_id"] in m["content"]]
    assert len(posted) == 1
    assert any(c.get("nonce_hit") for c in mock.requests(operation="create_message"))


def test_daemon_killed_with_posts_pending_loses_nothing_and_posts_nothing_twice(
        make_daemon, mock):
    # Every post reaches Discord but its answer is lost: the daemon cannot know.
    mock.faults({"route": "create_message", "kind": "drop", "count": -1, "commit": True})
    d = make_daemon()
    d.put_secret()
    ids = [d.request(client_request_id=f"r{i}")["request_id"] for i in range(3)]
    mock.wait_for_messages(3, timeout_s=15)
    d.kill()
    mock.clear_faults()
    d.start()
    wait_until(lambda: d.outbox_depth() == 0, timeout=20, what="the outbox to drain")
    for rid in ids:
        assert len([m for m in mock.messages() if rid in m["content"]]) == 1, rid
    # The buttons of the first posts still work after the restart.
    msg = message_for(mock, ids[0])
    assert mock.click(msg["id"], button="approve", user_id=ALICE)["deliveries"][0][
        "outcome"] == "updated_message"
    assert d.state(ids[0])["state"] == "approved"


def test_daemon_killed_while_rate_limited_posts_after_restart(make_daemon, mock):
    mock.faults({"route": "create_message", "kind": "429", "count": -1, "retry_after_s": 1})
    d = make_daemon()
    d.put_secret()
    rid = d.request()["request_id"]
    wait_until(lambda: mock.requests(operation="create_message"), what="a post attempt")
    d.kill()
    mock.clear_faults()
    d.start()
    message_for(mock, rid, timeout=20)
    assert len([m for m in mock.messages() if rid in m["content"]]) == 1


def test_a_post_discord_refuses_is_given_up_audited_and_shown_on_the_request(make_daemon, mock):
    # ASSENT-DISC-011, ASSENT-AUDIT-009, ASSENT-REQ-028: a wrong channel id is a 404 no
    # retry can fix; the post is given up at once, audited, and the request says so.
    mock.config(channels=["1100000000000000999"])
    d = make_daemon()
    d.put_secret()
    req = d.request()
    assert req["approver_delivery_failed"] is None
    rid = req["request_id"]

    def marked():
        r = d.state(rid)
        return r if r["approver_delivery_failed"] else None
    got = wait_until(marked, what="the request to show the failed delivery")
    assert got["state"] == "pending"
    assert got["approver_delivery_failed"]["attempts"] == 1
    # The agent that asked sees it too: nobody on Discord saw its request.
    mine = d.rpc("access.get", {"request_id": rid})["request"]
    assert mine["approver_delivery_failed"] == got["approver_delivery_failed"]
    posts = mock.requests(operation="create_message")
    assert [c["status"] for c in posts] == [404]
    assert d.outbox_depth() == 0

    entries = d.rpc("audit.list", {"limit": 1000}, role="admin")["entries"]
    failed = [e for e in entries if e["action"] == "approver.delivery_failed"]
    assert len(failed) == 1
    assert failed[0]["actor"] == {"role": "system"}
    assert failed[0]["outcome"] == "error"
    assert failed[0]["subject"] == {"request_id": rid, "count": 1}
    assert "Unknown Channel" not in json.dumps(entries)
    assert d.rpc("audit.verify", role="admin")["ok"] is True


# ---- edits when the request ends elsewhere -------------------------------------------

def test_message_is_edited_when_the_request_times_out(make_daemon, mock):
    d = make_daemon(extra=("--timeout-interactive-s", "2"))
    d.put_secret()
    rid = d.request(timeout_s=2)["request_id"]
    msg = message_for(mock, rid)
    edited = mock.wait_until(lambda: (lambda m: m if "Timed out" in m["content"] else None)(
        mock.message(msg["id"])), timeout_s=20, what="the timed-out edit")
    assert edited["components"] == []
    assert d.state(rid)["state"] == "timed_out"


def test_message_is_edited_when_the_request_is_cancelled(make_daemon, mock):
    d = make_daemon()
    d.put_secret()
    rid = d.request()["request_id"]
    msg = message_for(mock, rid)
    d.rpc("access.cancel", {"request_id": rid})
    edited = mock.wait_until(lambda: (lambda m: m if "Cancelled" in m["content"] else None)(
        mock.message(msg["id"])), timeout_s=15, what="the cancelled edit")
    assert edited["components"] == []


def test_message_is_edited_when_decided_through_rpc(make_daemon, mock):
    d = make_daemon()
    d.put_secret()
    rid = d.request()["request_id"]
    msg = message_for(mock, rid)
    d.rpc("access.decide", {"request_id": rid, "decision": "approve"}, role="approver")
    edited = mock.wait_until(lambda: (lambda m: m if "Approved" in m["content"] else None)(
        mock.message(msg["id"])), timeout_s=15, what="the approved edit")
    assert edited["components"] == []


# ---- reactions mode ------------------------------------------------------------------

def test_reactions_mode_votes_by_reaction_and_ignores_the_bot_and_strangers(make_daemon, mock):
    # The bot itself is allowlisted on purpose: its own ✅ must still not count.
    d = make_daemon(mode="reactions", allow=(ALICE, BOB, mock.application_id))
    d.put_secret()
    rid = d.request()["request_id"]
    msg = message_for(mock, rid)
    assert msg["components"] == []
    with_reactions = mock.wait_until(
        lambda: (lambda m: m if len(m.get("reactions") or []) == 2 else None)(
            mock.message(msg["id"])), what="the bot's two reactions")
    assert all(r["me"] for r in with_reactions["reactions"])
    mock.react(msg["id"], APPROVE, MALLORY)
    time.sleep(3)  # two poll intervals: nothing may happen (a negative check)
    assert d.state(rid)["state"] == "pending"
    mock.react(msg["id"], APPROVE, ALICE)
    wait_until(lambda: d.state(rid)["state"] == "approved", timeout=20, what="approval")
    edited = mock.wait_until(lambda: (lambda m: m if "Approved" in m["content"] else None)(
        mock.message(msg["id"])), timeout_s=15, what="the approved edit")
    assert edited["components"] == []


def test_reactions_mode_deny(make_daemon, mock):
    d = make_daemon(mode="reactions")
    d.put_secret()
    rid = d.request()["request_id"]
    msg = message_for(mock, rid)
    mock.react(msg["id"], DENY, BOB)
    wait_until(lambda: d.state(rid)["state"] == "denied", timeout=20, what="denial")
