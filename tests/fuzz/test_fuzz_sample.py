"""Sampling jobs: ``livn systems sample key=value ... --dry-run|--launch`` and
``Sample(dict).plan()`` against the input contract (docs/limits.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
    class_names,
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

from livn import limits
from livn.cli.kv import parse_kv
from livn.errors import LivnError
from livn.workflows.sample import RECORDINGS, SampleConfig, max_processes

ENCODINGS_OK = {"NoInput", "WithoutInput", "systems.sample.WithouInput",
                "systems.sample.WithoutInput", "livn.encoding.NoInput", "ElectrodePulses",
                "livn.encoding.ElectrodePulses"}
DECODINGS_OK = {"Raw", "systems.sample.Raw", "livn.decoding.Raw", "MeanFiringRate",
                "livn.decoding.MeanFiringRate", "ChannelRecording",
                "livn.decoding.ChannelRecording", "CultureStatistics",
                "livn.decoding.CultureStatistics"}
#: Integration step of each accepted model spelling.
MODEL_DT = {None: 0.025, "RCSD": 0.025, "livn.models.rcsd.ReducedCalciumSomaDendrite": 0.025,
            "LIF": 0.1, "livn.models.LIF": 0.1, "Izhikevich": 0.1}

FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "system": st.one_of(st.just("EI1"), st.just("TINY"),
                        st.sampled_from(["EI9", "ei1", "", " ", "a\x00b", "/", "..", "~",
                                         "memory://nothing", "s3://bucket/x", "foo://bar",
                                         "zip://x", "file:///nonexistent", "S1", "userdir"]),
                        wrong_types()),
    "model": st.one_of(st.sampled_from(list(MODEL_DT)),
                       st.sampled_from(["rcsd", "LIFF", "livn.models.Nope", "os.path", ""]),
                       wrong_types()),
    "duration": reals(0.0, 1000.0),
    "samples": counts(1, limits.MAX_UNITS, (1, 5)),
    "noise": st.one_of(st.booleans(), wrong_types(), st.sampled_from([0, 1, "yes"])),
    "seed": counts(0, MAX_SEED, (0, 1000)),
    "encoding": class_names(),
    "encoding_kwargs": st.one_of(
        st.just({}),
        st.sampled_from([{"amplitude_uA": 5.0}, {"pulse_ms": 0.5, "period_ms": 10.0},
                         {"amplitud": 5}, {"dt": 0.0}, {"channels": [0, 1]}, {"channels": 1.5},
                         {"amplitude_uA": 2**1024}, {"onset_ms": 2**1024}, {"count": 2**64},
                         {"pulse_ms": 1e300, "dt": 1e-300}]),
        wrong_types()),
    "decoding": class_names(),
    "decoding_kwargs": st.one_of(
        st.just({}),
        st.sampled_from([{"population": "EXC"}, {"population": "NOPE"}, {"duration": 5},
                         {"bin_ms": -1}, {"min_fraction": 2**1024}, {"output_radius": 1e308},
                         {"min_spikes": 2.0}]),
        wrong_types()),
    "record": st.one_of(st.none(), st.lists(st.sampled_from([*RECORDINGS, "spike", ""]),
                                            max_size=4), wrong_types()),
    "nprocs_per_worker": counts(1, 4096, (1, 4)),
    "executor": st.one_of(st.sampled_from(["auto", "local", "serial", "mpi", "batched", "slurm",
                                           "Serial", "batch"]), wrong_types()),
    "batch_size": st.one_of(st.just("auto"), counts(1, None, (1, 8)),
                            st.sampled_from(["AUTO", "Auto", "8x", "", " auto", "max"])),
    "processes": st.one_of(st.none(), counts(1, max_processes(), (1, 4))),
    "task_index": counts(0, None, (0, 3)),
    "task_count": counts(1, None, (1, 3)),
    "allow_large": st.one_of(st.booleans(), st.sampled_from([0, 1, "true", None])),
    "UNKNOWN": st.sampled_from(["sampels", "totl_cells", "output_dir", "Samples", "", "ü", "a.b"]),
}


@st.composite
def sample_configs(draw) -> dict[str, Any]:
    """A small valid job with 0–3 fields replaced by generated values."""
    cfg: dict[str, Any] = {"system": "EI1", "duration": 20.0, "samples": 2}
    for field in draw(st.lists(st.sampled_from(list(FIELDS)), max_size=2, unique=True)):
        if field == "UNKNOWN":
            cfg[draw(FIELDS[field])] = draw(st.integers(0, 3))
        else:
            cfg[field] = draw(FIELDS[field])
    return cfg


def oracle(cfg: dict[str, Any], tiny: str) -> tuple[str, dict[str, str]]:
    """The verdict for a sample configuration and the verdict of each field."""
    v: dict[str, str] = {k: BAD for k in cfg if k not in SampleConfig.model_fields}
    get = cfg.get
    v["system"] = OK if get("system", "EI2") in ("EI1", "S1", tiny) else BAD  # S1: 10 cells, 3D
    model = get("model")
    dt = MODEL_DT.get(model) if model is None or isinstance(model, str) else None
    v["model"] = OK if dt is not None else BAD
    dt = dt or 0.025
    d = get("duration", 31000.0)
    if not is_real(d) or d <= 0 or d / dt > limits.MAX_STEPS or round(d / dt) < 1:
        v["duration"] = BAD
    else:
        v["duration"] = OK if d <= 1000 else ANY
    n, s, big = get("samples", 100), get("seed", 0), get("allow_large", False)
    v["allow_large"] = OK if isinstance(big, bool) else BAD
    if not is_int(n) or n < 1 or (n > limits.MAX_UNITS and big is not True):
        v["samples"] = BAD
    else:
        v["samples"] = OK if n <= 1000 else ANY
    v["seed"] = OK if is_int(s) and 0 <= s <= MAX_SEED else BAD
    if v["samples"] != BAD and v["seed"] != BAD and s + n - 1 > MAX_SEED:
        v["samples"] = v["seed"] = BAD
    v["noise"] = OK if isinstance(get("noise", True), bool) else BAD
    enc, dec = get("encoding", "NoInput"), get("decoding", "Raw")
    v["encoding"] = OK if isinstance(enc, str) and enc in ENCODINGS_OK else BAD
    v["decoding"] = OK if isinstance(dec, str) and dec in DECODINGS_OK else BAD
    for key in ("encoding_kwargs", "decoding_kwargs"):
        kw = get(key, {})
        v[key] = BAD if not isinstance(kw, dict) else (OK if not kw else ANY)
    ekw, dkw = get("encoding_kwargs"), get("decoding_kwargs")
    if v["encoding"] == OK and "Pulses" not in enc and isinstance(ekw, dict) and ekw:
        v["encoding_kwargs"] = BAD  # NoInput takes no keyword arguments
    if v["decoding"] == OK and "Raw" in dec and isinstance(dkw, dict) and dkw:
        v["decoding_kwargs"] = BAD  # Raw takes none but duration
    if isinstance(get("decoding_kwargs"), dict) and "duration" in get("decoding_kwargs"):
        v["decoding_kwargs"] = BAD
    rec = get("record")
    v["record"] = OK if rec is None or (isinstance(rec, list) and rec and all(
        isinstance(r, str) and r in RECORDINGS for r in rec)) else BAD
    if v["record"] == OK and v["decoding"] == OK and "Raw" not in dec and rec is not None and (
            "spikes" not in rec):
        v["record"] = BAD  # the decoding reads spikes: every sample would fail
    npw = get("nprocs_per_worker", 1)
    v["nprocs_per_worker"] = OK if is_int(npw) and 1 <= npw <= 4096 else BAD
    ex = get("executor", "auto")
    v["executor"] = OK if ex in ("auto", "local", "serial", "batched") else (
        ANY if ex == "mpi" else BAD)  # fmt: skip
    bs = get("batch_size", "auto")
    v["batch_size"] = OK if bs == "auto" or (is_int(bs) and bs >= 1) else BAD
    if v["batch_size"] == OK and ex == "batched" and is_int(bs) and bs > 1:
        v["batch_size"] = ANY  # a batch must fit the memory (refused with the largest that fits)
    p = get("processes")
    v["processes"] = OK if p is None or (is_int(p) and 1 <= p <= max_processes()) else BAD
    ti, tc = get("task_index", 0), get("task_count", 1)
    ok_task = is_int(ti) and is_int(tc) and tc >= 1 and 0 <= ti < tc
    v["task_index"] = v["task_count"] = OK if ok_task else BAD
    return worst(*v.values()), v


def suspects(fields: dict[str, str], cfg: dict[str, Any]) -> list[Any]:
    names: list[Any] = []
    for key, verdict in fields.items():
        if verdict != OK:
            names.append(key)
            value = cfg.get(key)
            if isinstance(value, str):
                names.append(value)
    return names


def _resolve(cfg: dict[str, Any], tiny: str) -> dict[str, Any]:
    return {k: (tiny if k == "system" and v == "TINY" else v) for k, v in cfg.items()}


def check_plan(plan: dict[str, Any], cfg: dict[str, Any]) -> None:
    """A successful plan: the todo list has the right indices, and the resolved job matches."""
    n = cfg.get("samples", 100)
    ti, tc = cfg.get("task_index", 0), cfg.get("task_count", 1)
    assert plan["samples"] == n
    assert len(plan["todo"]) == len(range(ti, n, tc))
    if n <= 10_000:
        assert list(plan["todo"]) == list(range(ti, n, tc))
    assert plan["done"] == 0
    assert plan["resolved"]["duration"] == float(cfg["duration"])
    assert plan["resolved"]["seed"] == cfg.get("seed", 0)
    assert plan["estimated_bytes"] >= 0 and plan["memory_per_sample"] > 0


# ---------------------------------------------------------------------------- Python
@settings(max_examples=budget(100))
@given(cfg=sample_configs(), out=output_keys)
@example(cfg={"system": "EI1", "duration": 1e308, "samples": 2}, out="job")
@example(cfg={"system": "EI1", "duration": 20.0, "samples": 2}, out="NAME_TOO_LONG")
@example(cfg={"system": "EI1", "duration": 20.0, "samples": 2}, out="userfile.txt/sub")
@example(cfg={"system": "s3://bucket/x", "duration": 20.0, "samples": 2}, out="job")
@example(cfg={"system": "EI1", "duration": 20.0, "samples": 2**31, "allow_large": True,
              "decoding": "MeanFiringRate"}, out="job")  # was a hang: todo enumerated
@example(cfg={"system": "EI1", "duration": 20.0, "samples": 2, "": 0}, out="job")
@example(cfg={"system": "EI1", "duration": 20.0, "samples": 2, "encoding": "builtins.dict"},
         out="job")  # was accepted: every sample would fail
@example(cfg={"system": "EI1", "duration": 20.0, "samples": 2, "executor": "batched",
              "batch_size": 2**64}, out="job")
@example(cfg={"system": "EI1", "duration": 20.0, "samples": 2, "batch_size": 0}, out="job")
@example(cfg={"system": "EI1", "duration": 20.0, "samples": 2, "batch_size": 2.0}, out="job")
def test_sample_plan(fuzz_base, tiny_system, cfg, out):
    cfg = _resolve(cfg, tiny_system)
    with Sandbox(fuzz_base, output_root=needs_output_root(out)) as box:
        path = output_path(out, box, tiny_system)
        cfg["output_directory"] = path
        verdict, fields = oracle(cfg, tiny_system)
        fields["output_directory"] = OUTPUT_PATHS[out][0]
        verdict = worst(verdict, fields["output_directory"])
        names = suspects(fields, cfg) + (output_suspects(out, path) if fields[
            "output_directory"] != OK else [])
        before = box.snapshot()

        def call():
            from livn.workflows.sample import Sample

            with silence():
                return Sample(cfg).plan()

        plan, error = outcome(call, surface="sample.plan (Python)", verdict=verdict,
                              suspects=names)
        assert_unchanged(before, box.snapshot(), "Sample.plan")
        box.assert_user_files_intact()
        if error is None:
            check_plan(plan, cfg)


# ---------------------------------------------------------------------------- CLI
FIELD_TOKENS = {k: s.map(token_value) for k, s in FIELDS.items() if k != "UNKNOWN"}


@st.composite
def sample_argv(draw) -> list[str]:
    argv = ["system=EI1", "duration=20", "samples=2"]
    for field in draw(st.lists(st.sampled_from(list(FIELD_TOKENS)), max_size=2, unique=True)):
        value = draw(st.one_of(FIELD_TOKENS[field], st.sampled_from(RAW_TOKENS)))
        argv.append(f"{field}={value}")
    if draw(st.booleans()):
        argv.append(draw(st.sampled_from(["sampels=3", "=3", "samples", ".a=1", "a..b=1",
                                          "duration.x=1", "**samples=1"])))
    return argv


def _cli_case(fuzz_base, tiny, argv, out, mode: str):
    argv = [a.replace("TINY", tiny) for a in argv]
    with Sandbox(fuzz_base, output_root=needs_output_root(out)) as box:
        path = output_path(out, box, tiny)
        argv = [*argv, f"output_directory={path}"]
        try:
            cfg = parse_kv(argv)
        except LivnError:
            cfg, verdict, names = None, BAD, [a.partition("=")[0] for a in argv] + argv
        if cfg is not None:
            cfg.pop("resources", None)
            verdict, fields = oracle(cfg, tiny)
            fields["output_directory"] = OUTPUT_PATHS[out][0] if cfg.get(
                "output_directory") == path else oracle_output(cfg.get("output_directory"))
            if mode == "launch" and fields["output_directory"] == ANY:
                fields["output_directory"] = BAD  # a launch cannot write there: refused
            verdict = worst(verdict, fields["output_directory"])
            names = suspects(fields, cfg) + output_suspects(out, path)
        before = box.snapshot()
        extra = ["--dry-run"] if mode == "dry-run" else ["--launch", "--executor", "serial"]
        code, stdout, stderr = run_cli(["systems", "sample", *argv, *extra], timeout=60)
        refused = check_cli(code, stdout, stderr, surface=f"sample CLI --{mode}", verdict=verdict,
                            suspects=names)
        if refused or mode == "dry-run":
            assert_unchanged(before, box.snapshot(), f"livn systems sample --{mode}")
            assert "Sampling" not in stdout
        box.assert_user_files_intact()
        if not refused and mode == "dry-run":
            n = cfg.get("samples", 100)
            todo = len(range(cfg.get("task_index", 0), n, cfg.get("task_count", 1)))
            assert f"Samples: {n:,} (0 already written, {todo:,} to run" in stdout, stdout
        if not refused and mode == "launch":
            check_launch(box, path, cfg, before, stdout)


def oracle_output(value: Any) -> str:
    """A later ``output_directory=`` token replaced ours: judge the user's value."""
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        return BAD
    return ANY


