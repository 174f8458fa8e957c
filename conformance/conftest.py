"""pytest plumbing of the Assent conformance suite: options, the target's life cycle, case
verdicts (levels, known failures, suite bugs), traceability and reports.

Run:  /usr/bin/python3 -m pytest conformance --launch "CMD {data_dir} ..."   (see README.md)
"""

from __future__ import annotations

import importlib
import json
import os
import pathlib
import pkgutil
import sys
import time
import traceback
from typing import Any, Dict, List, Optional

import pytest

from conformance.harness import case as case_mod
from conformance.harness import report as report_mod
from conformance.harness import target as tgt
from conformance.harness import wire
from conformance.harness.context import Ctx
from conformance.harness.spec import DEFAULT_SPEC_DIR, Spec
from conformance.harness.verdict import CaseFailure, SuiteBug, TargetViolation

HERE = pathlib.Path(__file__).resolve().parent
STATUSES = ("pass", "fail", "xfail", "stale", "skip", "warn", "info", "suite-bug")
FAILING = ("fail", "stale", "suite-bug")


def pytest_addoption(parser):
    g = parser.getgroup("assent", "Assent conformance suite")
    env = os.environ.get
    g.addoption("--target-url", default=env("ASSENT_TARGET_URL"),
                help="reach a running target: http://127.0.0.1:PORT (env ASSENT_TARGET_URL)")
    g.addoption("--target-unix-socket", default=env("ASSENT_TARGET_UNIX_SOCKET"),
                help="with --target-url: its Unix socket path, for the peer cases")
    for role in tgt.ROLES:
        g.addoption("--token-%s" % role, default=env("ASSENT_TOKEN_%s" % role.upper()),
                    help="with --target-url: a %s token (env ASSENT_TOKEN_%s)" % (tgt.ROLE_OF[role], role.upper()))
    g.addoption("--launch", default=env("ASSENT_LAUNCH"),
                help="launch the target: a command with placeholders %s"
                     % " ".join("{%s}" % p for p in tgt.PLACEHOLDERS))
    g.addoption("--launch-timeout", type=float, default=30.0, help="seconds to wait for readiness")
    g.addoption("--known-failures", default=env("ASSENT_KNOWN_FAILURES"),
                help="JSON file of case ids the target is known to fail, with reasons")
    g.addoption("--exclusions", default=str(HERE / "exclusions.json"),
                help="requirements without a case, with reasons (default conformance/exclusions.json)")
    g.addoption("--report-dir", default=str(HERE / "reports"),
                help="where results.json, report.html and junit.xml go")
    g.addoption("--strict-should", action="store_true", default=False,
                help="SHOULD failures fail the run (pytest already owns --strict; run.py maps --strict here)")
    g.addoption("--select", action="append", default=[], metavar="PREFIX",
                help="run only cases whose id starts with PREFIX (repeatable)")
    g.addoption("--list-cases", action="store_true", default=False,
                help="print every case id, requirement and level, run nothing")
    g.addoption("--profile", default=None,
                help="comma-separated profiles to run (default: all the target declares)")
    g.addoption("--force-profile", action="append", default=[], metavar="PROFILE",
                help="run the cases of PROFILE even though the target does not declare it (for implementers "
                     "working towards a profile; its failures count)")
    g.addoption("--spec-dir", default=str(DEFAULT_SPEC_DIR), help="the spec to judge against")
    g.addoption("--mock-discord-dir", default=str(HERE.parent / "tools" / "mock-discord"))
    g.addoption("--mock-discord-control-url", default=env("ASSENT_MOCK_DISCORD_CONTROL_URL"),
                help="with --target-url: control URL of the mock Discord the target uses")
    g.addoption("--keep-workdir", action="store_true", default=False,
                help="keep the scratch directory (data dirs, logs) after the run")


