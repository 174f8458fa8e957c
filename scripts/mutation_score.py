#!/usr/bin/env python3
"""Mutation score of the conformance suite: runs it against deliberately broken daemons.

    scripts/mutation_score.py --assentd build-faults/assentd [--jobs 2] [--faults a,b] [--full]

(scripts/mutation-score.sh builds the faults variant and calls this; docs/RFC/0002.)

1. Checks that the daemon's fault list (`assentd --list-faults`) and the catalogue
   (conformance/faults/faults.json) name the same faults.
2. Baseline: runs the suite against the same binary without --fault (the clean daemon) and
   records which cases pass.
3. For each fault: runs the suite against `assentd ... --fault NAME`, with the cases that
   check the fault's requirements ("breaks" in the catalogue) first. A fault is CAUGHT when
   a case that passed against the clean daemon fails (status "fail") under it. Unless
   --full, the run stops once the first caught case is past the fault's own cases (so the
   catching list is the targeted cases that caught it, else the first other case).
4. Confirms each catch: the catching cases (the three quickest) must fail again under the
   fault and pass against the clean daemon once more (a case that fails only once, or
   without the fault too, is flaky or drifted, not a catch).
5. Prints the score (caught / total), for each fault the cases that caught it, the faults
   no case caught; writes DIR/score.json; exits 1 below --min-score (default 95).

This file is also the pytest plugin that does the reordering and early stop (loaded with
`-p mutation_score`, configured by ASSENT_MUTATION_* environment variables); it never
changes a case's verdict.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Set

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOGUE = os.path.join(ROOT, "conformance", "faults", "faults.json")
RUN_REFERENCE = os.path.join(ROOT, "conformance", "run-reference.sh")
# The suite runs on Debian's Python (conformance/README.md), whatever runs this driver.
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

# The launch line of conformance/run-reference.sh, used only if it cannot be read from there.
FALLBACK_LAUNCH = (
    "$ASSENTD --data-dir {data_dir} --listen tcp://127.0.0.1:0 --listen unix:{unix_socket} "
    "--tokens-file {tokens_file} --validate-responses --heartbeat-s {heartbeat_s} "
    "--timeout-interactive-s {timeout_interactive_s} --timeout-unattended-s {timeout_unattended_s} "
    "--discord-api-base {discord_url} --discord-public-key {discord_public_key} "
    "--discord-bot-token-file {discord_bot_token_file} --discord-channel-id {discord_channel_id} "
    "--discord-allow-user {discord_allow_user} --discord-allow-user {discord_allow_user2}")


# ---- pytest plugin (loaded inside the suite's pytest process) ---------------------------------

def _env_set(name: str) -> Set[str]:
    v = os.environ.get(name, "")
    if v.startswith("@"):
        with open(v[1:]) as f:
            return {l.strip() for l in f if l.strip()}
    return {x for x in v.split(",") if x}


def pytest_configure(config):
    config._mutation = {
        "reqs": _env_set("ASSENT_MUTATION_REQS"),
        "baseline_pass": _env_set("ASSENT_MUTATION_BASELINE_PASS"),
        "stop": os.environ.get("ASSENT_MUTATION_STOP") == "1",
        "targeted": set(),
        "caught": [],
    }


try:
    import pytest as _pytest

    @_pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(session, config, items):
        m = config._mutation
        if not m["reqs"]:
            return
        front, back = [], []
        for it in items:
            meta = getattr(it, "_assent_meta", None)
            (front if meta is not None and set(meta.reqs) & m["reqs"] else back).append(it)
        items[:] = front + back
        m["targeted"] = {it.nodeid for it in front}

    class CaseHung(TimeoutError):
        pass

    @_pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(item):
        # A broken daemon can make a case wait forever (an event stream opened where a
        # refusal was due, heartbeats keeping every read alive). A case that runs past
        # ASSENT_MUTATION_CASE_TIMEOUT_S fails with TimeoutError, as a CI job would time
        # out: the harness reports a TimeoutError as the case's failure.
        limit = int(os.environ.get("ASSENT_MUTATION_CASE_TIMEOUT_S", "0") or 0)
        old = None
        if limit > 0:
            def hung(signum, frame):
                raise CaseHung("the case ran longer than %d s against this daemon (it would hang the "
                               "suite)" % limit)
            old = signal.signal(signal.SIGALRM, hung)
            signal.alarm(limit)
        try:
            yield
        finally:
            if limit > 0:
                signal.alarm(0)
                signal.signal(signal.SIGALRM, old)

    @_pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item, nextitem):
        yield
        m = item.config._mutation
        meta = getattr(item, "_assent_meta", None)
        run = getattr(item.config, "_assent_run", None)
        if meta is None or run is None:
            return
        res = run.results.get(meta.id)
        if res is not None and res.status == "fail" and meta.id in m["baseline_pass"]:
            m["caught"].append(meta.id)
        if m["stop"] and m["caught"] and (nextitem is None or nextitem.nodeid not in m["targeted"]):
            item.session.shouldstop = "mutation caught by %s" % ", ".join(m["caught"])
except ImportError:  # running as the driver without pytest installed: the plugin is unused
    pass


# ---- the driver -------------------------------------------------------------------------------

def launch_template(assentd: str) -> str:
    """run-reference.sh's --launch line with $ASSENTD replaced."""
    line = FALLBACK_LAUNCH
    try:
        text = open(RUN_REFERENCE).read()
        m = re.search(r'--launch "(\$ASSENTD [^"]+)"', text)
        if m:
            line = m.group(1)
    except OSError:
        pass
    return line.replace("$ASSENTD", assentd)