def check_launch(box, path, cfg, before, stdout):
    """A launch that succeeded wrote every sample it had to, and only into its directory."""
    rel = relative_in(box.root, Path(path).expanduser())
    assert rel is not None, f"a launch wrote outside the sandbox: {path}"
    assert_only_added_under(before, box.snapshot(), rel)
    out = box.root / rel
    n = cfg.get("samples", 100)
    todo = list(range(cfg.get("task_index", 0), n, cfg.get("task_count", 1)))
    written = sorted(p.name for p in (out / "samples").iterdir())
    assert written == [f"sample_{i:06d}.npz" for i in todo], written
    assert json.loads((out / "config.json").read_text("utf-8"))["samples"] == n
    assert f"Done: {len(todo)} written, 0 failed" in stdout


@settings(max_examples=budget(100))
@given(argv=sample_argv(), out=output_keys)
@example(argv=["system=EI1", "duration=1e999", "samples=2"], out="job")
@example(argv=["system=EI1", "duration=20", "samples=2", "system=foo://bar"], out="job")
def test_sample_cli_dry_run(fuzz_base, tiny_system, argv, out):
    _cli_case(fuzz_base, tiny_system, argv, out, "dry-run")


@st.composite
def small_launches(draw) -> list[str]:
    """Tiny launches (EI1, 20 ms, 1–2 samples, MeanFiringRate) with at most one odd field."""
    argv = ["system=EI1", "duration=20", f"samples={draw(st.integers(1, 2))}",
            "decoding=MeanFiringRate", "noise=false"]
    if draw(st.booleans()):
        field = draw(st.sampled_from(["seed", "task_index", "task_count", "samples", "record",
                                      "duration", "noise"]))
        argv.append(f"{field}={draw(FIELD_TOKENS[field])}")
    return argv


@settings(max_examples=budget(6))
@given(argv=small_launches(), out=launchable_output_keys)
@example(argv=["system=EI1", "duration=20", "samples=2", "decoding=MeanFiringRate"], out="job")
@example(argv=["system=EI1", "duration=20", "samples=1", "decoding=MeanFiringRate"],
         out="/proc/livn-fuzz/job")
@example(argv=["system=EI1", "duration=20", "samples=1", "decoding=MeanFiringRate", "noise=false",
               'record=["voltage"]'], out="job")  # was accepted: every sample failed
def test_sample_cli_launch(fuzz_base, tiny_system, argv, out):
    _cli_case(fuzz_base, tiny_system, argv, out, "launch")