class CaseResult:
    def __init__(self, meta: case_mod.CaseMeta):
        self.meta = meta
        self.status = "skip"
        self.message = ""
        self.expected: Any = None
        self.actual: Any = None
        self.has_expected = False
        self.violated: Optional[str] = None
        self.location = ""
        self.duration = 0.0
        self.recorder = wire.Recorder()
        self.notes: List[str] = []
        self.known_failure: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        d = self.meta.to_json()
        d.update({"status": self.status, "message": wire.redact_text(self.message),
                  "duration_s": round(self.duration, 4), "location": self.location,
                  "violated_requirement": self.violated, "notes": self.notes,
                  "known_failure": self.known_failure,
                  "exchanges": [e.to_json() for e in self.recorder.exchanges]})
        if self.has_expected:
            d["expected"] = self.expected if isinstance(self.expected, str) else json.dumps(self.expected, ensure_ascii=False)[:2000]
            d["actual"] = wire.redact_text(self.actual if isinstance(self.actual, str) else json.dumps(self.actual, ensure_ascii=False, default=str)[:4000])
        return d


class Run:
    """State of one suite run."""

    def __init__(self, config):
        o = config.option
        self.config = config
        self.spec = Spec(o.spec_dir)
        self.strict = o.strict_should
        self.selects = o.select
        self.list_only = o.list_cases
        self.report_dir = pathlib.Path(o.report_dir)
        self.profiles_wanted = [p.strip() for p in o.profile.split(",")] if o.profile else None
        self.launch_template = o.launch
        self.launch_timeout = o.launch_timeout
        self.target_url = o.target_url
        self.known: Dict[str, str] = {}
        self.known_path = o.known_failures
        self.problems: List[str] = []
        if self.known_path:
            self.known = load_known_failures(self.known_path, self.problems)
        self.exclusions: Dict[str, str] = {}
        if o.exclusions and os.path.exists(o.exclusions):
            with open(o.exclusions) as f:
                self.exclusions = {k: v for k, v in json.load(f).items() if not k.startswith("_")}
        self.results: Dict[str, CaseResult] = {}
        self.selected: List[str] = []
        self.target: Optional[tgt.Target] = None
        self.target_error: Optional[str] = None
        self.mock = None
        self.mock_note = ""
        self.tokens: Optional[tgt.Tokens] = None
        self.work_root = ""
        self.main_launcher: Optional[tgt.Launcher] = None
        self.private_launchers: List[tgt.Launcher] = []
        self.started = time.time()
        self.verdict_reasons: List[str] = []
        self.partial = False
        self.active = True

    # -- the target --------------------------------------------------------------------

    def bring_up(self) -> tgt.Target:
        if self.target is not None:
            return self.target
        if self.target_error is not None:
            raise tgt.LaunchError(self.target_error)
        o = self.config.option
        try:
            if self.launch_template and self.target_url:
                raise tgt.LaunchError("give either --launch or --target-url, not both")
            if self.launch_template:
                self.work_root = tgt.make_workdir()
                self.tokens = tgt.Tokens()
                self.mock, err = tgt.start_mock(o.mock_discord_dir, os.path.join(self.work_root, "mock-discord.log"))
                self.mock_note = err or "mock Discord at %s" % self.mock.base_url
                self.main_launcher = tgt.Launcher(self.launch_template, self.work_root, "main", self.spec,
                                                  self.tokens, mock=self.mock, timeout_s=self.launch_timeout)
                self.target = self.main_launcher.start()
                if self.mock is not None:
                    self.mock.set_interactions_url("http://%s/discord/interactions" % self.target.tcp.address)
            elif self.target_url:
                given = {r: getattr(o, "token_%s" % r) for r in tgt.ROLES}
                missing = [r for r in ("admin", "approver", "agent") if not given.get(r)]
                if missing:
                    raise tgt.LaunchError("--target-url needs --token-%s" % " --token-".join(missing))
                self.tokens = tgt.Tokens(given)
                unix = wire.Endpoint("unix", o.target_unix_socket) if o.target_unix_socket else None
                self.target = tgt.Target(self.spec, self.tokens, tcp=tgt.parse_target_url(self.target_url),
                                         unix=unix)
                if o.mock_discord_control_url:
                    self.mock = tgt.attach_mock(o.mock_discord_control_url)
                    self.target.mock = self.mock
            else:
                raise tgt.LaunchError("give the target: --launch \"CMD ...\" or --target-url URL with tokens")
        except tgt.LaunchError as e:
            self.target_error = str(e)
            raise
        self.target.probe()
        return self.target

    def tear_down(self) -> None:
        for l in self.private_launchers:
            l.stop()
        if self.main_launcher is not None:
            self.main_launcher.stop()
        if self.mock is not None and hasattr(self.mock, "stop"):
            self.mock.stop()
        if self.work_root and not self.config.option.keep_workdir:
            tgt.remove_workdir(self.work_root)

    # -- verdicts --------------------------------------------------------------------------

    def counts(self) -> Dict[str, int]:
        c = {s: 0 for s in STATUSES}
        for cid in self.selected:
            c[self.results[cid].status] += 1
        return c

    def traceability(self) -> Dict[str, Any]:
        covered: Dict[str, List[str]] = {}
        for meta in case_mod.REGISTRY.values():
            for r in meta.reqs:
                covered.setdefault(r, []).append(meta.id)
        uncovered_must, uncovered_other, excluded = [], [], {}
        for r in self.spec.requirements:
            rid = r["id"]
            if rid in covered:
                continue
            if rid in self.exclusions:
                excluded[rid] = self.exclusions[rid]
            elif r["level"] == "MUST":
                uncovered_must.append(rid)
            else:
                uncovered_other.append(rid)
        unknown_excl = sorted(k for k in self.exclusions if k not in self.spec.requirement_by_id)
        return {"covered": {k: sorted(v) for k, v in sorted(covered.items())},
                "uncovered_must": uncovered_must, "uncovered_other": uncovered_other,
                "excluded": excluded, "unknown_exclusions": unknown_excl,
                "excluded_but_covered": sorted(k for k in self.exclusions if k in covered)}


