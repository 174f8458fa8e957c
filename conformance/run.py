"""Command-line wrapper: `python3 -m conformance [options]` (or `python3 conformance/run.py`).

Maps the suite's options onto pytest (the options of conftest.py are the core) and returns
the suite's verdict as the exit status: 0 pass, 1 fail (including "no case ran"), 2 usage,
3 suite problem."""

from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m conformance", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    t = p.add_argument_group("target (one of)")
    t.add_argument("--launch", help="launch command with {data_dir} {tokens_file} ... placeholders (README.md)")
    t.add_argument("--target-url", help="a running target, http://127.0.0.1:PORT")
    for role in ("admin", "approver", "approver2", "agent"):
        t.add_argument("--token-%s" % role, help="with --target-url")
    t.add_argument("--target-unix-socket", help="with --target-url: its Unix socket")
    t.add_argument("--mock-discord-control-url", help="with --target-url: the mock Discord it talks to")
    p.add_argument("--list", action="store_true", help="print every case id, level, profile and requirement; run nothing")
    p.add_argument("--select", action="append", default=[], metavar="PREFIX", help="case id prefix (repeatable)")
    p.add_argument("--profile", help="comma-separated profiles to run (core,events,discord)")
    p.add_argument("--force-profile", action="append", default=[], metavar="PROFILE",
                   help="run PROFILE's cases although the target does not declare it")
    p.add_argument("--strict", action="store_true", help="SHOULD failures fail the run")
    p.add_argument("--known-failures", help="JSON file of case ids the target is known to fail")
    p.add_argument("--report-dir", help="results.json, report.html, junit.xml (default conformance/reports)")
    p.add_argument("--spec-dir", help="spec directory (default ../spec)")
    p.add_argument("--keep-workdir", action="store_true", help="keep data directories and logs")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    a = p.parse_args(argv)

    args = [HERE, "-p", "no:cacheprovider", "-v" if a.verbose else "-q"]
    if a.list:
        args.append("--list-cases")
    for opt in ("launch", "target_url", "token_admin", "token_approver", "token_approver2", "token_agent",
                "target_unix_socket", "mock_discord_control_url", "profile", "known_failures", "report_dir",
                "spec_dir"):
        v = getattr(a, opt)
        if v:
            args += ["--" + opt.replace("_", "-"), v]
    for s in a.select:
        args += ["--select", s]
    for fp in a.force_profile:
        args += ["--force-profile", fp]
    if a.strict:
        args.append("--strict-should")
    if a.keep_workdir:
        args.append("--keep-workdir")
    args += a.pytest_args
    sys.path.insert(0, os.path.dirname(HERE))
    import pytest
    rc = pytest.main(args)
    if rc == 5 and not a.list:
        sys.stderr.write("no conformance case ran\n")
        return 1
    return int(rc)


if __name__ == "__main__":
    sys.exit(main())
