"""Generating cultures: ``livn.workflows.get("generate_2d", {...})`` and
``livn systems generate_2d key=value ... --launch [--mea --pitch/--z/--radius]``."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from fuzz_contract import (
    ANY,
    BAD,
    OK,
    Sandbox,
    assert_only_added_under,
    assert_unchanged,
    budget,
    check_cli,
    outcome,
    relative_in,
    run_cli,
    silence,
    worst,
)
from fuzz_strategies import (
    MAX_SEED,
    OUTPUT_PATHS,
    RAW_TOKENS,
    counts,
    is_int,
    is_real,
    launchable_output_keys,
    needs_output_root,
    output_keys,
    output_path,
    output_suspects,
    reals,
    token_value,
    wrong_types,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from livn.cli.kv import parse_kv
from livn.errors import LivnError
from livn.system.culture.config import MAX_CELLS, MAX_EDGES, MIN_SIGMA, CultureConfig
from livn.system.culture.placement import MAX_COORDINATE

# small cultures cannot reach the default mean degree: expected, not a finding
pytestmark = pytest.mark.filterwarnings("ignore::livn.errors.ConnectivityWarning")

#: Population layouts and their verdicts (``None``: the default 80 % / 20 % EXC/INH).
POPULATIONS: list[tuple[Any, str]] = [
    ({"EXC": {"count": 10}, "INH": {"count": 3}}, OK),
    ({"EXC": {"ratio": 1.0}}, OK),
    ({"EXC": {"ratio": 0.5}, "INH": {"ratio": 0.5, "synapse_type": "inhibitory"}}, OK),
    ({"EXC": {"count": 0}}, BAD),
    ({"EXC": {"count": 0}, "INH": {"count": 0}}, BAD),
    ({"EXC": {"ratio": 0.5}}, BAD),
    ({"A_B": {"ratio": 1.0}}, BAD),
    ({"": {"ratio": 1.0}}, BAD),
    ({}, BAD),
    ({"EXC": {"ratio": 0.5, "count": 3}}, BAD),
    ({"EXC": {"count": 3.0}}, BAD),
    ({"EXC": {"count": 2**64}}, BAD),
    ({"EXC": {"count": MAX_CELLS + 1}}, BAD),
    ({"EXC": {"count": -1}}, BAD),
    ({"EXC": {"ratio": float("nan")}}, BAD),
    ({"EXC": {"ratio": True}}, BAD),
    ({"EXC": {"ratio": 1.0, "synapse_type": "weird"}}, BAD),
    ({"EXC": {"ratio": 1.0, "colour": "red"}}, BAD),
    ({"EXC": {"ratio": 0.8}, "INH": {"count": 2}}, BAD),
    ("EXC", BAD),
    ([{"ratio": 1.0}], BAD),
]
AREAS: list[tuple[Any, str]] = [
    ("rectangle", OK), ("disk", OK), ("systems.generate_2d.rectangle", OK),
    ("livn.system.culture.disk", OK), ("square", BAD), ("", BAD), ("nosuch_mod.area", BAD),
    ("math.pi", BAD), ("os.getcwd", BAD), ("livn.", BAD), (3, BAD), (None, BAD),
]
#: Keyword arguments of the built-in areas.
RANGE = st.one_of(st.tuples(st.floats(-5000, 0), st.floats(1, 5000)).map(list),
                  st.sampled_from([[0, 1e300], [-1e308, 1e308], [0, float("inf")],
                                   [float("nan"), 1], [5, 1], [1, 1], [0], "ab", 3, None,
                                   [0, "x"], [True, 5], [0, 2**1024]]))
AREA_KWARGS = st.one_of(
    st.just({}),
    st.fixed_dictionaries({}, optional={"x_range": RANGE, "y_range": RANGE}),
    st.fixed_dictionaries({}, optional={
        "radius": reals(1.0, 3000.0), "inner_radius": reals(0.0, 0.5),
        "center": st.one_of(st.tuples(st.floats(-100, 100), st.floats(-100, 100)).map(list),
                            st.sampled_from([[0], "ab", 5, [0, float("nan")], [0, 1e308],
                                             [1e308, -1e308], None]))}),
    st.sampled_from([{"radius": 1e200}, {"radius": float("inf")}, {"radius": "abc"},
                     {"inner_radius": "x"}, {"center": "ab"}, {"side": 3}]),
    wrong_types(),
)
MEAN_DEGREE = st.one_of(reals(0.0, 10.0),
                        st.sampled_from([{"EXC->EXC": 2.0}, {"EXC->INH": 1, "INH->EXC": 2},
                                         {"EXC->NOPE": 1.0}, {"EXC-EXC": 1.0},
                                         {"EXC->EXC": -1.0}, {"EXC->EXC": float("nan")},
                                         {"EXC->EXC": 1e7}, {}]))
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "name": st.one_of(st.none(), st.sampled_from(["my culture", "ü/x", "a\x00b", ""]),
                      wrong_types()),
    "total_cells": st.one_of(counts(1, MAX_CELLS, (1, 60)), st.none()),
    "populations": st.sampled_from(POPULATIONS).map(lambda p: p[0]),
    "area": st.sampled_from(AREAS).map(lambda a: a[0]),
    "area_kwargs": AREA_KWARGS,
    "z_range": st.one_of(st.tuples(st.floats(-100, 0), st.floats(0, 100)).map(list),
                         st.sampled_from([[0, float("inf")], [-1e308, 1e308], [5, 1], [0],
                                          [0, 1, 2], "ab", None, [True, 1]])),
    "connectivity.kernel": st.sampled_from(["gaussian", "exponential", "box", "", 3]),
    "connectivity.sigma": st.one_of(reals(1.0, 2000.0), st.sampled_from([1e-30, 1e30])),
    "connectivity.mean_degree": MEAN_DEGREE,
    "connectivity.cutoff": reals(0.5, 5.0),
    "connectivity.allow_self_connections": st.one_of(st.booleans(), wrong_types()),
    "connectivity.colour": st.just(1),
    "seed": counts(0, MAX_SEED, (0, 100)),
    "UNKNOWN": st.sampled_from(["totl_cells", "cells", "Seed", "", "ü"]),
}


@st.composite
def culture_configs(draw, small: bool = False) -> dict[str, Any]:
    """A small valid culture with 0–3 fields replaced by generated values."""
    cfg: dict[str, Any] = {"total_cells": draw(st.integers(2, 30))}
    for field in draw(st.lists(st.sampled_from(list(FIELDS)), max_size=2, unique=True)):
        value = draw(FIELDS[field])
        if field == "UNKNOWN":
            cfg[value] = 1
        elif field.startswith("connectivity."):
            cfg.setdefault("connectivity", {})[field.split(".")[1]] = value
        else:
            cfg[field] = value
    if small and is_int(cfg.get("total_cells")) and cfg["total_cells"] > 200:
        cfg["total_cells"] = 200  # launches build the culture: keep them quick
    return cfg


def _num(x: Any) -> bool:
    return is_real(x)


def _pair_ok(r: Any) -> bool:
    """Two finite numbers within ±MAX_COORDINATE µm (positions are float32)."""
    return (isinstance(r, list | tuple) and len(r) == 2
            and all(_num(x) and abs(x) <= MAX_COORDINATE for x in r))


def _range_ok(r: Any, strict: bool = True) -> bool:
    return _pair_ok(r) and (r[0] < r[1] if strict else r[0] <= r[1])


def area_verdict(area: Any, kwargs: Any) -> str:
    name = next((vv for a, vv in AREAS if repr(a) == repr(area)), BAD)
    if name != OK:
        return BAD
    if not isinstance(kwargs, dict):
        return BAD
    short = area.rsplit(".", 1)[-1]
    if short == "rectangle":
        if set(kwargs) - {"x_range", "y_range"}:
            return BAD
        return OK if all(_range_ok(v) for v in kwargs.values()) else BAD
    if set(kwargs) - {"radius", "inner_radius", "center"}:
        return BAD
    r, ir, c = kwargs.get("radius", 500.0), kwargs.get("inner_radius", 0.0), kwargs.get(
        "center", [0.0, 0.0])
    if not (_num(r) and _num(ir) and 0 < r <= MAX_COORDINATE and 0 <= ir < r):
        return BAD
    return OK if _pair_ok(c) else BAD


def oracle(cfg: dict[str, Any]) -> tuple[str, dict[str, str]]:
    v: dict[str, str] = {k: BAD for k in cfg if k not in CultureConfig.model_fields}
    get = cfg.get
    v["name"] = OK if get("name") is None or isinstance(get("name"), str) else BAD
    pops = get("populations")
    v["populations"] = OK if pops is None else next(  # by repr: True == 1.0 in Python
        (vv for p, vv in POPULATIONS if repr(p) == repr(pops)), BAD)
    counted = isinstance(pops, dict) and pops and all(
        isinstance(p, dict) and "count" in p and "ratio" not in p for p in pops.values())
    n = get("total_cells", 100)
    if counted:
        total = sum(p["count"] for p in pops.values()) if v["populations"] == OK else 0
        v["total_cells"] = OK if "total_cells" not in cfg or n is None or (n == total and is_int(
            n)) else BAD
        if "total_cells" in cfg and not (n is None or is_int(n)):
            v["total_cells"] = BAD
    else:
        v["total_cells"] = OK if is_int(n) and 1 <= n <= 200 else (
            ANY if is_int(n) and 1 <= n <= MAX_CELLS else BAD)
        total = n if is_int(n) and 0 < n <= MAX_CELLS else 0
    names = set(pops) if isinstance(pops, dict) and v["populations"] == OK else {"EXC", "INH"}
    conn = get("connectivity", {})
    v["area"] = area_verdict(get("area", "rectangle"), get("area_kwargs", {}))
    v["area_kwargs"] = v["area"]
    z = get("z_range", [0.0, 10.0])
    v["z_range"] = OK if _range_ok(z, strict=False) else BAD
    v["seed"] = OK if is_int(get("seed", 0)) and 0 <= get("seed", 0) <= MAX_SEED else BAD
    if not isinstance(conn, dict):
        v["connectivity"] = BAD
        conn = {}
    for k in conn:
        if k not in ("kernel", "sigma", "mean_degree", "cutoff", "allow_self_connections"):
            v[f"connectivity.{k}"] = BAD
    v["kernel"] = OK if conn.get("kernel", "gaussian") in ("gaussian", "exponential") else BAD
    sigma = conn.get("sigma", 500.0)
    v["sigma"] = (OK if 1.0 <= sigma <= 2000.0 else ANY) if _num(sigma) and sigma >= MIN_SIGMA else BAD
    cut = conn.get("cutoff", 3.0)
    v["cutoff"] = (OK if 0.5 <= cut <= 5 else ANY) if _num(cut) and cut > 0 else BAD
    v["allow_self_connections"] = OK if isinstance(conn.get("allow_self_connections", False),
                                                   bool) else BAD
    md = conn.get("mean_degree", 10.0)
    if isinstance(md, dict):
        ok = all(isinstance(k, str) and k.count("->") == 1 and set(k.split("->")) <= names
                 and _num(x) and x >= 0 for k, x in md.items())
        v["mean_degree"] = (OK if all(x <= 20 for x in md.values()) else ANY) if ok else BAD
        edges = sum(md.values()) * total if ok else 0
    else:
        v["mean_degree"] = (OK if md <= 20 else ANY) if _num(md) and md >= 0 else BAD
        edges = md * len(names) * total if v["mean_degree"] != BAD else 0
    if edges > MAX_EDGES:
        v["mean_degree"] = BAD
    return worst(*v.values()), v


def suspects(fields: dict[str, str], cfg: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    for key, verdict in fields.items():
        if verdict != OK:
            out += [key, f"connectivity.{key}", key.split(".")[-1]]
            if key in ("populations", "area_kwargs", "mean_degree", "total_cells"):
                out += ["cells", "population", "area", "synapses", "mean_degree", "ratio",
                        "count", "inner_radius", "radius", "center", "x_range", "y_range"]
            value = cfg.get(key)
            if isinstance(value, str):
                out.append(value)
    return out


def expected_cells(cfg: dict[str, Any]) -> int:
    pops = cfg.get("populations")
    if isinstance(pops, dict) and all("count" in p for p in pops.values()):
        return sum(p["count"] for p in pops.values())
    return cfg.get("total_cells", 100)


def check_system(box: Sandbox, path: str, cfg: dict[str, Any], before) -> None:
    """A generated system opens and has the asked number of cells; only its directory was
    written."""
    from livn.system import System

    rel = relative_in(box.root, Path(path).expanduser())
    assert rel is not None, f"generate_2d wrote outside the sandbox: {path}"
    assert_only_added_under(before, box.snapshot(), rel)
    system = System(str(box.root / rel))
    assert system.num_neurons == expected_cells(cfg)
    assert not [p for p in (box.root / rel).parent.iterdir() if ".tmp-" in p.name]


# ---------------------------------------------------------------------------- Python
@settings(max_examples=budget(100))
@given(cfg=culture_configs())
@example(cfg={"total_cells": 100_000})  # ~100 GiB of candidate pairs: refused, not built
@example(cfg={"total_cells": MAX_CELLS})
def test_generate_2d_config(cfg):
    """The configuration alone (every bound, any size: nothing is built)."""
    from livn.workflows import get

    verdict, fields = oracle(cfg)  # above 200 cells: ANY (the memory bound may refuse)
    names = [*suspects(fields, cfg), "candidate pairs", "memory"]
    job, error = outcome(lambda: get("generate_2d", cfg), surface="generate_2d config (Python)",
                         verdict=verdict, suspects=names)
    if error is None:
        assert sum(job.config.population_counts().values()) == expected_cells(cfg)


@settings(max_examples=budget(80))
@given(cfg=culture_configs(small=True), out=output_keys)
@example(cfg={"total_cells": 5, "area": "disk", "area_kwargs": {"radius": "abc"}}, out="job")
@example(cfg={"total_cells": 5, "area_kwargs": {"x_range": [-1e308, 1e308]}}, out="job")
@example(cfg={"total_cells": 5, "area": "os.getcwd"}, out="job")
@example(cfg={"total_cells": 5, "z_range": [-1e308, 1e308]}, out="job")
@example(cfg={"total_cells": 5}, out="a\x00b")
@example(cfg={"total_cells": 5}, out="")
@example(cfg={"total_cells": 5}, out="CACHE")
@example(cfg={"total_cells": 5, "connectivity": {"sigma": 1e-30,
                                                  "allow_self_connections": True}}, out="job")
def test_generate_2d_config_and_launch(fuzz_base, tiny_system, cfg, out):
    with Sandbox(fuzz_base, output_root=needs_output_root(out)) as box:
        path = output_path(out, box, tiny_system)
        cfg = {**cfg, "output_directory": path}
        verdict, fields = oracle(cfg)
        fields["output_directory"] = OUTPUT_PATHS[out][0]
        if fields["output_directory"] == ANY:
            fields["output_directory"] = BAD  # a launch cannot write there
        launch = OUTPUT_PATHS[out][1] or fields["output_directory"] == BAD
        if not launch:
            return
        verdict = worst(verdict, fields["output_directory"])
        names = suspects(fields, cfg) + output_suspects(out, path)
        before = box.snapshot()

        def call():
            from livn.workflows import get

            with silence():
                return get("generate_2d", cfg).launch()

        outside = relative_in(box.root, Path(path).expanduser()) is None if "\x00" not in path else False
        existed = outside and os.path.lexists(os.path.expanduser(path))
        try:
            system, error = outcome(call, surface="generate_2d (Python)", verdict=verdict,
                                    suspects=names, timeout=60)
        finally:  # a regression must not leave a system in livn's package or another system
            if outside and not existed and os.path.isdir(os.path.expanduser(path)):
                shutil.rmtree(os.path.expanduser(path))
        box.assert_user_files_intact()
        if error is not None:
            assert_unchanged(before, box.snapshot(), "generate_2d refused")
        else:
            check_system(box, path, cfg, before)
            assert system.num_neurons == expected_cells(cfg)


# ---------------------------------------------------------------------------- CLI
MEA_VALUES = ["1000", "500", "250", "0", "-1", "nan", "inf", "-inf", "1e-300", "1e308", "abc",
              "", "1e3", "3"]


@st.composite
def generate_argv(draw) -> tuple[list[str], list[str]]:
    cfg = draw(culture_configs(small=True))
    argv = []
    for key, value in cfg.items():
        if key == "connectivity" and isinstance(value, dict):
            argv += [f"connectivity.{k}={token_value(x)}" for k, x in value.items()]
        else:
            argv.append(f"{key}={token_value(value)}")
    if draw(st.integers(0, 4)) == 4:
        argv.append(f"{draw(st.sampled_from(list(FIELDS)))}={draw(st.sampled_from(RAW_TOKENS))}")
    flags = ["--launch"]
    if draw(st.booleans()):
        flags.append("--mea")
        for flag in ("--pitch", "--z", "--radius"):
            if draw(st.booleans()):
                flags += [flag, draw(st.sampled_from(MEA_VALUES))]
    return argv, flags


def mea_verdict(flags: list[str]) -> tuple[str, list[str]]:
    if "--mea" not in flags:
        return OK, []
    values = dict(zip(flags[2::2], flags[3::2], strict=False))
    verdict = OK
    for flag, text in values.items():
        try:
            x = float(text)
        except ValueError:
            verdict = BAD
            continue
        ok = math.isfinite(x) and (x > 0 if flag != "--z" else True)
        if flag == "--pitch" and ok and x < 100:
            verdict = worst(verdict, ANY)  # a fine pitch over a large area: too many electrodes
        verdict = worst(verdict, OK if ok else BAD)
    return verdict, ["pitch", "radius", "z", "MEA", "electrode", *values.values()]


@settings(max_examples=budget(60))
@given(case=generate_argv(), out=launchable_output_keys)
@example(case=(["total_cells=20"], ["--launch", "--mea", "--pitch", "nan"]), out="job")
@example(case=(["total_cells=20"], ["--launch", "--mea", "--pitch", "abc"]), out="job")
@example(case=(["total_cells=2", "=1"], ["--launch", "--mea", "--z", "-inf"]), out="job")
@example(case=(["total_cells=20", "area_kwargs.x_range=[0, 1e300]"],
               ["--launch", "--mea", "--pitch", "1"]), out="job")
def test_generate_2d_cli(fuzz_base, tiny_system, case, out):
    argv, flags = case
    with Sandbox(fuzz_base, output_root=needs_output_root(out)) as box:
        path = output_path(out, box, tiny_system)
        argv = [*argv, f"output_directory={path}"]
        try:
            cfg = parse_kv(argv)
        except LivnError:
            cfg, verdict, names = None, BAD, argv + [a.partition("=")[0] for a in argv]
        if cfg is not None:
            verdict, fields = oracle(cfg)
            fields["output_directory"] = OUTPUT_PATHS[out][0] if cfg.get(
                "output_directory") == path else BAD
            if fields["output_directory"] == ANY:
                fields["output_directory"] = BAD
            mv, mnames = mea_verdict(flags)
            if verdict == OK and cfg.get("area") not in (None, "rectangle") and mv == OK:
                mv = ANY  # a disk's or custom area's MEA is fitted to the cells
            verdict = worst(verdict, fields["output_directory"], mv)
            names = suspects(fields, cfg) + output_suspects(out, path) + mnames
        names += ["--pitch", "--z", "--radius", *flags[2:]]  # argparse reads the flags first
        before = box.snapshot()
        code, stdout, stderr = run_cli(["systems", "generate_2d", *argv, *flags], timeout=60)
        refused = check_cli(code, stdout, stderr, surface="generate_2d CLI", verdict=verdict,
                            suspects=names)
        box.assert_user_files_intact()
        if refused:
            assert_unchanged(before, box.snapshot(), "livn systems generate_2d refused")
            assert "Generated" not in stdout
        else:
            check_system(box, path, cfg, before)
            assert f"{expected_cells(cfg)} cells" in stdout
            if "--mea" in flags:
                from livn.io import MEA

                rel = relative_in(box.root, Path(path).expanduser())
                assert MEA.from_directory(str(box.root / rel)).num_channels >= 1
