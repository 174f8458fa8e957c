"""End-to-end: assentd's /metrics is accepted by `promtool check metrics` (Debian's
`prometheus` package) with no lint problem, while every family carries samples that
reflect real traffic: calls by method and outcome, HTTP responses, pending requests,
live grants, SSE subscribers, audit entries and the Discord outbox depth (issue 4;
ASSENT-HTTP-007)."""

import re
import shutil
import sqlite3
import subprocess
import urllib.request

import pytest

from conftest import require_domain_methods
from sse_helpers import DEMO_VALUE, curl_events, new_request, start_tcp_daemon

PROMTOOL = shutil.which("promtool")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def promtool_check(text):
    assert PROMTOOL, "promtool is missing: install Debian's prometheus (scripts/setup.sh)"
    return subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                          capture_output=True, timeout=60)


def parse(text):
    """{family: [(labels dict, value)]} of every sample; families declared by TYPE."""
    families = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            families.setdefault(line.split()[2], [])
        elif line and not line.startswith("#"):
            m = SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            families.setdefault(m.group(1), []).append(
                (dict(LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return families


def value(families, name, **labels):
    found = [v for l, v in families.get(name, []) if all(l.get(k) == x for k, x in labels.items())]
    assert len(found) == 1, f"{name}{labels}: {families.get(name)}"
    return found[0]


def scrape(url, token_file):
    req = urllib.request.Request(url + "/metrics", headers={
        "Authorization": "Bearer " + token_file.read_text().strip()})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return resp.read().decode()


def assert_promtool_accepts(text):
    check = promtool_check(text)
    assert (check.returncode, check.stdout, check.stderr) == (0, b"", b""), (
        f"promtool check metrics: exit {check.returncode}\n{check.stdout.decode()}"
        f"{check.stderr.decode()}\n--- metrics ---\n{text}")


def test_promtool_accepts_metrics_with_every_family_fed_by_traffic(cli):
    cli.init()
    tcp = start_tcp_daemon(cli)
    require_domain_methods(cli)
    cli.add_secret("DEMO", DEMO_VALUE)
    new_request(cli)                                    # stays pending
    granted = new_request(cli)
    cli.run("--as", "approver", "approve", granted, check=0)  # a live grant
    cli.run("--as", "approver", "approve", "rq_" + "0" * 32, check=7)  # not_found
    stream, out = curl_events(cli, tcp)                 # one SSE subscriber
    try:
        out.wait_for(lambda ls: "retry: 1000" in ls, what="the event stream to open")
        text = scrape(f"http://{tcp}", cli.admin_token_file)
    finally:
        stream.kill()
        stream.wait()

    assert_promtool_accepts(text)
    m = parse(text)
    assert value(m, "assent_rpc_calls_total", method="access.request", outcome="ok") == 2
    assert value(m, "assent_rpc_calls_total", method="access.decide", outcome="ok") == 1
    assert value(m, "assent_rpc_calls_total", method="access.decide", outcome="not_found") == 1
    assert value(m, "assent_http_responses_total", route="/events", status="200") == 1
    assert value(m, "assent_pending_requests") == 1
    assert value(m, "assent_live_grants") == 1
    assert value(m, "assent_sse_subscribers") == 1
    db = sqlite3.connect(f"file:{cli.data_dir / 'assent.db'}?mode=ro", uri=True)
    try:
        (audit_rows,) = db.execute("SELECT COUNT(*) FROM audit").fetchone()
    finally:
        db.close()
    assert audit_rows > 0 and value(m, "assent_audit_entries") == audit_rows
    assert value(m, "assent_outbox_depth") == 0  # no Discord approver here
    # Every family the daemon declares has at least one sample.
    assert all(m.values()), {k: v for k, v in m.items() if not v}


def test_promtool_check_can_fail_on_a_lint_problem():
    # The acceptance above means something only if promtool rejects what it should: a
    # counter without the _total suffix, and a family without HELP.
    bad = promtool_check("# HELP assent_rpc_calls A.\n# TYPE assent_rpc_calls counter\n"
                         "assent_rpc_calls 1\n# TYPE assent_up gauge\nassent_up 1\n")
    assert bad.returncode != 0
    report = (bad.stdout + bad.stderr).decode()
    assert '"_total" suffix' in report and "no help text" in report, report


def test_promtool_accepts_metrics_with_a_discord_outbox_backlog(make_daemon, mock):
    # Discord answers every post with 429 for a while: the post waits in the outbox.
    mock.faults({"route": "create_message", "kind": "429", "count": -1, "retry_after_s": 30})
    d = make_daemon()
    d.put_secret()
    d.request()
    wait_until(lambda: d.outbox_depth() >= 1, what="a post waiting in the outbox")
    text = d.metrics()
    assert_promtool_accepts(text)
    assert value(parse(text), "assent_outbox_depth") == 1
    mock.clear_faults()


# The Discord daemon and mock of test_discord.py (imported after the tests above so that
# pytest collects its fixtures here too).
from test_discord import home, make_daemon, mock, wait_until  # noqa: E402,F401
