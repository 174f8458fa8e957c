"""The implementation under test: reached by URL plus tokens, or launched from a command
template per PROTOCOL.md section 15 ("Conformance target interface")."""

from __future__ import annotations

import hashlib
import json
import os
import secrets as pysecrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from typing import Any, Dict, List, Optional

from . import wire
from .client import Client
from .spec import Spec

ROLES = ("admin", "approver", "approver2", "agent")
ROLE_OF = {"admin": "admin", "approver": "approver", "approver2": "approver", "agent": "agent"}

DISCORD_CHANNEL_ID = "1100000000000000001"
DISCORD_ALLOWED_USERS = ("1200000000000000001", "1200000000000000002")
DISCORD_STRANGER = "1300000000000000666"

PLACEHOLDERS = {
    "data_dir": "data directory of this instance (the suite creates its parent; the target creates it)",
    "tokens_file": "tokens file written by the suite (tokens.json#/definitions/TokensFile)",
    "unix_socket": "{data_dir}/run/assentd.sock",
    "discord_url": "Discord API base URL (the mock's /api/v10)",
    "discord_public_key": "Ed25519 application public key, 64 hex",
    "discord_bot_token_file": "file (0600) holding the bot token",
    "discord_channel_id": "channel the approval messages go to",
    "discord_application_id": "Discord application id",
    "discord_allow_user": "first allowlisted Discord user id",
    "discord_allow_user2": "second allowlisted Discord user id",
    "heartbeat_s": "SSE heartbeat interval (1)",
    "timeout_interactive_s": "default interactive decision timeout (limits.json value)",
    "timeout_unattended_s": "default unattended decision timeout (limits.json value)",
    "work_dir": "scratch directory of this instance",
    "event_retention_count_max": "events kept for replay (limits.json value; lower for the "
                                 "events/retention cases) - optional, ASSENT-TGT-007",
    "event_retention_s": "seconds events are kept for replay (limits.json value) - optional, "
                         "ASSENT-TGT-007",
}
# Placeholders a launch command may leave out: the target then does not declare the option,
# and the cases that need it are skipped (not failed).
OPTIONAL_PLACEHOLDERS = ("event_retention_count_max", "event_retention_s")


class LaunchError(Exception):
    pass


def token_hash(token: str) -> str:
    return "blake2b256:" + hashlib.blake2b(token.encode(), digest_size=32).hexdigest()


class PeerPool:
    """Distinct TCP peers: Linux routes all of 127.0.0.0/8 to lo, so a client socket bound
    to 127.0.0.N is a different remote address to the server (lockout is per peer)."""

    def __init__(self) -> None:
        self.n = 1

    def next(self) -> str:
        while True:
            self.n += 1
            a, b, c = (self.n >> 16) & 255, (self.n >> 8) & 255, self.n & 255
            if c in (0, 255) or self.n >= (1 << 24):
                continue
            return "127.%d.%d.%d" % (a, b, c)


PEERS = PeerPool()


class Tokens:
    def __init__(self, given: Optional[Dict[str, Optional[str]]] = None):
        if given is None:
            self.by_role = {r: pysecrets.token_urlsafe(32) for r in ROLES}
        else:
            self.by_role = {r: v for r, v in given.items() if v}
        for role, tok in self.by_role.items():
            wire.REDACTIONS[tok] = "<%s token>" % role

    def file_json(self) -> Dict[str, Any]:
        return {"version": 1, "tokens": [
            {"name": "conformance-" + role, "role": ROLE_OF[role], "hash": token_hash(tok)}
            for role, tok in self.by_role.items()]}