def load_catalogue() -> List[Dict[str, object]]:
    with open(CATALOGUE) as f:
        return json.load(f)["faults"]


def daemon_faults(assentd: str) -> List[str]:
    r = subprocess.run([assentd, "--list-faults"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        sys.exit("%s --list-faults failed (exit %d): is it a -DASSENT_FAULTS=ON build?\n%s"
                 % (assentd, r.returncode, r.stderr.strip()))
    return [l.strip() for l in r.stdout.splitlines() if l.strip()]


class Runner:
    def __init__(self, assentd: str, out_dir: str, timeout_s: float, verbose: bool,
                 case_timeout_s: float = 60.0):
        self.assentd = assentd
        self.case_timeout_s = case_timeout_s
        self.spec_dir: Optional[str] = None
        self.out_dir = out_dir
        self.timeout_s = timeout_s
        self.verbose = verbose

    def run(self, label: str, fault: Optional[str], selects: List[str] = (), reqs: Set[str] = (),
            baseline_pass_file: Optional[str] = None, stop: bool = False) -> Dict[str, object]:
        """One suite run; returns {status: {case: status}, duration_s, exit, timeout}."""
        report_dir = os.path.join(self.out_dir, label)
        shutil.rmtree(report_dir, ignore_errors=True)
        os.makedirs(report_dir)
        launch = launch_template(self.assentd) + (" --fault " + fault if fault else "")
        cmd = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "mutation_score",
               "conformance", "--launch", launch, "--report-dir", report_dir]
        if self.spec_dir:
            cmd += ["--spec-dir", self.spec_dir]
        for s in selects:
            cmd += ["--select", s]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.path.join(ROOT, "scripts") + os.pathsep + env.get("PYTHONPATH", "")
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["ASSENT_MUTATION_REQS"] = ",".join(sorted(reqs))
        env["ASSENT_MUTATION_BASELINE_PASS"] = "@" + baseline_pass_file if baseline_pass_file else ""
        env["ASSENT_MUTATION_STOP"] = "1" if stop else "0"
        env["ASSENT_MUTATION_CASE_TIMEOUT_S"] = str(int(self.case_timeout_s))
        started = time.monotonic()
        log_path = os.path.join(report_dir, "pytest.log")
        timed_out = False
        with open(log_path, "w") as log:
            p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            try:
                rc = p.wait(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                # SIGINT first: pytest then finishes the session, which stops the daemons
                # it launched (they run in their own sessions) and writes the results.
                timed_out = True
                p.send_signal(signal.SIGINT)
                try:
                    rc = p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    rc = p.wait()
        duration = time.monotonic() - started
        statuses: Dict[str, str] = {}
        durations: Dict[str, float] = {}
        profiles: List[str] = []
        launch_error = None
        try:
            with open(os.path.join(report_dir, "results.json")) as f:
                doc = json.load(f)
            statuses = {c["id"]: c["status"] for c in doc["cases"]}
            durations = {c["id"]: c.get("duration_s", 0.0) for c in doc["cases"]}
            launch_error = (doc.get("target") or {}).get("error")
            profiles = (doc.get("target") or {}).get("profiles") or []
        except (OSError, ValueError, KeyError):
            pass
        if launch_error:
            # A daemon that does not start fails every case: that proves nothing about the
            # suite (and is how a broken --fault flag would look), so it never counts.
            statuses = {}
        if self.verbose:
            sys.stderr.write("  %-40s %5.1f s exit %s%s\n" % (label, duration, rc, " TIMEOUT" if timed_out else ""))
        return {"status": statuses, "duration_s": duration, "exit": rc, "timeout": timed_out,
                "log": log_path, "launch_error": launch_error,
                "durations": durations, "profiles": profiles}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--assentd", required=True, help="assentd of a -DASSENT_FAULTS=ON build")
    ap.add_argument("--out", help="reports directory (default: DIR_OF_ASSENTD/mutation)")
    ap.add_argument("--faults", help="comma-separated fault names (default: every fault of the catalogue)")
    ap.add_argument("--jobs", type=int, default=2, help="faults run at once (default 2)")
    ap.add_argument("--full", action="store_true", help="run every case under every fault (no early stop)")
    ap.add_argument("--targeted-only", action="store_true",
                    help="run only the cases that check each fault's requirements (baseline included)")
    ap.add_argument("--no-confirm", action="store_true", help="do not re-run the catching cases")
    ap.add_argument("--min-score", type=float, default=95.0, help="exit 1 below this percentage (default 95)")
    ap.add_argument("--timeout", type=float, default=420.0, help="seconds per suite run before it is killed")
    ap.add_argument("--case-timeout", type=float, default=30.0,
                    help="seconds one case may run before it fails as hung (default 30)")
    ap.add_argument("--markdown", metavar="FILE", help="also write the result as a Markdown table (for RFC 0002)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)

    started = time.monotonic()
    assentd = os.path.abspath(a.assentd)
    out_dir = os.path.abspath(a.out or os.path.join(os.path.dirname(assentd), "mutation"))
    os.makedirs(out_dir, exist_ok=True)
    catalogue = load_catalogue()
    by_name = {f["name"]: f for f in catalogue}
    listed = daemon_faults(assentd)
    missing = sorted(set(by_name) - set(listed))
    extra = sorted(set(listed) - set(by_name))
    if missing or extra:
        sys.exit("the catalogue and `assentd --list-faults` disagree: only in faults.json: %s; only in the "
                 "daemon (base/fault.h): %s" % (", ".join(missing) or "-", ", ".join(extra) or "-"))
    names = [n.strip() for n in a.faults.split(",")] if a.faults else [f["name"] for f in catalogue]
    for n in names:
        if n not in by_name:
            sys.exit("unknown fault %s (see conformance/faults/faults.json)" % n)

    runner = Runner(assentd, out_dir, a.timeout, a.verbose, a.case_timeout)
    # The suite judges against a snapshot of spec/ taken now (the faults binary embedded
    # spec/ when it was built, just before): edits to spec/ during the run must not turn
    # every later case into a mismatch.
    runner.spec_dir = os.path.join(out_dir, "spec-snapshot")
    shutil.rmtree(runner.spec_dir, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "spec"), runner.spec_dir)
    print("mutation score: %d fault(s) against %s, %d at a time%s" % (
        len(names), assentd, a.jobs, " (targeted cases only)" if a.targeted_only else ""), flush=True)

    # Cases per requirement, for --targeted-only selections.
    targeted_selects: Dict[str, List[str]] = {}
    if a.targeted_only:
        cases = list_cases()
        for n in names:
            reqs = set(by_name[n]["breaks"])
            targeted_selects[n] = sorted(c for c, rs in cases.items() if set(rs) & reqs)

    # 1. Baseline.
    base_selects = sorted({s for n in names for s in targeted_selects.get(n, [])}) if a.targeted_only else []
    base = runner.run("baseline", None, selects=base_selects)
    if base["timeout"] or not base["status"]:
        sys.exit("the baseline run (no fault) did not produce results; see %s" % base["log"])
    passing = {c for c, s in base["status"].items() if s == "pass"}
    not_passing = sorted(c for c, s in base["status"].items() if s not in ("pass", "skip", "info", "warn"))
    print("baseline (no fault): %d cases pass, %d do not (never counted): %s; %.0f s" % (
        len(passing), len(not_passing), ", ".join(not_passing) or "-", base["duration_s"]), flush=True)
    served = set(base["profiles"])
    not_applicable = [n for n in names if by_name[n].get("profile", "core") not in served]
    if not_applicable:
        print("not applicable (the clean daemon does not declare the profile, so its cases are skipped): %s"
              % ", ".join("%s [%s]" % (n, by_name[n].get("profile")) for n in not_applicable), flush=True)
    names = [n for n in names if n not in not_applicable]
    pass_file = os.path.join(out_dir, "baseline-pass.txt")
    with open(pass_file, "w") as f:
        f.write("\n".join(sorted(passing)) + "\n")

    # 2. Each fault.
    def one(name: str) -> Dict[str, object]:
        f = by_name[name]
        reqs = set(f["breaks"])
        r = runner.run(name, name, selects=targeted_selects.get(name, []), reqs=reqs,
                       baseline_pass_file=pass_file, stop=not a.full)
        caught = [c for c, s in r["status"].items() if s == "fail" and c in passing]
        targeted = [c for c in caught if set(case_reqs(c)) & reqs]
        shown = targeted or caught
        confirmed = shown
        if shown and not a.no_confirm:
            check = sorted(shown, key=lambda c: r["durations"].get(c, 0.0))[:3]  # quickest first
            rc = runner.run(name + ".confirm", name, selects=check, baseline_pass_file=pass_file)
            confirmed = [c for c in check if rc["status"].get(c) == "fail"]
            if confirmed:
                # ... and they still pass against the clean daemon now (a case that fails
                # without the fault too is flaky, or the tree changed under the run).
                clean = runner.run(name + ".clean", None, selects=confirmed)
                confirmed = [c for c in confirmed if clean["status"].get(c) == "pass"]
            if confirmed:
                confirmed = [c for c in shown if c in confirmed or c not in check]
        suite_bugs = [c for c, s in r["status"].items() if s == "suite-bug" and c in passing]
        warns = [c for c, s in r["status"].items() if s == "warn" and c in passing]
        return {"name": name, "area": f["area"], "breaks": f["breaks"], "caught": bool(confirmed),
                "caught_by": confirmed, "unconfirmed": [c for c in shown if c not in confirmed],
                "suite_bugs": suite_bugs, "warnings": warns, "timeout": r["timeout"],
                "launch_error": r["launch_error"],
                "duration_s": round(r["duration_s"], 1), "cases_run": sum(1 for s in r["status"].values() if s != "skip")}

    results: Dict[str, Dict[str, object]] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        futs = {ex.submit(one, n): n for n in names}
        for fut in concurrent.futures.as_completed(futs):
            r = fut.result()
            results[r["name"]] = r
            print("  %-34s %-8s %5.1f s  %s" % (
                r["name"], "CAUGHT" if r["caught"] else "MISSED", r["duration_s"],
                ", ".join(r["caught_by"][:4]) + (" …" if len(r["caught_by"]) > 4 else "") if r["caught"]
                else ("TIMEOUT " if r["timeout"] else "") +
                ("DAEMON DID NOT START: %s " % str(r["launch_error"]).splitlines()[0] if r["launch_error"] else "") + ("suite bugs: " + ", ".join(r["suite_bugs"]) if r["suite_bugs"] else "")),
                flush=True)

    ordered = [results[n] for n in names]
    caught = [r for r in ordered if r["caught"]]
    score = 100.0 * len(caught) / len(ordered) if ordered else 0.0
    elapsed = time.monotonic() - started
    print()
    print("caught faults, with the cases that caught them:")
    for r in caught:
        print("  %-34s [%s] %s" % (r["name"], r["area"], ", ".join(r["caught_by"])))
    missed = [r for r in ordered if not r["caught"]]
    print("faults no case caught: %s" % (", ".join("%s [%s, %s]" % (r["name"], r["area"], "/".join(r["breaks"]))
                                                    for r in missed) or "none"))
    if not_applicable:
        print("not applicable (profile not served by the clean daemon, left out of the score): %s"
              % ", ".join(not_applicable))
    print("MUTATION SCORE: %d/%d = %.1f %% (minimum %.0f %%) in %.0f s" % (
        len(caught), len(ordered), score, a.min_score, elapsed))
    with open(os.path.join(out_dir, "score.json"), "w") as f:
        json.dump({"assentd": assentd, "score_percent": round(score, 1), "caught": len(caught),
                   "total": len(ordered), "not_applicable": not_applicable, "duration_s": round(elapsed, 1), "baseline_not_passing": not_passing,
                   "faults": ordered}, f, indent=1)
    print("report: %s" % os.path.join(out_dir, "score.json"))
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write("Score %d/%d = %.1f %% (%s, %.0f s, %d at a time).\n\n" % (
                len(caught), len(ordered), score, time.strftime("%Y-%m-%d"), elapsed, a.jobs))
            f.write("| fault | area | breaks | caught by |\n| --- | --- | --- | --- |\n")
            for r in ordered:
                f.write("| `%s` | %s | %s | %s |\n" % (
                    r["name"], r["area"], ", ".join(r["breaks"]),
                    ", ".join("`%s`" % c for c in r["caught_by"][:4]) + (" …" if len(r["caught_by"]) > 4 else "")
                    if r["caught"] else "**not caught**"))
            for n in not_applicable:
                f.write("| `%s` | %s | %s | n/a: profile %s not served |\n" % (
                    n, by_name[n]["area"], ", ".join(by_name[n]["breaks"]), by_name[n].get("profile")))
        print("markdown table: %s" % a.markdown)
    return 0 if score >= a.min_score else 1


_CASES: Dict[str, List[str]] = {}


def list_cases() -> Dict[str, List[str]]:
    """case id → requirement ids, from the suite's own --list-cases."""
    if not _CASES:
        r = subprocess.run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "conformance",
                            "--list-cases"], cwd=ROOT, capture_output=True, text=True, timeout=120)
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) == 4 and "/" in parts[0] and parts[3].startswith("ASSENT-"):
                _CASES[parts[0]] = parts[3].split(",")
    return _CASES


def case_reqs(case_id: str) -> List[str]:
    return list_cases().get(case_id, [])


if __name__ == "__main__":
    sys.exit(main())
