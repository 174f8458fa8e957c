"""Options of the crash-chaos test.

    --chaos-seed N      (or ASSENT_CHAOS_SEED=N)   the seed; random when not given
    --chaos-cycles N    (or ASSENT_CHAOS_CYCLES=N) request cycles, default 1000

The seed and the run's figures are printed at the end of every run, also with -q.
"""

import os
import random

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("chaos", "crash chaos (tests/chaos)")
    group.addoption("--chaos-seed", type=int, default=None,
                    help="seed of the crash-chaos run (default: $ASSENT_CHAOS_SEED, else random)")
    group.addoption("--chaos-cycles", type=int, default=None,
                    help="request cycles (default: $ASSENT_CHAOS_CYCLES, else 1000)")


def _seed(config):
    seed = config.getoption("--chaos-seed", default=None)
    if seed is None and os.environ.get("ASSENT_CHAOS_SEED"):
        seed = int(os.environ["ASSENT_CHAOS_SEED"])
    if seed is None:
        seed = random.SystemRandom().randrange(1, 2**31)
    return seed


def pytest_configure(config):
    config._chaos_seed = _seed(config)
    config._chaos_report = None


@pytest.fixture(scope="session")
def chaos_seed(request):
    return request.config._chaos_seed


@pytest.fixture(scope="session")
def chaos_cycles(request):
    return request.config.getoption("--chaos-cycles", default=None)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    seed = getattr(config, "_chaos_seed", None)
    report = getattr(config, "_chaos_report", None)
    if seed is None or report is None:
        return  # the chaos run did not happen (deselected, or no daemon binary)
    tr = terminalreporter
    tr.write_line("")
    tr.write_line(f"crash chaos: {report.summary()}")
    if report.plans:
        tr.write_line("crash chaos: cycles by plan: " +
                      ", ".join(f"{k} {v}" for k, v in sorted(report.plans.items())))
    if report.timings:
        tr.write_line("crash chaos: time in " + ", ".join(
            f"{k} {v:.1f} s" for k, v in report.timings.items()))
    if report.home:
        tr.write_line(f"crash chaos: data directory and daemon log kept in {report.home}")
    tr.write_line(f"crash chaos: reproduce with ASSENT_CHAOS_SEED={seed}"
                  + f" ASSENT_CHAOS_CYCLES={report.settings.cycles}"
                  + " /usr/bin/python3 -m pytest -q tests/chaos")