def load_known_failures(path: str, problems: List[str]) -> Dict[str, str]:
    """{"case/id": "reason"} or [{"id": ..., "reason": ...}] (members starting with _ are comments)."""
    with open(path) as f:
        doc = json.load(f)
    if isinstance(doc, dict) and "known_failures" in doc:
        doc = doc["known_failures"]
    out: Dict[str, str] = {}
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k.startswith("_"):
                continue
            out[k] = str(v)
    elif isinstance(doc, list):
        for e in doc:
            if isinstance(e, str):
                out[e] = ""
            else:
                out[e["id"]] = e.get("reason", "")
    for k, v in out.items():
        if not v.strip():
            problems.append("known failure %s has no reason" % k)
    return out


def import_all_cases() -> None:
    """Every case module, so traceability sees every case whatever was collected."""
    pkg = importlib.import_module("conformance.cases")
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("test_"):
            importlib.import_module("conformance.cases." + info.name)


RUN: Optional[Run] = None


def pytest_generate_tests(metafunc):
    fn = metafunc.function
    if getattr(fn, "_assent_generated", None) is None:
        return
    run: Run = metafunc.config._assent_run
    items = case_mod.register_generated(fn, run.spec)
    metafunc.parametrize("gen", items, ids=[it["id"] for it in items])


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    global RUN
    RUN = Run(config)
    config._assent_run = RUN
    import_all_cases()
    # Only when the suite itself is being run (pytest conformance, pytest at the checkout's
    # root), never for a pytest run of other directories that merely loaded this conftest.
    RUN.active = _targets_suite(config)
    if RUN.active and not RUN.list_only and not getattr(config.option, "xmlpath", None):
        RUN.report_dir.mkdir(parents=True, exist_ok=True)
        config.option.xmlpath = str(RUN.report_dir / "junit.xml")


def _targets_suite(config) -> bool:
    for a in config.args or [str(config.invocation_params.dir)]:
        p = pathlib.Path(str(a).split("::")[0]).resolve()
        if p == HERE or HERE in p.parents or p in HERE.parents:
            return True
    return False


