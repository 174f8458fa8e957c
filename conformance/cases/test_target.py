"""PROTOCOL.md 15. Conformance target interface (launched targets)."""

import json
import os
import signal

from conformance.harness.case import case
from conformance.harness.verdict import CaseFailure, check, eq


@case("target/launch/options", req="ASSENT-TGT-001", needs=("launch",))
def test_options(t):
    """The target started from the documented options and honours them: the configured default
    timeouts are the effective ones (an unattended request expires after the configured
    default)."""
    info = t.admin.ok("system.info")
    for name in ("timeout_interactive_s_default", "timeout_unattended_s_default"):
        eq(info["limits"][name], int(t.target.launcher.values()[name.replace("_default", "")]),
           "%s reported by system.info" % name, req="ASSENT-TGT-001")


@case("target/discovery/file", req=["ASSENT-TGT-002", "ASSENT-HTTP-021"], needs=("launch",))
def test_discovery(t):
    """DIR/assentd.json is valid against discovery.json, names every listener with its real
    address (never port 0) and the pid, and DIR/assentd.pid holds the same pid."""
    launcher = t.target.launcher
    disc = launcher.discovery
    probs = t.spec.problems(t.spec.schema_ref("discovery", "DiscoveryFile"), disc)
    check(not probs, "the discovery file fails discovery.json", actual=[str(p) for p in probs], req="ASSENT-TGT-002")
    for l in disc["listeners"]:
        if l["transport"] == "tcp":
            check(not l["address"].endswith(":0"), "port 0 in the discovery file", actual=l, req="ASSENT-TGT-002")
    eq(len(disc["listeners"]), 2, "listeners (one --listen tcp, one --listen unix)", req="ASSENT-TGT-002")
    with open(launcher.pid_path) as f:
        pid = int(f.read().strip())
    eq(pid, disc["pid"], "pid file vs discovery file", req="ASSENT-TGT-002")
    eq(disc["pid"], launcher.proc.pid, "pid is the launched process", req="ASSENT-TGT-002")


@case("target/discovery/removed-on-exit", req=["ASSENT-TGT-002", "ASSENT-TGT-004"], needs=("launch",))
def test_removed(t):
    """SIGTERM: the target exits with status 0 and removes its discovery and pid files."""
    with t.private() as target:
        l = target.launcher
        code = l.stop(signal.SIGTERM)
        eq(code, 0, "exit status after SIGTERM", req="ASSENT-TGT-004")
        check(not os.path.exists(l.discovery_path), "the discovery file remains after exit", req="ASSENT-TGT-002")
        check(not os.path.exists(l.pid_path), "the pid file remains after exit", req="ASSENT-TGT-002")


@case("target/signals/sigint", req="ASSENT-TGT-004", needs=("launch",))
def test_sigint(t):
    """SIGINT stops the target cleanly too (exit status 0)."""
    with t.private() as target:
        eq(target.launcher.stop(signal.SIGINT), 0, "exit status after SIGINT", req="ASSENT-TGT-004")


@case("target/limits/heartbeat-min", req=["ASSENT-EVT-009", "ASSENT-LIM-001"], needs=("launch",))
def test_heartbeat_min(t):
    """A heartbeat below heartbeat_s_min is refused at start-up."""
    from conformance.harness.target import Launcher, LaunchError
    import pytest
    if "{heartbeat_s}" not in t.run.launch_template:
        pytest.skip("the launch command has no {heartbeat_s} placeholder")
    l = Launcher(t.run.launch_template, t.run.work_root, t.uniq("hb").lower(), t.spec, t.run.tokens,
                 mock=t.run.mock, timeout_s=10)
    t.run.private_launchers.append(l)
    orig = l.values
    l.values = lambda: dict(orig(), heartbeat_s=str(t.spec.limits["heartbeat_s_min"] - 1))
    try:
        l.start()
    except LaunchError:
        return
    l.stop()
    raise CaseFailure("the target started with a heartbeat below heartbeat_s_min", req="ASSENT-LIM-001")