class Target:
    """A running implementation the cases talk to."""

    def __init__(self, spec: Spec, tokens: Tokens, *, tcp: Optional[wire.Endpoint],
                 unix: Optional[wire.Endpoint], launcher: Optional["Launcher"] = None,
                 mock: Any = None, name: str = "main"):
        self.spec = spec
        self.tokens = tokens
        self.tcp = tcp
        self.unix = unix
        self.launcher = launcher
        self.mock = mock
        self.name = name
        self.info: Optional[Dict[str, Any]] = None
        self.info_error: Optional[str] = None
        self.profiles: List[str] = ["core"]

    def token_labels(self) -> Dict[str, str]:
        return {tok: "the %s" % role for role, tok in self.tokens.by_role.items()}

    def endpoint(self, transport: str = "tcp") -> wire.Endpoint:
        ep = self.tcp if transport == "tcp" else self.unix
        if ep is None:
            raise LaunchError("the target has no %s listener" % transport)
        return ep

    def client(self, role: Optional[str] = "admin", *, transport: str = "tcp",
               source: Optional[str] = None, label: str = "", **kw) -> Client:
        token = self.tokens.by_role.get(role) if role else None
        return Client(self, endpoint=self.endpoint(transport), token=token,
                      role=ROLE_OF.get(role) if role else None, source=source,
                      label=label or (role or "no token"), **kw)

    def probe(self) -> None:
        """Learn the target's profiles from system.info (ASSENT-RPC-032)."""
        from . import wire as _w
        saved = _w.Recorder.current
        _w.Recorder.current = None
        try:
            reply = self.client("admin").call("system.info")
            if reply.result and isinstance(reply.result.get("profiles"), list):
                self.info = reply.result
                self.profiles = list(reply.result["profiles"])
            else:
                self.info_error = "system.info answered %s" % (reply.json if reply.json_ok else reply.status)
        except Exception as e:  # the cases will report the details
            self.info_error = "system.info failed: %s" % e
        finally:
            _w.Recorder.current = saved


def declares(template: Optional[str], placeholder: str) -> bool:
    """Whether a launch command carries `{placeholder}`: how a launchable target declares an
    optional option of PROTOCOL.md section 15."""
    if not template:
        return False
    return any(("{%s}" % placeholder) in arg for arg in shlex.split(template))


