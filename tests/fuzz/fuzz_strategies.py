"""Hypothesis strategies for the fuzz suite: wrong types, boundaries, huge and non-finite
numbers, unicode, CLI tokens and output-directory path tricks."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from fuzz_contract import ANY, BAD, OK, Sandbox
from hypothesis import strategies as st

from livn import limits

NAN, INF = float("nan"), float("inf")

#: Numbers no count or duration may be.
NON_FINITE = [NAN, INF, -INF]
#: Huge integers (``2**1024`` does not fit a float).
HUGE_INTS = [2**31, 2**31 - 1, 2**32, 2**32 - 1, 2**63, 2**64, -(2**63), 10**30, 2**1024]
#: Huge and tiny floats.
ODD_FLOATS = [1e12, 1e308, -1e308, 1.7976931348623157e308, 5e-324, 1e-300, -0.0, 0.0, 1e-9]
#: Floats that hold integers (refused for counts: ``1e3``, ``3.0``).
INTEGRAL_FLOATS = [0.0, 1.0, 3.0, 1e3, 1e12, -1.0]

#: Short unicode text: control characters, NUL, combining marks, emoji, right-to-left.
UNICODE = ["", " ", "\x00", "a\x00b", "\n", "tab\there", "ü", "日本語", "😀", "e\u0301",
           "\u202etxt", "\ufeff", "NaN", "Infinity", "true", "null", "0x10", "1_000", "３"]


def texts(max_size: int = 12) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(UNICODE), st.text(max_size=max_size))


def wrong_types() -> st.SearchStrategy[Any]:
    """Values of the wrong type for almost any field."""
    return st.one_of(
        st.booleans(),
        st.none(),
        texts(),
        st.lists(st.integers(-3, 3), max_size=3),
        st.dictionaries(st.sampled_from(["a", "x", ""]), st.integers(0, 3), max_size=2),
        st.sampled_from([[], {}, [[1]], {"a": {"b": None}}]),
    )


def counts(lo: int = 0, hi: int | None = None, typical: tuple[int, int] = (1, 20)):
    """Integers around the bounds ``lo``/``hi``, typical values, huge ones, and wrong types."""
    edges = [lo - 1, lo, lo + 1, -1, 0, 1]
    if hi is not None:
        edges += [hi - 1, hi, hi + 1]
    return st.one_of(
        st.integers(*typical),
        st.integers(*typical),
        st.sampled_from(edges),
        st.sampled_from(HUGE_INTS),
        st.sampled_from(INTEGRAL_FLOATS),
        st.floats(allow_nan=True, allow_infinity=True),
        wrong_types(),
    )


def reals(lo: float = 0.0, hi: float = 1000.0) -> st.SearchStrategy[Any]:
    """Finite numbers in a typical range, boundaries, huge/tiny and non-finite, wrong types."""
    return st.one_of(
        st.floats(lo, hi),
        st.integers(int(lo), int(hi)),
        st.sampled_from(NON_FINITE + ODD_FLOATS + [-1, -1.0, lo, hi]),
        st.sampled_from(HUGE_INTS),
        st.floats(allow_nan=True, allow_infinity=True),
        wrong_types(),
    )


def is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def is_real(x: Any) -> bool:
    """An int or float (not a bool) that is finite."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return False
    try:
        return float(x) not in (INF, -INF) and float(x) == float(x)
    except OverflowError:
        return False


# ---------------------------------------------------------------------------- CLI tokens
#: Raw command-line spellings that are not the JSON of a Python value.
RAW_TOKENS = ["1e3", "1E3", "1e999", "-1e999", "NaN", "Infinity", "-Infinity", "nan", "inf",
              "true", "True", "yes", "no", "null", "None", "0x10", "0o7", "1_000", "01",
              "-0", "3.0", "[1,", "{", "[]", "{}", "[1, 2]", '{"a": 1}', '""', "'3'", "３",
              "", " ", "ü", "😀", "a b", "--launch", "=", "==", "a=b", "18446744073709551616",
              "1" * 400]


