"""Fuzz suite: Hypothesis profiles, shared fixtures and the case counts printed at the end.

Profiles (``pytest tests/fuzz --hypothesis-profile=NAME``):

* ``ci`` (the default here): derandomized (the same cases on every run), no example
  database, no deadline — the whole of ``tests/fuzz`` in about a minute and a half.
* ``long``: random cases (``print_blob`` shows how to reproduce a failure), 50 × the cases
  of ``ci`` — thousands in all.
"""

from __future__ import annotations

import os
import sys
import warnings

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))

from fuzz_contract import CASES, REFUSED

_COMMON = dict(
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)
# budget(n) in fuzz_contract scales each test's case count by max_examples / 100
settings.register_profile("ci", max_examples=100, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=5000, derandomize=False, **_COMMON)
if settings.get_current_profile_name() == "default":
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def fuzz_base(tmp_path_factory):
    """A directory for the per-case sandboxes."""
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="session")
def tiny_system(tmp_path_factory):
    """A generated 12-cell system directory with an MEA (path), outside every sandbox."""
    from livn.workflows.generate_2d import Generate2D

    out = tmp_path_factory.mktemp("fuzz-systems") / "tiny"
    job = Generate2D({"total_cells": 12, "output_directory": str(out),
                      "connectivity": {"mean_degree": 2.0}})
    with warnings.catch_warnings():  # 12 cells cannot reach the mean degree: expected
        warnings.simplefilter("ignore")
        job.launch()
    job.mea(pitch=500.0)
    return str(out)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not CASES:
        return
    total, refused = sum(CASES.values()), sum(REFUSED.values())
    tr = terminalreporter
    tr.section("fuzz cases")
    tr.write_line(f"profile {settings.get_current_profile_name()}: {total:,} cases "
                  f"({refused:,} refused with a LivnError / exit 2)")
    for surface in sorted(CASES):
        tr.write_line(f"  {surface:<28} {CASES[surface]:>7,}  ({REFUSED[surface]:,} refused)")
