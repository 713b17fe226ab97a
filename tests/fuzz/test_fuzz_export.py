"""Exports and plots: ``livn export SOURCE --to ...`` and ``livn plot SOURCE ...`` tokens
(sources, formats, units, limits, kinds, bins, resolutions, output paths) and the Python
options of ``write_nwb``, ``to_probe`` and ``save_plots`` against the input contract.

Each CLI case runs on a copy of a tiny sampling job inside its sandbox; a refusal writes
nothing, and an export writes only into its output directory."""

from __future__ import annotations

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
    worst,
)
from fuzz_strategies import RAW_TOKENS, is_real, reals, texts, wrong_types
from hypothesis import example, given, settings
from hypothesis import strategies as st

pytest.importorskip("pynwb")
pytest.importorskip("spikeinterface")
pytest.importorskip("matplotlib")

#: Sources, relative to the sandbox's work directory (``job`` is the copied sampling job).
SOURCES: dict[str, str] = {
    "job": OK,
    "job/samples/sample_000001.npz": OK,
    "job/samples/sample_000000.npz": OK,
    "job/samples": BAD,  # a directory without samples/ or responses/ inside
    "job/config.json": BAD,
    "userfile.txt": BAD,
    "emptydir": BAD,
    "missing": BAD,
    "": BAD,
    "userdir": BAD,
}
#: Output directories: verdict (relative to work; None: the default <job>/export-<to>).
OUTPUTS: dict[Any, str] = {
    None: OK,
    "out": OK,
    "sub/deeper/out": OK,
    "emptydir": OK,
    "userdir": BAD,  # holds a user's files
    "userfile.txt": BAD,  # a file
    "": BAD,
    "job/samples/sample_000000.npz/x": BAD,
}


@pytest.fixture(scope="module")
def export_job(tmp_path_factory, tiny_system):
    """A sampling job of the tiny system: 2 samples of 20 ms, decoding Raw."""
    # matplotlib builds its font cache under $HOME on first import: do that before the
    # sandboxes (whose HOME is checked for stray files), as a user's first plot would
    import matplotlib.figure
    import matplotlib.font_manager  # noqa: F401

    from livn.workflows import get

    out = tmp_path_factory.mktemp("fuzz-export") / "job"
    job = get("sample", {"system": tiny_system, "duration": 20, "samples": 2, "noise": False,
                         "output_directory": str(out)})  # fmt: skip
    assert job.launch(executor="serial").ok
    return out


def _limit_verdict(token: str | None) -> str:
    if token is None:
        return OK
    try:
        return OK if int(token) >= 1 else BAD
    except ValueError:
        return BAD


def _run_case(fuzz_base, job, argv_tail, source, output, verdict, suspects, surface, default):
    with Sandbox(fuzz_base) as box:
        shutil.copytree(job, box.work / "job")
        argv = [*argv_tail[:1], source, *argv_tail[1:]]
        if output is not None:
            argv += ["--output", output]
        before = box.snapshot()
        code, out, err = run_cli(argv, timeout=120)
        refused = check_cli(code, out, err, surface=surface, verdict=verdict,
                            suspects=[*suspects, source, output or ""])  # fmt: skip
        if refused:
            assert_unchanged(before, box.snapshot(), " ".join(argv))
        else:
            target = (box.work / output) if output is not None else (box.work / "job" / default)
            rel = relative_in(box.root, target)
            assert rel is not None
            assert_only_added_under(before, box.snapshot(), rel)
            assert "Wrote " in out and any(Path(target).iterdir())
        box.assert_user_files_intact()


@settings(max_examples=budget(30))
# each field is valid in most cases, so that most cases combine one odd field with valid ones
@given(source=st.one_of(st.sampled_from(["job", "job/samples/sample_000001.npz"]),
                        st.sampled_from(list(SOURCES))),
       to=st.one_of(st.sampled_from(["nwb", "spikeinterface"]),
                    st.sampled_from(["nwb", "spikeinterface"]),
                    st.sampled_from(["NWB", "csv", "", "nw"])),
       units=st.one_of(st.none(), st.sampled_from(["all", "observed"]),
                       st.sampled_from(["some", "", "ALL"])),
       limit=st.one_of(st.none(), st.none(), st.sampled_from(["1", "2", "5", "0", "-1", "1.5", "x"]),
                       st.sampled_from(RAW_TOKENS)),
       output=st.one_of(st.sampled_from([None, "out", "sub/deeper/out"]),
                        st.sampled_from(list(OUTPUTS))),
       flags=st.lists(st.sampled_from(["--no-potentials", "--include-voltage", "--overwrite"]),
                      max_size=2, unique=True))  # fmt: skip