def _mine(item) -> bool:
    try:
        return HERE in pathlib.Path(str(item.path)).resolve().parents
    except Exception:
        return False


def pytest_collection_modifyitems(session, config, items):
    run: Run = config._assent_run
    others = [it for it in items if not _mine(it)]
    items[:] = [it for it in items if _mine(it)]
    run.active = run.active and bool(items or run.list_only)
    keep, drop = [], []
    seen = set()
    for item in items:
        fn = getattr(item, "function", None)
        meta = getattr(fn, "_assent_case", None)
        callspec = getattr(item, "callspec", None)
        if meta is None and callspec is not None and "gen" in callspec.params:
            meta = case_mod.REGISTRY.get(callspec.params["gen"]["case_id"])
        if meta is None:
            run.problems.append("test %s has no @case declaration" % item.nodeid)
            drop.append(item)
            continue
        item._assent_meta = meta
        for r in meta.reqs:
            if r not in run.spec.requirement_by_id:
                run.problems.append("case %s names unknown requirement %s" % (meta.id, r))
        if run.selects and not any(meta.id.startswith(p) for p in run.selects):
            drop.append(item)
            continue
        if meta.id in seen:
            continue
        seen.add(meta.id)
        keep.append(item)
    run.problems.extend(case_mod.PROBLEMS)
    import pkgutil as _pk
    import conformance.cases as _cases
    all_mods = {"conformance.cases." + m.name for m in _pk.iter_modules(_cases.__path__) if m.name.startswith("test_")}
    collected = {getattr(it, "module", None).__name__ for it in items if getattr(it, "module", None) is not None}
    run.partial = not all_mods <= collected
    for k in run.known:
        if k not in case_mod.REGISTRY:
            run.problems.append("known-failures names %s, which is no case of this suite" % k)
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = others + keep
    run.selected = [it._assent_meta.id for it in keep]
    for cid in run.selected:
        run.results[cid] = CaseResult(case_mod.REGISTRY[cid])
    if run.list_only:
        tr = config.pluginmanager.get_plugin("terminalreporter")
        lines = []
        for it in keep:
            m = it._assent_meta
            lines.append("%-58s %-7s %-8s %s" % (m.id, m.level, m.profile, ",".join(m.reqs)))
        out = "\n".join(lines) + "\n%d cases\n" % len(keep)
        if tr:
            tr.write_line("")
            tr.write(out)
        else:
            sys.stdout.write(out)
        items[:] = others


@pytest.fixture(scope="session")
def assent_run(pytestconfig) -> Run:
    return pytestconfig._assent_run


@pytest.fixture(scope="session")
def assent_target(assent_run):
    return assent_run.bring_up()


@pytest.fixture
def t(request, assent_run, assent_target) -> Ctx:
    meta: case_mod.CaseMeta = request.node._assent_meta
    run: Run = assent_run
    target: tgt.Target = assent_target
    if run.profiles_wanted is not None and meta.profile not in run.profiles_wanted:
        pytest.skip("profile %s not selected (--profile)" % meta.profile)
    if meta.profile not in target.profiles and meta.profile not in run.config.option.force_profile:
        pytest.skip("the target does not declare the %s profile (system.info profiles: %s)"
                    % (meta.profile, ",".join(target.profiles)))
    for need in meta.needs:
        if need == "launch" and run.launch_template is None:
            pytest.skip("needs a launched target (--launch)")
        if need == "mock" and target.mock is None:
            pytest.skip("needs the mock Discord (%s)" % (run.mock_note or "not available"))
        if need == "approver2" and "approver2" not in target.tokens.by_role:
            pytest.skip("needs a second approver token (--token-approver2)")
        if need == "unix" and target.unix is None:
            pytest.skip("needs the target's Unix socket")
        if need == "root" and os.geteuid() != 0:
            pytest.skip("needs root (to connect as another UID)")
    ctx = Ctx(target, meta, run)
    request.node._assent_ctx = ctx
    return ctx


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    run: Run = item.config._assent_run
    meta = getattr(item, "_assent_meta", None)
    if meta is not None:
        res = run.results[meta.id]
        res.known_failure = run.known.get(meta.id)
        item.user_properties.append(("case_id", meta.id))
        item.user_properties.append(("requirements", ",".join(meta.reqs)))
        item.user_properties.append(("level", meta.level))
        wire.Recorder.current = res.recorder
    yield
    wire.Recorder.current = None


