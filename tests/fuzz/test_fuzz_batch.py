"""Sweeps: ``Batch(dict).plan()/dry_run()`` and ``livn batch FILE.yml [--dry-run]`` with
generated configurations and raw YAML text (wrong types, huge and non-finite numbers,
aliases, unicode, deep nesting, broken syntax)."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import yaml
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
    HUGE_INTS,
    MAX_SEED,
    OUTPUT_PATHS,
    counts,
    is_int,
    is_real,
    launchable_output_keys,
    needs_output_root,
    output_keys,
    output_path,
    output_suspects,
    reals,
    wrong_types,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from livn import limits
from livn.workflows.sweeps.config import _loader
from livn.workflows.sweeps.patterns import PATTERNS, TIMING

BASE: dict[str, Any] = {
    "metadata": {"batch_name": "fz"},
    "base_config": {"system": "EI1", "duration": 100},
    "batch": {"output_dir": "OUT", "save_format": "hdf5",
              "stimuli": [{"type": "gaussian", "parameters": {"amplitude": [10, 20]},
                           "repetitions": 1}]},
}
MODEL_DT = {None: 0.025, "RCSD": 0.025, "LIF": 0.1, "Izhikevich": 0.1}
#: Parameter values a gaussian sweep accepts for sure.
GOOD_PARAMS = {"amplitude": st.floats(1, 100), "sigma": st.floats(0.1, 2.0),
               "center_x": st.floats(-1, 1), "center_y": st.floats(-1, 1)}
PARAM_VALUES = st.one_of(reals(0.0, 100.0), st.sampled_from(["all", [0, 1], 1e-300, 1e300]))

FIELDS: dict[tuple[str, ...], st.SearchStrategy[Any]] = {
    ("metadata", "batch_name"): st.one_of(st.sampled_from(["ok_name", "a/b", "", "x\ny", "ü"]),
                                          wrong_types()),
    ("metadata", "version"): st.one_of(st.sampled_from(["1.0", None]), wrong_types()),
    ("metadata", "date"): st.sampled_from(["2024-01-01", None, 5, [1]]),
    ("metadata", "extra"): st.just(1),
    ("base_config", "system"): st.sampled_from(["EI1", "TINY", "EI9", "", "a\x00b", "foo://x",
                                                "/", 3, None]),
    ("base_config", "model"): st.sampled_from([None, "RCSD", "LIF", "Izhikevich", "nope", 3]),
    ("base_config", "duration"): reals(20.0, 500.0),
    ("base_config", "noise"): st.one_of(st.booleans(), st.sampled_from([0, 1, "yes", None])),
    ("base_config", "seed"): counts(0, MAX_SEED, (0, 100)),
    ("base_config", "device"): st.sampled_from(["cpu", "cuda", "gpu", "", None, 0]),
    ("batch", "output_dir"): st.just("OUT"),
    ("batch", "save_format"): st.sampled_from(["pytorch", "hdf5", "dataset", "csv", "", None]),
    ("batch", "save_intermediates"): st.one_of(st.booleans(), st.sampled_from([0, "true"])),
    ("batch", "allow_large"): st.one_of(st.booleans(), st.sampled_from([1, "no", None])),
    ("batch", "stimuli"): st.sampled_from([[], None, "gaussian", [None], [{}], [1]]),
    ("stim", "type"): st.sampled_from(["gaussian", "gaussian_sweep", "gabor", "moving_gaussian",
                                       "pulse", "gausian", "", None, 3]),
    ("stim", "repetitions"): counts(1, None, (1, 3)),
    ("stim", "base_seed"): st.one_of(st.none(), counts(0, MAX_SEED, (0, 100))),
    ("stim", "parameters"): st.one_of(
        st.fixed_dictionaries({}, optional={k: st.lists(v, min_size=1, max_size=3)
                                            for k, v in GOOD_PARAMS.items()}),
        st.dictionaries(st.sampled_from([*GOOD_PARAMS, *TIMING, "amplitud", "channels", ""]),
                        st.one_of(st.lists(PARAM_VALUES, max_size=3), PARAM_VALUES),
                        max_size=3),
        wrong_types()),
}


@st.composite
def batch_configs(draw) -> dict[str, Any]:
    cfg = copy.deepcopy(BASE)
    for path in draw(st.lists(st.sampled_from(list(FIELDS)), max_size=2, unique=True)):
        value = draw(FIELDS[path])
        if path[0] == "stim":
            stim = cfg["batch"]["stimuli"]
            if isinstance(stim, list) and stim and isinstance(stim[0], dict):
                stim[0][path[1]] = value
        else:
            cfg[path[0]][path[1]] = value
    if draw(st.integers(0, 5)) == 5:
        cfg[draw(st.sampled_from(["extra", "Batch", ""]))] = {}
    return cfg


def _stim_verdict(stim: Any, duration: Any) -> tuple[str, list[str]]:
    if not isinstance(stim, dict):
        return BAD, ["stimuli"]
    v = OK
    names = ["stimuli"]
    if set(stim) - {"type", "parameters", "repetitions", "base_seed"}:
        return BAD, names + list(stim)
    t = stim.get("type")
    if not isinstance(t, str) or t.removesuffix("_sweep") not in PATTERNS:
        return BAD, [*names, "type", str(t)]
    reps = stim.get("repetitions", 1)
    if not is_int(reps) or reps < 1:
        return BAD, [*names, "repetitions"]
    bs = stim.get("base_seed")
    if bs is not None and not (is_int(bs) and 0 <= bs <= MAX_SEED):
        return BAD, [*names, "base_seed"]
    params = stim.get("parameters", {})
    if not isinstance(params, dict):
        return BAD, [*names, "parameters"]
    pattern = PATTERNS[t.removesuffix("_sweep")]
    numeric = {k for k, d in {**pattern.defaults, **TIMING}.items() if isinstance(d, float | int)}
    for k, values in params.items():
        values = values if isinstance(values, list) else [values]
        names += [k, "parameter", "pulse", "current"]
        if k not in {**pattern.defaults, **TIMING} or not values:
            return BAD, names
        if k in numeric and not all(is_real(x) for x in values):
            return BAD, names
        if k in ("pulse_ms", "period_ms", "dt") and any(x <= 0 for x in values):
            return BAD, names
        if k == "onset_ms" and any(x < 0 for x in values):
            return BAD, names
        if not (pattern.name == "gaussian" and k in GOOD_PARAMS and all(
                GOOD_PARAMS_RANGE[k][0] <= x <= GOOD_PARAMS_RANGE[k][1] for x in values)):
            v = ANY
    if reps > 1000:
        v = worst(v, ANY)
    return v, names


GOOD_PARAMS_RANGE = {"amplitude": (1, 100), "sigma": (0.1, 2.0), "center_x": (-1, 1),
                     "center_y": (-1, 1)}


def oracle(cfg: Any, tiny: str, dry_run: bool) -> tuple[str, list[str]]:
    """(verdict, names a refusal may give) for a batch configuration."""
    if not isinstance(cfg, dict):
        return BAD, ["mapping", "metadata", "base_config", "batch"]
    v, names = OK, []
    if set(cfg) - {"metadata", "base_config", "batch"}:
        v, names = BAD, names + [str(k) for k in cfg]
    md = cfg.get("metadata", {})
    if not isinstance(md, dict):
        return BAD, [*names, "metadata"]
    bn = md.get("batch_name", "batch")
    if set(md) - {"batch_name", "version", "description", "author", "date"} or not (
            isinstance(bn, str) and bn and not set(bn) & set("/\\\n")) or not all(
            md.get(k) is None or isinstance(md.get(k), str) for k in ("version", "description",
                                                                      "author", "date")):
        v, names = BAD, [*names, "metadata", *map(str, md)]
    bc = cfg.get("base_config", {})
    if not isinstance(bc, dict):
        return BAD, [*names, "base_config"]
    sub: dict[str, str] = {}
    sub["system"] = OK if bc.get("system", "EI2") in ("EI1", tiny) else BAD
    model = bc.get("model")
    dt = MODEL_DT.get(model) if model is None or isinstance(model, str) else None
    sub["model"] = OK if dt is not None else BAD
    d = bc.get("duration", 1000.0)
    if not is_real(d) or d <= 0 or d / (dt or 0.025) > limits.MAX_STEPS or round(
            d / (dt or 0.025)) < 1:
        sub["duration"] = BAD
    else:
        sub["duration"] = OK if 20 <= d <= 500 else ANY
    sub["noise"] = OK if isinstance(bc.get("noise", True), bool) else BAD
    s = bc.get("seed", 0)
    sub["seed"] = OK if is_int(s) and 0 <= s <= MAX_SEED else BAD
    sub["device"] = OK if bc.get("device", "cpu") == "cpu" else (
        ANY if bc.get("device") == "cuda" else BAD)
    for k in set(bc) - {"system", "model", "duration", "noise", "seed", "device"}:
        sub[k] = BAD
    for k, x in sub.items():
        if x != OK:
            names += [k, "base_config"]
            if isinstance(bc.get(k), str):
                names.append(bc[k])
        v = worst(v, x)
    b = cfg.get("batch")
    if not isinstance(b, dict):
        return BAD, [*names, "batch"]
    for k in set(b) - {"output_dir", "save_format", "save_intermediates", "allow_large",
                       "stimuli"}:
        v, names = BAD, [*names, k]
    if b.get("save_format", "pytorch") not in ("pytorch", "hdf5", "dataset"):
        v, names = BAD, [*names, "save_format"]
    for k in ("save_intermediates", "allow_large"):
        if not isinstance(b.get(k, False), bool):
            v, names = BAD, [*names, k]
    stimuli = b.get("stimuli")
    if not isinstance(stimuli, list) or not stimuli:
        return BAD, [*names, "stimuli"]
    for stim in stimuli:
        sv, sn = _stim_verdict(stim, d)
        v, names = worst(v, sv), names + sn
    if v != BAD and d is not None and is_real(d) and bc.get("duration", 1000) < 15:
        v = worst(v, ANY)  # the default onset (10 ms) and pulse may not fit
    return v, names


def resolve(cfg: dict[str, Any], box: Sandbox, out: str, tiny: str) -> str:
    path = output_path(out, box, tiny)
    if isinstance(cfg.get("batch"), dict) and cfg["batch"].get("output_dir") == "OUT":
        cfg["batch"]["output_dir"] = path
    if isinstance(cfg.get("base_config"), dict) and cfg["base_config"].get("system") == "TINY":
        cfg["base_config"]["system"] = tiny
    return path


def _expected_stimuli(cfg: dict[str, Any]) -> int:
    total = 0
    for s in cfg["batch"]["stimuli"]:
        n = s.get("repetitions", 1)
        for values in s.get("parameters", {}).values():
            n *= len(values) if isinstance(values, list) else 1
        total += n
    return total


# ---------------------------------------------------------------------------- Python
@settings(max_examples=budget(80))
@given(cfg=batch_configs(), out=output_keys, dry=st.booleans())
@example(cfg={**BASE, "batch": {**BASE["batch"], "stimuli": [
    {"type": "gaussian", "parameters": {"dt": [1e-300]}}]}}, out="job", dry=False)
def test_batch_plan(fuzz_base, tiny_system, cfg, out, dry):
    cfg = copy.deepcopy(cfg)
    with Sandbox(fuzz_base, output_root=needs_output_root(out)) as box:
        path = resolve(cfg, box, out, tiny_system)
        verdict, names = oracle(cfg, tiny_system, dry)
        if isinstance(cfg.get("batch"), dict) and cfg["batch"].get("output_dir") == path:
            verdict = worst(verdict, OUTPUT_PATHS[out][0])
            names += output_suspects(out, path)
        before = box.snapshot()
        stream = io.StringIO()

        def call():
            from livn.workflows.sweeps import Batch

            with silence():
                batch = Batch(cfg)
                return batch.dry_run(stream) if dry else batch.plan()

        plan, error = outcome(call, surface=f"batch.{'dry_run' if dry else 'plan'} (Python)",
                              verdict=verdict, suspects=names)
        assert_unchanged(before, box.snapshot(), "Batch.plan/dry_run")
        box.assert_user_files_intact()
        if error is None:
            n = _expected_stimuli(cfg)
            assert plan["num_stimuli"] == n
            if "refused" in plan:
                assert dry and "Would be refused at launch" in stream.getvalue()
            else:
                assert plan["estimated_bytes"] >= 0 and plan["memory_per_stimulus"] > 0
            if dry:
                assert f"Total stimuli: {n:,}" in stream.getvalue()


# ---------------------------------------------------------------------------- YAML text
#: Raw YAML scalars, as a user may type them.
YAML_SCALARS = [".nan", ".NaN", ".inf", "-.inf", "1e3", "1.0e+3", "1E400", "-1e400",
                "0x10", "0o17", "1_000", "012", "+5", "~", "null", "yes", "no", "on", "true",
                "True", "'3'", '"3"', "18446744073709551616", "1" * 400, "2024-01-01",
                "12:30:00", "!!float 3", "!!str 3", "!!int '3'", "!!binary aGVsbG8=",
                "!!python/object:os.system ['echo']", "&x 3", "*nope", "[]", "{}", "[1, [2]]",
                "'ü😀'", "\"\\x00\"", "|\n  multi\n  line", "@x", "`x`", "%x", "- a",
                "! 3", "!!set {a, b}", "!!omap [a: 1]", "<<: {}", "? x"]


@st.composite
def yaml_texts(draw) -> tuple[str, str]:
    """A batch YAML with one scalar replaced by raw text, or a structural oddity."""
    lines = ["metadata: {batch_name: fz}",
             "base_config: {system: EI1, duration: DURATION, seed: SEED, noise: NOISE}",
             "batch:",
             "  output_dir: OUTDIR",
             "  save_format: FORMAT",
             "  stimuli:",
             "    - type: gaussian",
             "      parameters: {amplitude: [AMP, 20], sigma: SIGMA}",
             "      repetitions: REPS"]
    text = "\n".join(lines) + "\n"
    slots = {"DURATION": "100", "SEED": "0", "NOISE": "true", "FORMAT": "hdf5", "AMP": "10",
             "SIGMA": "[0.5]", "REPS": "1"}
    slot = draw(st.sampled_from([*slots, None]))
    raw = draw(st.sampled_from(YAML_SCALARS))
    for k, default in slots.items():
        text = text.replace(k, raw if k == slot else default)
    kind = draw(st.sampled_from(["scalar", "scalar", "scalar", "deep", "alias", "recursive",
                                 "bomb", "unicode", "broken", "empty", "binary", "tabs",
                                 "duplicate", "list", "huge_line"]))
    if kind == "deep":
        n = draw(st.sampled_from([50, 500, 3000]))  # 100,000: an @example
        text = text.replace("[AMP_DEEP]", "") + f"extra: {'[' * n}{']' * n}\n"
    elif kind == "alias":
        text = "a: &a [1, 2]\n" + text.replace("[10, 20]", "*a").replace("amplitude: [" + raw,
                                                                         "amplitude: *a ")
    elif kind == "recursive":
        text = text.replace("sigma: [0.5]", "sigma: &r [0.5, *r]")
    elif kind == "bomb":
        bomb = ['x0: &x0 ["a", "a", "a", "a", "a", "a", "a", "a", "a", "a"]']
        bomb += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 10)}]" for i in range(1, 8)]
        text = "\n".join(bomb) + "\n" + text
    elif kind == "unicode":
        text = text.replace("fz", draw(st.sampled_from(["ü😀", "\u202e", "日本", "\x00", "a\x85b"])))
    elif kind == "broken":
        text = text[: draw(st.integers(0, len(text)))] + draw(st.sampled_from(["[", "{", ":", "'",
                                                                                "\t", "- "]))
    elif kind == "empty":
        text = draw(st.sampled_from(["", "\n", "---\n", "~\n", "[]\n", "3\n", "'x'\n"]))
    elif kind == "binary":
        text = "\udcff\udcfe" + text
    elif kind == "tabs":
        text = text.replace("  ", "\t")
    elif kind == "duplicate":
        text += "metadata: {batch_name: again}\n"
    elif kind == "list":
        text = "- " + text.replace("\n", "\n  ")
    elif kind == "huge_line":
        text = text.replace("[10, 20]", "[" + ", ".join(["1"] * 3000) + "]")
    return text, kind


@settings(max_examples=budget(80))
@given(case=yaml_texts(), out=output_keys)
@example(case=("extra: " + "[" * 100_000 + "]" * 100_000 + "\n", "deep"), out="job")
@example(case=("batch: {output_dir: OUTDIR, stimuli: [{type: gaussian, parameters: "
               "{sigma: &r [0.5, *r]}}]}\n", "recursive"), out="job")
def test_batch_cli_yaml_text(fuzz_base, tiny_system, case, out):
    text, kind = case
    with Sandbox(fuzz_base, output_root=needs_output_root(out)) as box:
        path = output_path(out, box, tiny_system)
        text = text.replace("OUTDIR", yaml_quote(path))
        file = box.work / "batch.yml"
        file.write_bytes(text.encode("utf-8", "surrogateescape"))
        try:
            data = yaml.load(text, Loader=_loader())  # YAML 1.1, plus 1e3 read as a number
            parsed = True
        except Exception:
            data, parsed = None, False
        if parsed and isinstance(data, dict):
            verdict, names = oracle(data, tiny_system, True)
            verdict = worst(verdict, OUTPUT_PATHS[out][0])
            if kind in ("recursive", "bomb", "deep"):
                verdict = ANY  # the oracle does not size aliases or depth
        else:
            verdict, names = ANY, []
        names += ["batch.yml", "YAML", "batch config", "metadata", "base_config", "batch",
                  "stimuli", "aliases", "expands", "output", *output_suspects(out, path)]
        before = box.snapshot()
        code, stdout, stderr = run_cli(["batch", str(file), "--dry-run"], timeout=60)
        check_cli(code, stdout, stderr, surface="batch CLI YAML --dry-run", verdict=verdict,
                  suspects=names)
        assert_unchanged(before, box.snapshot(), "livn batch --dry-run")
        box.assert_user_files_intact()


def yaml_quote(path: str) -> str:
    """``path`` as a YAML double-quoted string."""
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace(
        "\x00", "\\0") + '"'


@settings(max_examples=budget(70))
@given(cfg=batch_configs(), out=output_keys)
def test_batch_cli_generated_yaml(fuzz_base, tiny_system, cfg, out):
    cfg = copy.deepcopy(cfg)
    with Sandbox(fuzz_base, output_root=needs_output_root(out)) as box:
        path = resolve(cfg, box, out, tiny_system)
        verdict, names = oracle(cfg, tiny_system, True)
        if isinstance(cfg.get("batch"), dict) and cfg["batch"].get("output_dir") == path:
            verdict = worst(verdict, OUTPUT_PATHS[out][0])
            names += output_suspects(out, path)
        file = box.work / "batch.yml"
        file.write_text(yaml.safe_dump(cfg, allow_unicode=True), "utf-8")
        before = box.snapshot()
        code, stdout, stderr = run_cli(["batch", str(file), "--dry-run"], timeout=60)
        refused = check_cli(code, stdout, stderr, surface="batch CLI --dry-run", verdict=verdict,
                            suspects=[*names, "batch.yml"])
        assert_unchanged(before, box.snapshot(), "livn batch --dry-run")
        box.assert_user_files_intact()
        if not refused:
            assert f"Total stimuli: {_expected_stimuli(cfg):,}" in stdout


# ---------------------------------------------------------------------------- launches
@st.composite
def tiny_batches(draw) -> dict[str, Any]:
    amps = draw(st.lists(st.sampled_from([5.0, 10.0, 20.0]), min_size=1, max_size=2, unique=True))
    cfg = {"metadata": {"batch_name": "fz"},
           "base_config": {"system": "EI1", "duration": 20, "noise": False},
           "batch": {"output_dir": "OUT", "save_format": draw(st.sampled_from(["hdf5",
                                                                                "pytorch"])),
                     "stimuli": [{"type": "gaussian", "parameters": {
                         "amplitude": amps, "onset_ms": [5.0]}, "repetitions": 1}]}}
    if draw(st.booleans()):
        path = draw(st.sampled_from([("stim", "repetitions"), ("base_config", "seed"),
                                     ("batch", "save_intermediates")]))
        value = draw(FIELDS[path])
        target = cfg["batch"]["stimuli"][0] if path[0] == "stim" else cfg[path[0]]
        target[path[1]] = value
        if path[1] == "repetitions" and is_int(value) and value > 2:
            target[path[1]] = 2
    return cfg


@settings(max_examples=budget(3))
@given(cfg=tiny_batches(), out=launchable_output_keys)
@example(cfg={"metadata": {"batch_name": "fz"},
              "base_config": {"system": "EI1", "duration": 20, "noise": False},
              "batch": {"output_dir": "OUT", "save_format": "hdf5", "stimuli": [
                  {"type": "gaussian", "parameters": {"amplitude": [10.0, 20.0],
                                                      "onset_ms": [5.0]}}]}}, out="job")
def test_batch_cli_launch(fuzz_base, tiny_system, cfg, out):
    cfg = copy.deepcopy(cfg)
    with Sandbox(fuzz_base, output_root=needs_output_root(out)) as box:
        path = resolve(cfg, box, out, tiny_system)
        verdict, names = oracle(cfg, tiny_system, False)
        ov = OUTPUT_PATHS[out][0]
        verdict = worst(verdict, BAD if ov == ANY else ov)
        names += output_suspects(out, path)
        file = box.work / "batch.yml"
        file.write_text(yaml.safe_dump(cfg), "utf-8")
        before = box.snapshot()
        code, stdout, stderr = run_cli(["batch", str(file), "--executor", "serial"], timeout=120)
        refused = check_cli(code, stdout, stderr, surface="batch CLI launch", verdict=verdict,
                            suspects=names)
        box.assert_user_files_intact()
        if refused:
            assert_unchanged(before, box.snapshot(), "livn batch refused")
            return
        rel = relative_in(box.root, Path(path).expanduser())
        assert rel is not None
        assert_only_added_under(before, box.snapshot(), rel)
        n = _expected_stimuli(cfg)
        assert f"Done: {n} executed, 0 failed" in stdout, stdout
        target = box.root / rel
        fmt = cfg["batch"]["save_format"]
        assert (target / {"hdf5": "results.h5", "pytorch": "results.pt"}[fmt]).is_file()
        assert len(list((target / "responses").glob("stim_*.npz"))) == n


# ---------------------------------------------------------------------------- executor flags
EXECUTOR_TOKENS = ["auto", "local", "serial", "mpi", "batched", "Batched", "gpu", "", "batch"]
BATCH_SIZE_TOKENS = st.one_of(
    st.integers(-2, 12).map(str),
    st.sampled_from([str(n) for n in HUGE_INTS]),
    st.sampled_from(["auto", "AUTO", "8x", "1.5", "2.0", "1e3", "", " ", "inf", "nan", "0x10",
                     "+3", " 4 ", "1_000", "٣", "true", "null", "[2]", "1" * 5000]),
)


def _cli_batch_size(token: str) -> str:
    """The verdict for ``--batch-size TOKEN``: an integer >= 1 as ``int()`` reads it, or auto."""
    if token == "auto":
        return OK
    try:
        return OK if int(token) >= 1 else BAD
    except ValueError:
        return BAD


@settings(max_examples=budget(30))
@given(executor=st.sampled_from(EXECUTOR_TOKENS), size=BATCH_SIZE_TOKENS)
@example(executor="batched", size="0")
@example(executor="batched", size=str(2**64))
@example(executor="local", size="many")
def test_batch_cli_executor_and_batch_size(fuzz_base, tiny_system, executor, size):
    cfg = copy.deepcopy(BASE)
    with Sandbox(fuzz_base) as box:
        resolve(cfg, box, "job", tiny_system)
        ok_executor = OK if executor in ("auto", "local", "serial", "batched") else (
            ANY if executor == "mpi" else BAD)  # fmt: skip
        verdict = worst(ok_executor, _cli_batch_size(size))
        file = box.work / "batch.yml"
        file.write_text(yaml.safe_dump(cfg), "utf-8")
        before = box.snapshot()
        code, stdout, stderr = run_cli(["batch", str(file), "--dry-run", "--executor", executor,
                                        "--batch-size", size], timeout=60)  # fmt: skip
        refused = check_cli(code, stdout, stderr, surface="batch CLI --executor/--batch-size",
                            verdict=verdict, suspects=["--executor", "--batch-size", executor,
                                                       size])  # fmt: skip
        assert_unchanged(before, box.snapshot(), "livn batch --dry-run")
        if not refused and executor == "batched":
            shown = "auto" if size == "auto" else str(min(int(size), 2))
            assert f"Batched: {shown} stimuli per run" in stdout, stdout


# ---------------------------------------------------------------------------- the file
@settings(max_examples=budget(12))
@given(kind=st.sampled_from(["missing", "directory", "latin1", "binary", "dev_null", "empty_name",
                             "long_name", "json", "nul_bytes"]))
def test_batch_config_file(fuzz_base, kind):
    """The batch file itself: missing, a directory, not UTF-8, binary, /dev/null, …"""
    with Sandbox(fuzz_base) as box:
        file = box.work / "batch.yml"
        if kind == "latin1":
            file.write_bytes("metadata: {batch_name: caf\xe9}\n".encode("latin-1"))
        elif kind == "binary":
            file.write_bytes(bytes(range(256)))
        elif kind == "json":
            file.write_text('{"batch": {"output_dir": "out", "stimuli": [{"type": "pulse"}]},'
                            ' "base_config": {"system": "EI1", "duration": 100}}', "utf-8")
        elif kind == "nul_bytes":
            file.write_bytes(b"metadata:\x00 {}\n")
        arg = {"missing": "nope.yml", "directory": str(box.work / "userdir"),
               "dev_null": "/dev/null", "empty_name": "", "long_name": "y" * 300}.get(
            kind, str(file))
        before = box.snapshot()
        code, stdout, stderr = run_cli(["batch", arg, "--dry-run"], timeout=60)
        verdict = OK if kind == "json" else BAD
        check_cli(code, stdout, stderr, surface="batch CLI config file", verdict=verdict,
                  suspects=["batch config", arg, "YAML", "UTF-8", "batch.yml", "does not exist"])
        assert_unchanged(before, box.snapshot(), "livn batch (config file)")