@example(source="job", to="nwb", units=None, limit=None, output=None, flags=[])
@example(source="job", to="spikeinterface", units="observed", limit="1", output="out", flags=[])
@example(source="job", to="spikeinterface", units=None, limit=None, output="out",
         flags=["--include-voltage"])
def test_export_cli(fuzz_base, export_job, source, to, units, limit, output, flags):
    tail = ["export", "--to", to]
    if units is not None:
        tail += ["--units", units]
    if limit is not None:
        tail += [f"--limit={limit}"]
    tail += flags
    verdict = worst(
        SOURCES[source],
        OK if to in ("nwb", "spikeinterface") else BAD,
        OK if units in (None, "all", "observed") else BAD,
        _limit_verdict(limit),
        OUTPUTS[output],
        BAD if to == "spikeinterface" and "--include-voltage" in flags else OK,
    )
    suspects = ["--to", "--units", "--limit", "--output", "include-voltage", "shard", "shards",
                to, units or "", limit or ""]  # fmt: skip
    _run_case(fuzz_base, export_job, tail, source, output, verdict, suspects,
              "export CLI", f"export-{to}")  # fmt: skip


@settings(max_examples=budget(12))
@given(source=st.one_of(st.sampled_from(["job/samples/sample_000000.npz", "job"]),
                        st.sampled_from(["missing", "userfile.txt"])),
       kind=st.one_of(st.none(), st.sampled_from(["raster", "electrodes,rates", "voltage"]),
                      st.sampled_from(["summary", "rater", "", ",", "raster,,x"])),
       bin_ms=st.one_of(st.none(), st.none(), st.sampled_from(["5", "0", "-1", "nan", "inf",
                                                               "1e-300", "x", "1e308"])),
       dpi=st.one_of(st.none(), st.none(), st.sampled_from(["20", "0", "5000", "x", "1.5"])),
       output=st.sampled_from([None, "plots_here", None, "userdir", ""]))  # fmt: skip
@example(source="job/samples/sample_000000.npz", kind="raster", bin_ms=None, dpi="20",
         output=None)
def test_plot_cli(fuzz_base, export_job, source, kind, bin_ms, dpi, output):
    tail = ["plot", "--limit", "1"]
    verdict = worst(SOURCES.get(source, BAD), OUTPUTS.get(output, OK))
    if kind is not None:
        tail += [f"--kind={kind}"]
        parts = [k for k in kind.split(",") if k.strip()]
        verdict = worst(verdict, OK if parts and all(
            k in ("summary", "raster", "electrodes", "rates", "voltage") for k in parts) else BAD)
    if bin_ms is not None:
        tail += [f"--bin-ms={bin_ms}"]
        try:
            value = float(bin_ms)
            ok = value > 0 and value == value and value != float("inf")
        except ValueError:
            ok = False
        # a tiny bin over a 20 ms run is valid but may be a huge histogram: either outcome
        verdict = worst(verdict, (ANY if value < 1e-3 else OK) if ok else BAD)
    if dpi is not None:
        tail += [f"--dpi={dpi}"]
        verdict = worst(verdict, OK if dpi.isdigit() and 10 <= int(dpi) <= 1200 else BAD)
    suspects = ["--kind", "kind", "--bin-ms", "bin_ms", "--dpi", "dpi", "--output", "shards",
                kind or "", bin_ms or "", dpi or ""]  # fmt: skip
    _run_case(fuzz_base, export_job, tail, source, output, verdict, suspects, "plot CLI",
              "plots")


@settings(max_examples=budget(40))
@given(units=st.one_of(st.sampled_from(["all", "observed"]), st.sampled_from(["all", "observed"]),
                       texts(), wrong_types()),
       potentials=st.one_of(st.booleans(), wrong_types()),
       radius=reals(1.0, 100.0))
def test_python_options(fuzz_base, export_job, units, potentials, radius):
    import numpy as np

    from livn.integrations.nwb import to_nwbfile
    from livn.integrations.spikeinterface import to_probe
    from livn.trial import Trial

    trial = Trial.from_shard(export_job / "samples" / "sample_000000.npz")
    verdict = OK if isinstance(units, str) and units in ("all", "observed") else BAD
    nwb, _ = outcome(lambda: to_nwbfile(trial, units=units, potentials=bool(potentials)),
                     surface="to_nwbfile(units=...)", verdict=verdict, suspects=["units", units])
    if nwb is not None:
        assert len(nwb.units) == (12 if units == "all" else int(
            np.sum(trial.nearest_electrodes()[2] <= trial.mea.output_radius)))
    verdict = OK if is_real(radius) and radius > 0 else BAD
    probe, _ = outcome(lambda: to_probe(trial.mea, contact_radius=radius),
                       surface="to_probe(contact_radius=...)", verdict=verdict,
                       suspects=["contact_radius"])  # fmt: skip
    if probe is not None:
        assert probe.get_contact_count() == trial.mea.num_channels
