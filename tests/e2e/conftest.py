"""Fixtures for the end-to-end tests of the `assent` CLI: real processes, a private
ASSENT_HOME per test, no fixed ports, readiness polled (never slept on).

The binary comes from $ASSENT_BIN, else $ASSENT_BUILD_DIR/assent, else build/assent,
else build-cli/assent under the repository root. Every daemon a test starts is stopped
at teardown (SIGTERM, then SIGKILL), whatever the test did.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _find_binary():
    if os.environ.get("ASSENT_BIN"):
        return Path(os.environ["ASSENT_BIN"])
    dirs = [os.environ.get("ASSENT_BUILD_DIR"), REPO / "build", REPO / "build-cli"]
    for d in dirs:
        if d and (Path(d) / "assent").is_file():
            return Path(d) / "assent"
    return None


ASSENT = _find_binary()


def pytest_collection_modifyitems(config, items):
    # A missing binary is a failure, not a skip: the test command builds it, so its
    # absence means the build is broken, and a skipped suite would hide that.
    if ASSENT is None and any("cli" in getattr(item, "fixturenames", ()) for item in items):
        raise pytest.UsageError("no assent binary: build it (scripts/build.sh) or set ASSENT_BIN")


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Polls `predicate` until it returns a truthy value; fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Cli:
    """Runs `assent` with a private ASSENT_HOME."""

    def __init__(self, home: Path):
        self.home = home
        self.env = dict(os.environ)
        self.env["ASSENT_HOME"] = str(home)
        self.env.pop("ASSENT_SERVER", None)
        self.env.pop("ASSENT_TOKEN_FILE", None)
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.admin_token_file = home / "admin.token"
        self.approver_token_file = home / "approver.token"
        self.started_pids = []

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def argv(self, *args):
        return [str(ASSENT), *[str(a) for a in args]]

    def run(self, *args, input=None, timeout=60, check=None, env=None):
        proc = subprocess.run(
            self.argv(*args),
            input=input,
            capture_output=True,
            timeout=timeout,
            env=env or self.env,
        )
        if check is not None:
            assert proc.returncode == check, (
                f"assent {' '.join(map(str, args))}: exit {proc.returncode}, expected {check}\n"
                f"stdout: {proc.stdout.decode(errors='replace')}\n"
                f"stderr: {proc.stderr.decode(errors='replace')}"
            )
        return proc

    def json(self, *args, check=0, **kw):
        proc = self.run("--json", *args, check=check, **kw)
        return json.loads(proc.stdout)

    def popen(self, *args, **kw):
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        kw.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.Popen(self.argv(*args), env=self.env, **kw)

    # ---- setup helpers ----
    def init(self, *extra):
        return self.json(
            "init",
            "--admin-token-file", self.admin_token_file,
            "--approver-token-file", self.approver_token_file,
            *extra,
        )

    def start_daemon(self, *extra):
        info = self.json("daemon", "start", *extra)
        self.started_pids.append(info["pid"])
        return info

    def add_secret(self, name, value: bytes, *extra):
        return self.json("--as", "admin", "secret", "add", name, *extra, input=value)

    def pending_requests(self):
        return self.json("--as", "approver", "requests")["requests"]

    def wait_for_pending(self, timeout=10.0):
        """The id of the first pending request, once one exists."""
        return wait_until(
            lambda: (self.pending_requests() or [None])[0], timeout, what="a pending request"
        )["request_id"]

    def request_state(self, request_id):
        for r in self.json("--as", "approver", "requests", "--all")["requests"]:
            if r["request_id"] == request_id:
                return r["state"]
        return None


def _stop_pid(pid):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture
def cli():
    # Short paths: a Unix socket path must fit in 108 bytes.
    home = Path(tempfile.mkdtemp(prefix="assent-e2e-", dir="/tmp"))
    c = Cli(home)
    try:
        yield c
    finally:
        pid_file = c.data_dir / "assentd.pid"
        pids = set(c.started_pids)
        if pid_file.exists():
            try:
                pids.add(int(pid_file.read_text().strip()))
            except ValueError:
                pass
        for pid in pids:
            _stop_pid(pid)
        shutil.rmtree(home, ignore_errors=True)


def domain_methods_available(cli):
    """False when the daemon built here still answers -32008 not_implemented for the
    domain methods (the engine not yet wired into assentd)."""
    proc = cli.run("--json", "--as", "admin", "secret", "list")
    if proc.returncode == 0:
        return True
    try:
        return json.loads(proc.stdout)["error"].get("name") != "not_implemented"
    except (ValueError, KeyError):
        return True


def require_domain_methods(cli):
    """Skips the test when the daemon cannot serve the domain methods: nothing the CLI
    does with secrets and requests can pass then."""
    assert domain_methods_available(cli), (
        "assentd answers -32008 not_implemented for secret.list: the daemon does not serve "
        "the engine's domain methods")


@pytest.fixture
def daemon(cli):
    """An initialised client-mode setup with a running daemon."""
    cli.init()
    cli.start_daemon("--heartbeat-s", "1")
    require_domain_methods(cli)
    return cli


@pytest.fixture
def standalone(cli):
    """An initialised standalone setup (no daemon)."""
    cli.init("--mode", "standalone")
    return cli
