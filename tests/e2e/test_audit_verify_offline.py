"""End-to-end: `assent audit verify --db FILE` checks the audit chain of a database file
offline — read-only, without a daemon, a config or a token — with the same code as the
daemon's audit.verify (issue 4; ASSENT-AUDIT). Editing, deleting, reordering or cutting
off a row of a copy (with the sqlite3 shell, triggers dropped as an attacker would) is
each reported at the right seq with exit 1; a file that cannot be checked is exit 2
with the reason, never a crash."""

import hashlib
import json
import shutil
import subprocess

import pytest

from conftest import ASSENT, require_domain_methods

SQLITE3 = shutil.which("sqlite3")
VALUE = b"audit-e2e-V4lue"


@pytest.fixture
def audited(cli):
    """A daemon that ran a little (start, a secret, two requests, a denial, a cancel,
    stop: each audited), stopped cleanly; returns (cli, path of its database)."""
    cli.init()
    cli.start_daemon()
    require_domain_methods(cli)
    cli.add_secret("DEMO", VALUE)
    first = cli.json("request", "DEMO", "--reason", "one")["request"]["request_id"]
    cli.run("--as", "approver", "deny", first, check=0)
    second = cli.json("request", "DEMO", "--reason", "two")["request"]["request_id"]
    cli.run("cancel", second, check=0)
    cli.run("daemon", "stop", check=0)
    return cli, cli.data_dir / "assent.db"


def verify(cli, path, *extra, json_out=True):
    """Runs the offline check with an empty ASSENT_HOME: no config, no token needed."""
    env = dict(cli.env)
    env["ASSENT_HOME"] = str(cli.home / "no-config-here")
    args = [str(ASSENT), *(["--json"] if json_out else []), "audit", "verify", "--db",
            str(path), *extra]
    return subprocess.run(args, capture_output=True, timeout=60, env=env)


def audit_rows(path):
    out = subprocess.run([SQLITE3, "-readonly", str(path),
                          "SELECT seq, hash FROM audit ORDER BY seq"],
                         capture_output=True, check=True, text=True).stdout
    return [(int(s), h) for s, h in (line.split("|") for line in out.splitlines())]


def tampered_copy(tmp_path, db, name, sql):
    """A copy of `db` changed by `sql` in the sqlite3 shell, after dropping the
    append-only triggers (what someone rewriting history would do first)."""
    assert SQLITE3, "the sqlite3 shell is missing (scripts/setup.sh installs it)"
    copy = tmp_path / f"{name}.db"
    shutil.copyfile(db, copy)
    subprocess.run([SQLITE3, str(copy),
                    "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; " + sql],
                   check=True, capture_output=True)
    return copy


def test_a_good_database_verifies_offline_like_the_daemon_says(audited, tmp_path):
    cli, db = audited
    copy = tmp_path / "good.db"
    shutil.copyfile(db, copy)
    before = hashlib.sha256(copy.read_bytes()).hexdigest()
    proc = verify(cli, copy)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    rows = audit_rows(copy)
    assert len(rows) >= 8
    assert report == {"ok": True, "entries": len(rows), "head": rows[-1][1],
                      "first_bad_seq": None}
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == before  # read-only
    human = verify(cli, copy, json_out=False)
    assert human.returncode == 0
    assert f"audit chain intact: {len(rows)} entries".encode() in human.stdout

    # The same file while a daemon runs on it: the offline check agrees with audit.verify.
    cli.start_daemon()
    online = cli.json("--as", "admin", "audit", "verify")
    offline = verify(cli, db)
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout) == online


@pytest.mark.parametrize("name, sql, bad_seq", [
    ("edited", "UPDATE audit SET outcome = 'refused' WHERE seq = 3;", 3),
    ("deleted", "DELETE FROM audit WHERE seq = 4;", 4),
    # Rows 3 and 4 swap places (seq is inside each hash, and each hash covers the last).
    ("reordered", "UPDATE audit SET seq = -3 WHERE seq = 3; UPDATE audit SET seq = 3 "
                  "WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = -3;", 3),
    # The newest entry cut off: the recorded head no longer matches.
    ("truncated", "DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit);", "last"),
])
def test_tampering_is_reported_at_the_first_bad_seq(audited, tmp_path, name, sql, bad_seq):
    cli, db = audited
    entries = len(audit_rows(db))
    if bad_seq == "last":
        bad_seq = entries
    copy = tampered_copy(tmp_path, db, name, sql)
    proc = verify(cli, copy)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    report = json.loads(proc.stdout)
    assert report["ok"] is False
    assert report["first_bad_seq"] == bad_seq
    human = verify(cli, copy, json_out=False)
    assert human.returncode == 1
    assert f"audit chain BROKEN at seq {bad_seq} ".encode() in human.stdout


def not_assent_sqlite(path):
    subprocess.run([SQLITE3, str(path), "CREATE TABLE notes (x); INSERT INTO notes VALUES (1);"],
                   check=True)
    return path


def no_audit_tables(path, db):
    shutil.copyfile(db, path)
    subprocess.run([SQLITE3, str(path), "DROP TABLE audit_head;"], check=True)
    return path


@pytest.mark.parametrize("name, make, words", [
    ("missing", lambda p, db: p, "No such file or directory"),
    ("directory", lambda p, db: (p.mkdir(), p)[1], "not a regular file"),
    ("garbage", lambda p, db: (p.write_bytes(b"\x00garbage\xff" * 512), p)[1],
     "not a SQLite database"),
    ("empty", lambda p, db: (p.write_bytes(b""), p)[1], "not Assent's (schema version 0)"),
    ("other-sqlite", lambda p, db: not_assent_sqlite(p), "not Assent's (schema version 0)"),
    ("no-audit-tables", no_audit_tables, "not Assent's (no audit tables)"),
    ("truncated-file", lambda p, db: (p.write_bytes(db.read_bytes()[:1500]), p)[1],
     "cannot"),
])
def test_a_file_that_cannot_be_checked_is_exit_2_with_the_reason(audited, tmp_path, name,
                                                                 make, words):
    cli, db = audited
    path = make(tmp_path / name, db)
    proc = verify(cli, path, json_out=False)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == b""
    message = proc.stderr.decode()
    assert message.startswith(f"assent audit verify: cannot check {path}"), message
    assert words in message, message
    # With --json the reason comes as a JSON error on stdout, with the same exit code.
    as_json = verify(cli, path)
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["error"]["exit_code"] == 2


def test_help_documents_the_offline_check_and_its_exit_codes(cli):
    proc = cli.run("audit", "verify", "--help", check=0)
    text = proc.stdout.decode()
    assert "--db" in text
    assert "0 the chain is" in text and "1 it is broken" in text and "2 the file cannot" in text