def token_value(value: Any) -> str:
    """How a user writes ``value`` after ``key=``: strings raw, everything else as JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return str(value)


def cli_values(values: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    return st.one_of(values.map(token_value), st.sampled_from(RAW_TOKENS))


# ---------------------------------------------------------------------------- output paths
#: Output-directory tricks: ``name -> (verdict for plans, whether a launch may write there)``.
#: A verdict of BAD means every surface must refuse it before writing.
OUTPUT_PATHS: dict[str, tuple[str, bool]] = {
    "job": (OK, True),
    "./job/": (OK, True),
    "sub/deeper/job": (OK, True),
    "emptydir": (OK, True),
    "../outside_cwd": (OK, True),
    "sub/../job2": (OK, True),
    "ABSOLUTE": (OK, True),
    "~/job": (OK, True),
    "new\nline": (OK, True),
    "dätä 😀": (OK, True),
    "userdir/newjob": (OK, True),
    "LONG_COMPONENTS": (OK, True),
    "ROOT_INSIDE": (OK, True),
    "~": (BAD, True),
    "": (BAD, True),
    "   ": (BAD, True),
    "a\x00b": (BAD, True),
    "NAME_TOO_LONG": (BAD, True),
    "PATH_TOO_LONG": (BAD, True),
    "userfile.txt": (BAD, True),
    "userfile.txt/sub": (BAD, True),
    "userdir": (BAD, True),
    "userdir/": (BAD, True),
    "link_to_userdir": (BAD, True),
    "ROOT_OUTSIDE": (BAD, True),
    "ROOT_ESCAPE": (BAD, True),
    "/proc/livn-fuzz/job": (ANY, True),  # cannot be created (even by root): a launch refuses
    "/": (BAD, False),
    "/usr": (BAD, False),
    "/etc": (BAD, False),
    "/dev/null": (BAD, False),
    "/dev/null/job": (BAD, False),
    "CACHE": (BAD, False),
    "PACKAGE": (BAD, False),
    "SYSTEM": (BAD, False),
}

output_keys = st.sampled_from(list(OUTPUT_PATHS))
launchable_output_keys = st.sampled_from([k for k, (_, w) in OUTPUT_PATHS.items() if w])


def needs_output_root(key: str) -> bool:
    return key.startswith("ROOT_")


def output_path(key: str, box: Sandbox, system_dir: str) -> str:
    """The output directory a user would type for ``key`` in ``box``."""
    import livn
    from livn.system.predefined import cache_dir

    special = {
        "ABSOLUTE": str(box.work / "absjob"),
        "LONG_COMPONENTS": "d/" + "y" * 200 + "/" + "z" * 250,
        "NAME_TOO_LONG": "x" * 300,
        "PATH_TOO_LONG": "/".join(["p" * 200] * 25),
        "ROOT_INSIDE": "../allowed/job",
        "ROOT_OUTSIDE": "job",
        "ROOT_ESCAPE": "../allowed/../job",
        "CACHE": str(cache_dir() / "out"),
        "PACKAGE": str(Path(livn.__file__).parent / "out"),
        "SYSTEM": os.path.join(system_dir, "out"),
    }
    return special.get(key, key)


def output_suspects(key: str, value: str) -> list[str]:
    """What a refusal of this output directory may name."""
    out = ["output_directory", "output_dir", "output directory", value]
    try:
        out.append(str(Path(os.path.expanduser(value)).resolve()))
    except (OSError, ValueError):
        pass
    return [x for x in out if x.strip() and "\x00" not in x] + (["\\x00"] if "\x00" in value else [])


# ---------------------------------------------------------------------------- names
#: Dotted names that do not exist (random text is prefixed so it can never import a real
#: module with side effects).
def class_names() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["NoInput", "ElectrodePulses", "WithoutInput", "systems.sample.WithouInput",
                         "livn.encoding.NoInput", "livn.encoding.ElectrodePulses", "Raw",
                         "MeanFiringRate", "ChannelRecording", "CultureStatistics",
                         "livn.decoding.Raw", "livn.decoding.MeanFiringRate", "systems.sample.Raw",
                         "os.path", "livn.encoding", "livn.encoding.Nope", "livn.", ".x", "",
                         " ", "\x00", "Elektrode", "nosuch_mod.Cls", "builtins.dict"]),
        st.text(max_size=8).map(lambda s: "nosuch_" + s),
    )


MAX_SEED = limits.MAX_SEED


#: Spike recordings ``(it, t)`` a decoding may be given (gids of a 3-cell culture, ms), by name.
SPIKE_CASES = {
    "none": (None, None),
    "empty": (np.zeros(0, int), np.zeros(0)),
    "ok": (np.array([0, 1, 2, 1]), np.array([1.0, 2.0, 3.0, 40.0])),
    "nan_t": (np.array([0]), np.array([np.nan])),
    "bad_gid": (np.array([99]), np.array([1.0])),
    "float_gid": (np.array([0.5]), np.array([1.0])),
    "mismatch": (np.array([0, 1]), np.array([1.0])),
    "negative_t": (np.array([0]), np.array([-5.0])),
    "late_t": (np.array([0]), np.array([1e9])),
}
#: The names of :data:`SPIKE_CASES` a decoding must refuse.
BAD_SPIKES = ("none", "nan_t", "bad_gid", "float_gid", "mismatch")
#: A strategy over the names of :data:`SPIKE_CASES`.
SPIKES = st.sampled_from(sorted(SPIKE_CASES))