def _location(excinfo) -> str:
    try:
        for entry in reversed(excinfo.traceback):
            p = str(entry.path)
            if "/conformance/cases/" in p:
                return "%s:%d" % (os.path.relpath(p, HERE), entry.lineno + 1)
    except Exception:
        pass
    return ""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    meta = getattr(item, "_assent_meta", None)
    if meta is None:
        return
    run: Run = item.config._assent_run
    res = run.results[meta.id]
    res.duration += rep.duration
    ctx = getattr(item, "_assent_ctx", None)
    if ctx is not None:
        res.notes = list(ctx.notes)
    if rep.when == "teardown":
        return
    if rep.when == "setup" and rep.passed:
        return
    if rep.skipped and call.excinfo is not None and call.excinfo.errisinstance(pytest.skip.Exception):
        res.status = "skip"
        res.message = str(call.excinfo.value.msg if hasattr(call.excinfo.value, "msg") else call.excinfo.value)
        return
    exc = call.excinfo.value if call.excinfo is not None else None
    known = run.known.get(meta.id)
    if exc is None:
        if known is not None:
            res.status = "stale"
            res.message = ("stale known failure: the case now passes; remove it from %s (reason was: %s)"
                           % (run.known_path, known))
            rep.outcome = "failed"
            rep.longrepr = res.message
        elif meta.level == "INFO":
            res.status = "info"
            res.message = "; ".join(res.notes) or "observed, nothing to report"
        else:
            res.status = "pass"
        return
    # A failure of some kind.
    res.location = _location(call.excinfo)
    if isinstance(exc, SuiteBug):
        res.status = "suite-bug"
        res.message = "SUITE BUG (not the target's fault): %s" % exc
        rep.longrepr = res.message + ("\n  at " + res.location if res.location else "")
        return
    if isinstance(exc, CaseFailure):
        res.message = exc.message
        res.violated = exc.req
        res.expected, res.actual, res.has_expected = exc.expected, exc.actual, exc.has_expected
    elif isinstance(exc, (AssertionError, OSError, TimeoutError)) or isinstance(exc, tgt.LaunchError):
        res.message = "%s: %s" % (type(exc).__name__, exc) if not isinstance(exc, AssertionError) else str(exc)
    else:
        res.status = "suite-bug"
        res.message = "SUITE BUG (unexpected %s in the suite): %s\n%s" % (
            type(exc).__name__, exc, "".join(traceback.format_exception_only(type(exc), exc)))
        rep.longrepr = res.message + ("\n  at " + res.location if res.location else "")
        return
    level = "MUST" if isinstance(exc, TargetViolation) else meta.level
    if known is not None:
        res.status = "xfail"
        rep.outcome = "skipped"
        rep.wasxfail = "known failure: %s" % known
        return
    if level == "SHOULD" and not run.strict:
        res.status = "warn"
        rep.outcome = "passed"
        rep.longrepr = None
        return
    if level == "INFO":
        res.status = "info"
        rep.outcome = "passed"
        rep.longrepr = None
        return
    res.status = "fail"
    text = "[%s] %s" % (meta.id, wire.redact_text(str(exc)))
    if res.location:
        text += "\n  at %s" % res.location
    exs = res.recorder.exchanges
    if exs:
        text += "\n  last exchange: " + _brief(exs[-1])
    rep.longrepr = text


