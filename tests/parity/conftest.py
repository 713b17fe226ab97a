"""Shared systems and statistics of the cross-simulator parity suite (``tests/parity``).

Each parity module compares one simulator with the JAX engine on the same system, stimulus and
seed, with the tolerances of issue 11 stated in its tests, and is skipped with a reason when
its simulator is not installed.
"""

from __future__ import annotations

import warnings

import pytest


@pytest.fixture(scope="session")
def isolated_cells(tmp_path_factory) -> str:
    """A system of 5 EXC and 5 INH cells without connections, with an MEA (path)."""
    from livn.workflows.generate_2d import Generate2D

    out = tmp_path_factory.mktemp("parity") / "isolated"
    job = Generate2D({
        "total_cells": 10, "output_directory": str(out), "seed": 3,
        "populations": {"EXC": {"count": 5, "synapse_type": "excitatory"},
                        "INH": {"count": 5, "synapse_type": "inhibitory"}},
        "connectivity": {"mean_degree": 0.0},
    })  # fmt: skip
    with warnings.catch_warnings():  # no connections: the degree warning is expected
        warnings.simplefilter("ignore")
        job.launch()
    job.mea(pitch=500.0)
    return str(out)
