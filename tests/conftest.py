"""Shared fixtures: an isolated livn cache per test session, small generated systems."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # test helpers such as rcsd_reference


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Point LIVN_CACHE_DIR at a fresh directory so tests never touch the user's cache."""
    path = tmp_path_factory.mktemp("livn-cache")
    old = os.environ.get("LIVN_CACHE_DIR")
    os.environ["LIVN_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("LIVN_CACHE_DIR", None)
    else:
        os.environ["LIVN_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def small_system(tmp_path_factory):
    """A 200-cell culture written once per session (path)."""
    from livn.system.culture import CultureConfig, write_culture

    out = tmp_path_factory.mktemp("systems") / "small"
    config = CultureConfig(
        total_cells=200,
        connectivity={
            "sigma": 800.0,
            "mean_degree": {"EXC->EXC": 8, "EXC->INH": 6, "INH->EXC": 4, "INH->INH": 2},
        },
        seed=3,
    )
    return write_culture(config, out)