class Launcher:
    """Starts one instance from the launch template and stops it."""

    def __init__(self, template: str, root: str, name: str, spec: Spec, tokens: Tokens,
                 mock: Any = None, timeout_s: float = 30.0, tokens_mode: int = 0o600,
                 overrides: Optional[Dict[str, str]] = None):
        self.template = template
        self.overrides = dict(overrides or {})
        unknown = sorted(k for k in self.overrides if k not in PLACEHOLDERS)
        if unknown:
            raise LaunchError("unknown placeholder(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(PLACEHOLDERS))))
        self.name = name
        self.spec = spec
        self.tokens = tokens
        self.mock = mock
        self.timeout_s = timeout_s
        self.work_dir = os.path.join(root, name)
        self.data_dir = os.path.join(self.work_dir, "data")
        self.tokens_file = os.path.join(self.work_dir, "tokens.json")
        self.bot_token_file = os.path.join(self.work_dir, "discord-bot-token")
        self.log_path = os.path.join(self.work_dir, "target.log")
        self.tokens_mode = tokens_mode
        self.proc: Optional[subprocess.Popen] = None
        self.discovery: Optional[Dict[str, Any]] = None
        self.discovery_path = os.path.join(self.data_dir, "assentd.json")
        self.pid_path = os.path.join(self.data_dir, "assentd.pid")
        self.args: List[str] = []
        self.startup_s: Optional[float] = None
        os.makedirs(self.work_dir, mode=0o700, exist_ok=True)
        self._write_files()

    def _write_files(self) -> None:
        with open(self.tokens_file, "w") as f:
            json.dump(self.tokens.file_json(), f, indent=1)
        os.chmod(self.tokens_file, self.tokens_mode)
        bot = self.mock.bot_token if self.mock is not None else "mock.offline.token"
        fd = os.open(self.bot_token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(bot + "\n")

    def values(self) -> Dict[str, str]:
        lim = self.spec.limits
        m = self.mock
        return {
            "data_dir": self.data_dir,
            "tokens_file": self.tokens_file,
            "unix_socket": os.path.join(self.data_dir, "run", "assentd.sock"),
            "discord_url": m.base_url if m is not None else "http://127.0.0.1:9/api/v10",
            "discord_public_key": m.public_key if m is not None else "00" * 32,
            "discord_bot_token_file": self.bot_token_file,
            "discord_channel_id": DISCORD_CHANNEL_ID,
            "discord_application_id": m.application_id if m is not None else "1575369956621684736",
            "discord_allow_user": DISCORD_ALLOWED_USERS[0],
            "discord_allow_user2": DISCORD_ALLOWED_USERS[1],
            "heartbeat_s": "1",
            "timeout_interactive_s": str(lim.get("timeout_interactive_s_default", 1800)),
            "timeout_unattended_s": str(lim.get("timeout_unattended_s_default", 300)),
            "work_dir": self.work_dir,
            "event_retention_count_max": str(lim.get("event_retention_count_max", 100000)),
            "event_retention_s": str(lim.get("event_retention_s", 86400)),
            **self.overrides,
        }

    def command(self) -> List[str]:
        vals = self.values()
        out = []
        for arg in shlex.split(self.template):
            try:
                out.append(arg.format_map(vals))
            except KeyError as e:
                raise LaunchError("unknown placeholder {%s} in --launch; known: %s"
                                  % (e.args[0], ", ".join(sorted(PLACEHOLDERS))))
        return out

    def start(self) -> Target:
        self.args = self.command()
        if os.path.exists(self.discovery_path):
            os.unlink(self.discovery_path)
        log = open(self.log_path, "ab")
        started = time.monotonic()
        try:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        except OSError as e:
            raise LaunchError("cannot start %s: %s" % (self.args[0], e))
        finally:
            log.close()
        deadline = started + self.timeout_s
        disc = None
        # Poll for the discovery file (written atomically once ready), never sleep blindly.
        while True:
            if self.proc.poll() is not None:
                raise LaunchError("the target exited with status %s before it was ready; log %s:\n%s"
                                  % (self.proc.returncode, self.log_path, self.log_tail()))
            if os.path.exists(self.discovery_path):
                try:
                    with open(self.discovery_path) as f:
                        disc = json.load(f)
                    break
                except (OSError, ValueError):
                    pass
            if time.monotonic() > deadline:
                self.stop()
                raise LaunchError("no discovery file %s after %.0fs; log:\n%s"
                                  % (self.discovery_path, self.timeout_s, self.log_tail()))
            time.sleep(0.005)
        self.discovery = disc
        tcp = unix = None
        for l in disc.get("listeners", []) if isinstance(disc, dict) else []:
            if l.get("transport") == "tcp" and tcp is None:
                tcp = wire.Endpoint("tcp", l["address"])
            elif l.get("transport") == "unix" and unix is None:
                unix = wire.Endpoint("unix", l["address"])
        if tcp is None:
            self.stop()
            raise LaunchError("the discovery file names no TCP listener (launch with "
                              "--listen tcp://127.0.0.1:0): %s" % json.dumps(disc))
        host, _ = tcp.host_port()
        if not host.startswith("127."):
            self.stop()
            raise LaunchError("the suite only talks to 127.0.0.0/8; the TCP listener is %s" % tcp.address)
        target = Target(self.spec, self.tokens, tcp=tcp, unix=unix, launcher=self, mock=self.mock,
                        name=self.name)
        # Then /readyz (ASSENT-HTTP-006) until 200.
        while True:
            ex = wire.send(tcp, "GET", "/readyz", [], None, timeout=2.0, keep=False)
            if ex.status == 200:
                break
            if self.proc.poll() is not None:
                raise LaunchError("the target exited with status %s; log:\n%s"
                                  % (self.proc.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                self.stop()
                raise LaunchError("/readyz never answered 200 (last: %s %s)"
                                  % (ex.status, ex.transport_error or ex.resp_body[:100]))
            time.sleep(0.005)
        self.startup_s = time.monotonic() - started
        return target

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> Optional[int]:
        """Stop the instance this launcher started (by its pid only)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def log_tail(self, n: int = 30) -> str:
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(wire.redact_text(l) for l in lines[-n:])
        except OSError:
            return "(no log)"


def start_mock(mock_dir: str, stderr_path: str):
    """The mock Discord (tools/mock-discord), or None when it cannot run here."""
    if not os.path.exists(os.path.join(mock_dir, "mockctl.py")):
        return None, "no mock Discord at %s" % mock_dir
    sys.path.insert(0, mock_dir)
    try:
        import mockctl  # type: ignore
    except ImportError as e:
        return None, "cannot import mockctl: %s" % e
    err = open(stderr_path, "ab")
    try:
        mock = mockctl.MockDiscordProcess(stderr=err).start()
    except Exception as e:
        err.close()
        return None, "mock Discord did not start: %s" % e
    return mock, None


def attach_mock(control_url: str):
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "..", "tools", "mock-discord"))
    import mockctl  # type: ignore
    return mockctl.MockControl(control_url)


def parse_target_url(url: str) -> wire.Endpoint:
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http" or not u.hostname:
        raise LaunchError("--target-url must be http://127.x.y.z:PORT (got %s)" % url)
    if not u.hostname.startswith("127."):
        raise LaunchError("the suite only talks to 127.0.0.0/8 (got %s)" % u.hostname)
    return wire.Endpoint("tcp", "%s:%d" % (u.hostname, u.port or 80))


def make_workdir() -> str:
    return tempfile.mkdtemp(prefix="assent-conf-")


def remove_workdir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
