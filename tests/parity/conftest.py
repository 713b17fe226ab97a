"""Shared systems and statistics of the cross-simulator parity suite (``tests/parity``).

Each parity module compares one simulator with the JAX engine on the same system, stimulus and
seed, with the tolerances of issue 11 stated in its tests, and is skipped with a reason when
its simulator is not installed.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def isolated_cells(tmp_path_factory) -> str:
    """A system of 5 EXC and 5 INH cells without connections, with an MEA (path)."""
    from livn.backends.parity import isolated_cells as build

    return build(tmp_path_factory.mktemp("parity") / "isolated")
