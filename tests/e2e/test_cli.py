"""End-to-end tests of the `assent` CLI against a real assentd (and in standalone mode).

Each test runs real processes in a private ASSENT_HOME (see conftest.py). Approvals come
from a second `assent` process holding the approver token, as a human would give them.
Secrets whose policy is `approval: never` are used where the test is about the child
process rather than the decision.
"""

import hashlib
import json
import os
import signal
import subprocess
import time


from conftest import domain_methods_available, require_domain_methods, wait_until

PY = "/usr/bin/python3"
VALUE = b"hunter2-e2e-V4lue!"
DIGEST = hashlib.sha256(VALUE).hexdigest()

# A child that proves it saw the value without printing it, then prints it on both
# streams (to be masked) and exits 7.
CHILD = (
    "import hashlib, os, sys\n"
    "v = os.environ['DEMO'].encode()\n"
    "print('digest', hashlib.sha256(v).hexdigest())\n"
    "print('out', v.decode(), flush=True)\n"
    "print('err', v.decode(), file=sys.stderr, flush=True)\n"
    "sys.exit(7)\n"
)


def process_running(pid):
    """True while `pid` runs (a zombie waiting for its reaper does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def run_and_approve(cli, *run_args, approve=True, note=None):
    """Starts `assent run`, decides its request from another process, returns
    (exit code, stdout, stderr, request id)."""
    proc = cli.popen(*run_args)
    try:
        request_id = cli.wait_for_pending()
        if approve:
            cli.run("--as", "approver", "approve", request_id, check=0)
        else:
            extra = ["--note", note] if note else []
            cli.run("--as", "approver", "deny", request_id, *extra, check=0)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, err, request_id


# ---- the whole flow ----------------------------------------------------------------------

def test_run_with_approval_injects_masks_and_passes_the_exit_code(daemon):
    daemon.add_secret("DEMO", VALUE)
    code, out, err, request_id = run_and_approve(
        daemon, "run", "--secret", "DEMO", "--reason", "e2e", "--", PY, "-c", CHILD)
    assert code == 7, err
    assert f"digest {DIGEST}".encode() in out, "the child saw the exact value"
    assert VALUE not in out and VALUE not in err, "the value is masked on both streams"
    assert b"out ********" in out
    assert b"err ********" in err
    assert daemon.request_state(request_id) == "approved"
    grants = daemon.json("--as", "approver", "grants", "--request", request_id)["grants"]
    assert [g["state"] for g in grants] == ["exhausted"], "one reveal spent the single use"
    verify = daemon.json("--as", "admin", "audit", "verify")
    assert verify["ok"] is True and verify["entries"] > 0


def test_value_split_across_two_writes_is_still_masked(daemon):
    daemon.add_secret("DEMO", VALUE, "--approval", "never")
    child = (
        "import os, sys, time\n"
        "v = os.environ['DEMO']\n"
        "sys.stdout.write('a:' + v[:5]); sys.stdout.flush(); time.sleep(0.3)\n"
        "sys.stdout.write(v[5:] + ':b\\n'); sys.stdout.flush()\n"
    )
    proc = daemon.run("run", "--secret", "DEMO", "--", PY, "-c", child, check=0)
    assert VALUE not in proc.stdout
    assert proc.stdout == b"a:********:b\n"


def test_no_mask_passes_output_through(daemon):
    daemon.add_secret("DEMO", VALUE, "--approval", "never")
    proc = daemon.run("run", "--no-mask", "--secret", "DEMO", "--", PY, "-c",
                      "import os; print(os.environ['DEMO'])", check=0)
    assert proc.stdout == VALUE + b"\n"


def test_secret_goes_into_the_named_variable_and_stdin_passes_through(daemon):
    daemon.add_secret("db.password", VALUE, "--approval", "never")
    child = ("import os, sys, hashlib\n"
             "print(sys.stdin.read().upper(), end='')\n"
             "print('default' if 'db_password' not in os.environ else 'leak')\n"
             "print(hashlib.sha256(os.environ['PGPASSWORD'].encode()).hexdigest())\n")
    proc = daemon.run("run", "--secret", "db.password=PGPASSWORD", "--", PY, "-c", child,
                      input=b"hello\n", check=0)
    assert proc.stdout == b"HELLO\ndefault\n" + DIGEST.encode() + b"\n"


def test_the_value_is_never_written_to_disk(daemon):
    daemon.add_secret("DEMO", VALUE, "--approval", "never")
    daemon.run("run", "--secret", "DEMO", "--", PY, "-c", "pass", check=0)
    for root, _, files in os.walk(daemon.home):
        for f in files:
            path = os.path.join(root, f)
            if not os.path.isfile(path):
                continue  # the daemon's socket
            with open(path, "rb") as fh:
                assert VALUE not in fh.read(), f"plaintext found in {f}"


# ---- outcomes ----------------------------------------------------------------------------

def test_deny_exits_3_and_never_runs_the_command(daemon, tmp_path):
    daemon.add_secret("DEMO", VALUE)
    marker = tmp_path / "ran"
    code, out, err, request_id = run_and_approve(
        daemon, "run", "--secret", "DEMO", "--", PY, "-c", f"open({str(marker)!r}, 'w')",
        approve=False, note="not today")
    assert code == 3, err
    assert not marker.exists()
    assert b"denied" in err and b"not today" in err
    assert daemon.request_state(request_id) == "denied"


def test_timeout_exits_4(daemon):
    daemon.add_secret("DEMO", VALUE)
    start = time.monotonic()
    proc = daemon.run("run", "--secret", "DEMO", "--timeout", "1", "--", PY, "-c", "pass",
                      check=4)
    assert time.monotonic() - start < 15
    assert b"timed_out" in proc.stderr


def test_ctrl_c_while_waiting_cancels_the_request_and_exits_130(daemon):
    daemon.add_secret("DEMO", VALUE)
    proc = daemon.popen("run", "--secret", "DEMO", "--", PY, "-c", "pass")
    request_id = daemon.wait_for_pending()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 130, err
    assert daemon.request_state(request_id) == "cancelled"
    assert b"cancelling" in err


def test_request_wait_and_exit_codes_by_state(daemon):
    daemon.add_secret("DEMO", VALUE)
    created = daemon.json("request", "DEMO", "--reason", "look")
    assert created["request"]["state"] == "pending"
    request_id = created["request"]["request_id"]
    daemon.run("--as", "approver", "deny", request_id, check=0)
    daemon.run("cancel", request_id, check=1)  # already finished: -32003 invalid_state
    proc = daemon.popen("--json", "request", "DEMO", "--reason", "again", "--wait")
    second = daemon.wait_for_pending()
    daemon.run("--as", "approver", "approve", second, check=0)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert json.loads(out)["request"]["state"] == "approved"


# ---- the child process -------------------------------------------------------------------

def test_child_killed_by_a_signal_gives_128_plus_n(daemon):
    daemon.add_secret("DEMO", VALUE, "--approval", "never")
    daemon.run("run", "--secret", "DEMO", "--", PY, "-c",
               "import os, signal; os.kill(os.getpid(), signal.SIGKILL)", check=128 + 9)


def test_sigterm_to_assent_is_forwarded_to_the_child(daemon, tmp_path):
    daemon.add_secret("DEMO", VALUE, "--approval", "never")
    ready = tmp_path / "ready"
    child = (f"import time; open({str(ready)!r}, 'w').close(); time.sleep(60)")
    proc = daemon.popen("run", "--secret", "DEMO", "--", PY, "-c", child)
    wait_until(ready.exists, what="the child to start")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=15)
    assert proc.returncode == 128 + signal.SIGTERM


def test_command_not_found_is_127(daemon):
    daemon.add_secret("DEMO", VALUE, "--approval", "never")
    proc = daemon.run("run", "--secret", "DEMO", "--", "/nonexistent/tool", check=127)
    assert b"/nonexistent/tool" in proc.stderr


# ---- failures and their messages -----------------------------------------------------------

def test_daemon_down_exits_5_with_what_to_do(cli):
    cli.init()
    proc = cli.run("run", "--secret", "DEMO", "--", PY, "-c", "pass", check=5)
    assert b"assent daemon start" in proc.stderr
    cli.run("status", check=5)
    cli.run("daemon", "status", check=5)


def test_roles_not_found_and_usage_errors(daemon):
    daemon.add_secret("DEMO", VALUE)
    # The agent token cannot decide (-32001 role) …
    request_id = daemon.json("request", "DEMO", "--reason", "x")["request"]["request_id"]
    proc = daemon.run("approve", request_id, "--token-file", daemon.admin_token_file, check=6)
    assert b"approver" in proc.stderr
    # … an unknown id is not found, a bad token is refused, a value on argv is refused.
    daemon.run("--as", "approver", "approve", "rq_" + "0" * 32, check=7)
    bad = daemon.home / "bad.token"
    bad.write_text("assent_admin_" + "x" * 43 + "\n")
    daemon.run("--token-file", bad, "secret", "list", check=6)
    daemon.run("--as", "admin", "secret", "add", "DEMO", "value-on-argv", check=2)
    daemon.run("run", "--secret", "1BAD", "--", "true", check=2)
    # A broken config is a usage error that names the member.
    cfg = daemon.home / "config.json"
    data = json.loads(cfg.read_text())
    data["sever"] = "typo"
    cfg.write_text(json.dumps(data))
    proc = daemon.run("status", check=2)
    assert b"sever" in proc.stderr


def test_secret_list_never_shows_values_and_rm_revokes(daemon):
    daemon.add_secret("DEMO", VALUE, "--description", "demo secret")
    listing = daemon.run("--as", "admin", "secret", "list", check=0)
    assert b"DEMO" in listing.stdout and VALUE not in listing.stdout
    assert daemon.json("--as", "admin", "secret", "list")["secrets"][0]["size_bytes"] == len(VALUE)
    removed = daemon.json("--as", "admin", "secret", "rm", "DEMO")
    assert removed["deleted"] is True
    daemon.run("--as", "admin", "secret", "rm", "DEMO", check=7)


# ---- daemon lifecycle ----------------------------------------------------------------------

def test_daemon_lifecycle_refuses_twice_and_detects_a_stale_pid_file(cli):
    cli.init()
    started = cli.start_daemon()
    pid = started["pid"]
    assert started["listeners"][0]["transport"] == "unix"
    cli.run("daemon", "start", check=1)  # refuse to start twice
    status = cli.json("daemon", "status")
    assert status["running"] and status["pid"] == pid
    assert status["protocol_version"] == "1.0.0"
    if domain_methods_available(cli):
        assert status["pending_requests"] == 0
    assert status["uptime_s"] >= 0
    stopped = cli.json("daemon", "stop")
    assert stopped["stopped"] and stopped["pid"] == pid
    assert not process_running(pid)
    assert not (cli.data_dir / "assentd.pid").exists()
    # A PID file left by a crashed daemon: status says so, start cleans it up.
    dead = subprocess.Popen(["true"])
    dead.wait()
    (cli.data_dir / "assentd.pid").write_text(f"{dead.pid}\n")
    proc = cli.run("daemon", "status", check=5)
    assert b"stale" in proc.stdout
    restarted = cli.start_daemon()
    assert restarted["pid"] != dead.pid
    assert b"daemon.ready" in cli.run("daemon", "logs", check=0).stdout
    cli.run("daemon", "stop", check=0)


def test_tcp_listener_with_token(cli):
    cli.init()
    started = cli.start_daemon("--listen", f"unix:{cli.data_dir}/run/assentd.sock",
                               "--listen", "tcp://127.0.0.1:0")
    tcp = [l["address"] for l in started["listeners"] if l["transport"] == "tcp"][0]
    require_domain_methods(cli)
    cli.add_secret("DEMO", VALUE, "--approval", "never")
    proc = cli.run("--server", f"tcp://{tcp}", "run", "--secret", "DEMO", "--", PY, "-c",
                   "import os; print(len(os.environ['DEMO']))", check=0)
    assert proc.stdout == f"{len(VALUE)}\n".encode()
    bad = cli.home / "bad.token"
    bad.write_text("assent_agent_" + "y" * 43)
    cli.run("--server", f"tcp://{tcp}", "--token-file", bad, "status", check=6)


def test_watch_prints_events(daemon):
    daemon.add_secret("DEMO", VALUE)
    watch = daemon.popen("--json", "--as", "approver", "watch", "--count", "2")
    # The stream must be open before the events happen; then replay covers any race.
    time.sleep(0.5)
    request_id = daemon.json("request", "DEMO", "--reason", "w")["request"]["request_id"]
    daemon.run("--as", "approver", "deny", request_id, check=0)
    out, err = watch.communicate(timeout=30)
    assert watch.returncode == 0, err
    events = [json.loads(l) for l in out.splitlines()]
    assert [e["type"] for e in events] == ["request.created", "request.denied"]
    assert all(e["data"]["request_id"] == request_id for e in events)
    # Replay from an id: the same events again, with ids, via Last-Event-ID.
    first_id = events[0]["id"]
    replay = daemon.run("--json", "--as", "approver", "watch", "--since", first_id - 1,
                        "--count", "2", timeout=30, check=0)
    assert [json.loads(l) for l in replay.stdout.splitlines()] == events


# ---- standalone mode -----------------------------------------------------------------------

def test_standalone_mode_runs_the_same_flow_without_a_daemon(standalone):
    cli = standalone
    assert not (cli.data_dir / "assentd.pid").exists()
    cli.add_secret("DEMO", VALUE)
    code, out, err, request_id = run_and_approve(
        cli, "run", "--secret", "DEMO", "--", PY, "-c", CHILD)
    assert code == 7, err
    assert f"digest {DIGEST}".encode() in out
    assert VALUE not in out and VALUE not in err
    assert cli.request_state(request_id) == "approved"
    assert cli.json("--as", "admin", "audit", "verify")["ok"] is True


def test_standalone_deny_and_ctrl_c(standalone):
    cli = standalone
    cli.add_secret("DEMO", VALUE)
    code, _, err, _ = run_and_approve(cli, "run", "--secret", "DEMO", "--", "true",
                                      approve=False)
    assert code == 3, err
    proc = cli.popen("run", "--secret", "DEMO", "--", "true")
    request_id = cli.wait_for_pending()
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=15)
    assert proc.returncode == 130
    assert cli.request_state(request_id) == "cancelled"


def test_client_identity_is_stored_privately_and_resumed(daemon):
    daemon.add_secret("DEMO", VALUE)
    first = daemon.json("request", "DEMO", "--reason", "one")["request"]
    second = daemon.json("request", "DEMO", "--reason", "two")["request"]
    assert first["originator"]["client_id"] == second["originator"]["client_id"]
    identity_file = daemon.home / "client.json"
    assert identity_file.stat().st_mode & 0o777 == 0o600
    assert (daemon.home / "config.json").stat().st_mode & 0o777 == 0o600
    # The originator (and only it) may cancel: the resumed identity proves it.
    daemon.run("cancel", first["request_id"], check=0)
    assert daemon.request_state(first["request_id"]) == "cancelled"


def test_run_survives_a_daemon_restart_while_waiting(daemon):
    daemon.add_secret("DEMO", VALUE)
    proc = daemon.popen("run", "--secret", "DEMO", "--", PY, "-c",
                        "import os; print(len(os.environ['DEMO']))")
    try:
        request_id = daemon.wait_for_pending()
        daemon.run("daemon", "stop", check=0)
        daemon.start_daemon()
        daemon.run("--as", "approver", "approve", request_id, check=0)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    assert out == f"{len(VALUE)}\n".encode()