def _brief(ex: wire.Exchange) -> str:
    j = ex.to_json()
    req = j["request"]
    resp = j["response"]
    s = "%s %s %s" % (req["method"], req["path"], req["body"]["text"][:300])
    if resp:
        s += "\n    -> %s %s" % (resp["status"], resp["body"]["text"][:500])
    else:
        s += "\n    -> %s" % j["transport_error"]
    return s


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    run: Run = getattr(config, "_assent_run", None)
    if run is None or run.list_only or not run.active:
        return
    tr = terminalreporter
    c = run.counts()
    tr.section("Assent conformance")
    if run.target is not None:
        info = run.target.info or {}
        tr.write_line("target: %s %s, protocol %s, profiles %s" % (
            info.get("name", "?"), info.get("daemon_version", "?"), info.get("protocol_version", "?"),
            ",".join(run.target.profiles)))
    elif run.target_error:
        tr.write_line("target: NOT REACHED: %s" % run.target_error.splitlines()[0])
    tr.write_line("cases: " + ", ".join("%s %d" % (s, c[s]) for s in STATUSES if c[s]))
    for status, title in (("warn", "SHOULD failures (warnings)"), ("stale", "stale known failures"),
                          ("suite-bug", "suite bugs"), ("info", "informational")):
        ids = [cid for cid in run.selected if run.results[cid].status == status]
        if ids:
            tr.write_line("%s:" % title)
            for cid in ids:
                tr.write_line("  %s: %s" % (cid, run.results[cid].message.splitlines()[0][:160] if run.results[cid].message else ""))
    tb = run.traceability()
    if tb["uncovered_must"]:
        tr.write_line("MUST requirements without a case (and not excluded): %s" % ", ".join(tb["uncovered_must"]), red=True)
    if tb["uncovered_other"]:
        tr.write_line("SHOULD/MAY requirements without a case: %s" % ", ".join(tb["uncovered_other"]))
    tr.write_line("requirements: %d covered, %d excluded with a reason, %d MUST uncovered" % (
        len(tb["covered"]), len(tb["excluded"]), len(tb["uncovered_must"])))
    for p in run.problems:
        tr.write_line("suite problem: %s" % p, red=True)
    for r in run.verdict_reasons:
        tr.write_line("verdict: %s" % r, red=True)
    if run.report_dir.exists():
        tr.write_line("reports: %s" % run.report_dir)


def pytest_sessionfinish(session, exitstatus):
    run: Run = getattr(session.config, "_assent_run", None)
    if run is None:
        return
    if not run.active:
        run.tear_down()
        return
    try:
        if run.list_only:
            if run.problems:
                for p in run.problems:
                    sys.stderr.write("suite problem: %s\n" % p)
                session.exitstatus = 3
            else:
                session.exitstatus = 0
            return
        reasons = []
        c = run.counts()
        if not run.selected:
            reasons.append("no case was selected")
        for s in FAILING:
            if c[s]:
                reasons.append("%d case(s) %s" % (c[s], s))
        if run.strict and c["warn"]:
            reasons.append("%d SHOULD failure(s) with --strict" % c["warn"])
        tb = run.traceability()
        if tb["uncovered_must"] and run.partial:
            sys.stderr.write("traceability not enforced: not every case module was collected\n")
        elif tb["uncovered_must"]:
            reasons.append("MUST requirements without a case: %s" % ", ".join(tb["uncovered_must"]))
        if tb["unknown_exclusions"]:
            reasons.append("exclusions name unknown requirements: %s" % ", ".join(tb["unknown_exclusions"]))
        if run.problems:
            reasons.append("%d suite problem(s)" % len(run.problems))
        run.verdict_reasons = reasons
        verdict = "fail" if reasons else "pass"
        try:
            report_mod.write_reports(run, verdict, reasons, tb)
        except Exception as e:  # never lose the verdict to a report problem
            sys.stderr.write("could not write reports: %s\n" % e)
            reasons.append("report writing failed: %s" % e)
            verdict = "fail"
        if verdict == "fail" and session.exitstatus == 0:
            session.exitstatus = 1
        if verdict == "pass" and session.exitstatus == 1 and not any(
                run.results[c].status in FAILING for c in run.selected):
            # pytest counted only outcomes we turned into warnings/xfails.
            session.exitstatus = 0
    finally:
        run.tear_down()
