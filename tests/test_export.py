"""Exporters: a run and dataset samples to NWB (read back with pynwb and SpikeInterface's NWB
reader) and to SpikeInterface objects and folders; the CLI ``livn export``; bad input.

Expected values are computed here independently of the exporters: the potentials from the
SPEC §3 point-source formula, the nearest electrodes from the coordinates, the stimulus from
the encoding's definition.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from livn.errors import ConfigError

DURATION = 60.0


def spec_potentials(trial) -> np.ndarray:
    """``[C, T]`` µV: ``V = Σ I / (4π σ r)``, σ 0.3 S/m, r = (d + 5 µm) in mm, d <= radius."""
    nc = np.asarray(trial.system.neuron_coordinates, np.float64)
    pos = {int(g): nc[i, 1:4] for i, g in enumerate(nc[:, 0])}
    e = np.asarray(trial.mea.electrode_coordinates)[:, 1:4]
    out = np.zeros((len(e), trial.mp.shape[1]))
    for row, gid in enumerate(trial.im):
        d = np.linalg.norm(e - pos[int(gid)], axis=1)
        for c in np.flatnonzero(d <= trial.mea.output_radius):
            out[c] += trial.mp[row].astype(np.float64) / (4 * np.pi * 0.3 * (d[c] + 5.0) / 1000)
    return out


def nearest_row(trial, gid: int) -> int:
    nc = np.asarray(trial.system.neuron_coordinates)
    p = nc[nc[:, 0] == gid][0, 1:4]
    e = np.asarray(trial.mea.electrode_coordinates)[:, 1:4]
    return int(np.argmin(np.linalg.norm(e - p, axis=1)))


@pytest.fixture(scope="module")
def run_trial():
    """EI2, 60 ms under biphasic pulses on electrodes 0 and 5, everything recorded."""
    from livn.encoding import ElectrodePulses
    from livn.env import Env
    from livn.trial import Trial

    env = Env("EI2", seed=7).init().apply_model_defaults()
    env.record_spikes()
    env.record_voltage()
    env.record_membrane_current()
    stim = ElectrodePulses(channels=[0, 5], amplitude_uA=40.0, period_ms=10.0)(env, DURATION)
    trial = Trial.from_run(env, env.run(DURATION, stim), duration=DURATION, stimulus=stim)
    assert len(trial.t) > 10 and trial.has_currents  # something to compare
    return trial


@pytest.fixture(scope="module")
def sample_job(tmp_path_factory):
    """A sampling job: 2 samples of EI1 under seeded electrode pulses (decoding Raw)."""
    from livn.workflows import get

    out = tmp_path_factory.mktemp("export") / "job"
    job = get("sample", {"system": "EI1", "duration": 50, "samples": 2, "seed": 11,
                         "encoding": "ElectrodePulses",
                         "encoding_kwargs": {"period_ms": 10.0, "amplitude_uA": 30.0},
                         "output_directory": str(out)})  # fmt: skip
    assert job.launch(executor="serial").ok
    return out


# ---------------------------------------------------------------------------- trial
def test_potentials_follow_the_spec_formula(run_trial):
    got = run_trial.potentials()
    want = spec_potentials(run_trial)
    assert got.shape == (run_trial.mea.num_channels, run_trial.num_samples)
    assert np.abs(want).max() > 0
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())


def test_trial_of_a_sample_matches_its_shard(sample_job):
    from livn.encoding import ElectrodePulses
    from livn.trial import load_trials

    trials = list(load_trials(sample_job))
    assert [t.name for t in trials] == ["sample_000000", "sample_000001"]
    for i, trial in enumerate(trials):
        with np.load(sample_job / "samples" / f"{trial.name}.npz") as z:
            np.testing.assert_array_equal(trial.it, z["it"])
            np.testing.assert_array_equal(trial.t, z["t"])
            features = z["features"]
        assert trial.seed == 11 + i and trial.duration == 50.0
        assert trial.record_dt == pytest.approx(0.1)
        want = ElectrodePulses(period_ms=10.0, amplitude_uA=30.0).channel_inputs(
            trial.mea, 50.0, features)
        assert trial.stimulus.space == "channels"
        np.testing.assert_array_equal(trial.stimulus.array, want)
        assert np.abs(want).max() > 0


# ---------------------------------------------------------------------------- NWB
def test_nwb_round_trip_with_pynwb(run_trial, tmp_path):
    pynwb = pytest.importorskip("pynwb")
    from livn.integrations.nwb import write_nwb

    path = write_nwb(run_trial, tmp_path / "run.nwb")
    mea = run_trial.mea
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        notes = json.loads(nwb.notes)
        assert notes["system"] == "EI2" and notes["seed"] == 7
        assert notes["duration_ms"] == DURATION and notes["num_neurons"] == 100
        assert "EI2" in nwb.session_description and "seed 7" in nwb.session_description

        el = nwb.electrodes.to_dataframe()
        np.testing.assert_array_equal(el.index.to_numpy(), mea.channel_ids)
        for k, col in enumerate(("rel_x", "rel_y", "rel_z")):
            np.testing.assert_array_equal(el[col].to_numpy(), mea.electrode_coordinates[:, k + 1])
        assert nwb.devices["MEA"] is nwb.electrode_groups["MEA"].device

        es = nwb.acquisition["ElectricalSeries"]
        assert es.conversion == 1e-6 and es.rate == pytest.approx(10_000.0)
        np.testing.assert_allclose(es.data[:].T, spec_potentials(run_trial), rtol=1e-5,
                                   atol=1e-6 * np.abs(es.data[:]).max())

        units = nwb.units
        ids = np.asarray(units.id[:])
        np.testing.assert_array_equal(ids, np.arange(100))
        for row, gid in enumerate(ids):
            want = np.sort(run_trial.t[run_trial.it == gid]) / 1000.0
            np.testing.assert_allclose(units["spike_times"][row], want, rtol=0, atol=1e-12)
            region = units["electrodes"][row]
            assert list(region.index) == [int(mea.channel_ids[nearest_row(run_trial, gid)])]
        pops = units["population"][:]
        assert list(pops[:80]) == ["EXC"] * 80 and list(pops[80:]) == ["INH"] * 20

        stim = nwb.stimulus["electrode_stimulus"]
        np.testing.assert_array_equal(stim.data[:], run_trial.stimulus.array)
        assert stim.conversion == 1e-6 and stim.rate == pytest.approx(1000.0 / run_trial.stimulus.dt)
        assert np.abs(stim.data[:, 0]).max() == pytest.approx(40.0)


def test_nwb_round_trip_with_spikeinterface_reader(run_trial, tmp_path):
    pytest.importorskip("pynwb")
    se = pytest.importorskip("spikeinterface.extractors")
    from livn.integrations.nwb import write_nwb

    path = write_nwb(run_trial, tmp_path / "run.nwb")
    rec = se.read_nwb_recording(str(path))
    assert rec.get_num_channels() == run_trial.mea.num_channels
    assert rec.get_sampling_frequency() == pytest.approx(10_000.0)
    np.testing.assert_allclose(rec.get_traces(return_in_uV=True).T, run_trial.potentials(),
                               rtol=1e-6)
    np.testing.assert_array_equal(rec.get_channel_locations(),
                                  run_trial.mea.electrode_coordinates[:, 1:3])
    sorting = se.read_nwb_sorting(str(path), electrical_series_path="acquisition/ElectricalSeries")
    assert list(sorting.get_unit_ids()) == list(range(100))
    for gid in np.unique(run_trial.it):
        got = sorting.get_unit_spike_train(gid, return_times=True)
        want = np.sort(run_trial.t[run_trial.it == gid]) / 1000.0
        np.testing.assert_allclose(got, want, atol=1e-9)


def test_nwb_options_units_observed_voltage_and_cell_stimulus(run_trial, tmp_path):
    pynwb = pytest.importorskip("pynwb")
    import dataclasses

    from livn.integrations.nwb import write_nwb
    from livn.stimulus import Stimulus

    cells = Stimulus(np.full((20, 3), 0.25, np.float32), dt=0.5, gids=[4, 9, 81])
    trial = dataclasses.replace(run_trial, stimulus=cells)
    path = write_nwb(trial, tmp_path / "o.nwb", units="observed", include_voltage=True)
    e = run_trial.mea.electrode_coordinates[:, 1:4]
    nc = np.asarray(run_trial.system.neuron_coordinates)
    d = np.linalg.norm(nc[:, None, 1:4] - e[None], axis=2).min(axis=1)
    observed = np.sort(nc[d <= run_trial.mea.output_radius, 0].astype(int))
    assert 0 < len(observed) < 100
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        np.testing.assert_array_equal(nwb.units.id[:], observed)
        v = nwb.acquisition["somatic_voltage"]
        assert json.loads(v.comments) == run_trial.iv.tolist() and v.conversion == 1e-3
        np.testing.assert_array_equal(v.data[:].T, run_trial.v)
        s = nwb.stimulus["cell_stimulus"]
        assert json.loads(s.comments) == [4, 9, 81] and s.conversion == 1e-9
        assert s.rate == pytest.approx(2000.0)
        np.testing.assert_array_equal(s.data[:], cells.array)


def test_export_of_a_sampling_job_through_the_cli(sample_job, tmp_path):
    pynwb = pytest.importorskip("pynwb")
    from livn.cli.main import main
    from livn.trial import Trial

    out = tmp_path / "nwb"
    assert main(["export", str(sample_job), "--to", "nwb", "--output", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["sample_000000.nwb", "sample_000001.nwb"]
    trial = Trial.from_shard(sample_job / "samples" / "sample_000001.npz")
    with pynwb.NWBHDF5IO(str(out / "sample_000001.nwb"), "r") as io:
        nwb = io.read()
        notes = json.loads(nwb.notes)
        assert notes["seed"] == 12 and notes["index"] == 1 and notes["system"] == "EI1"
        assert notes["encoding"] == "livn.encoding.ElectrodePulses"
        np.testing.assert_allclose(notes["features"], trial.features)
        np.testing.assert_array_equal(nwb.stimulus["electrode_stimulus"].data[:],
                                      trial.stimulus.array)
        spikes = np.concatenate([nwb.units["spike_times"][i] for i in range(len(nwb.units))])
        np.testing.assert_allclose(np.sort(spikes), np.sort(trial.t) / 1000.0, atol=1e-12)
    # a second export refuses to overwrite, before writing anything
    before = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    assert main(["export", str(sample_job), "--to", "nwb", "--output", str(out)]) == 2
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == before
    # default output: <job>/export-nwb, one shard with --limit
    assert main(["export", str(sample_job / "samples" / "sample_000000.npz"), "--to", "nwb"]) == 0
    assert [p.name for p in (sample_job / "export-nwb").iterdir()] == ["sample_000000.nwb"]


# ---------------------------------------------------------------------------- SpikeInterface
def test_spikeinterface_recording_sorting_and_probe(run_trial):
    pytest.importorskip("spikeinterface")
    from livn.integrations.spikeinterface import to_recording, to_sorting

    rec = to_recording(run_trial)
    np.testing.assert_array_equal(rec.get_traces(return_in_uV=True).T, run_trial.potentials())
    assert list(rec.get_channel_ids()) == [str(c) for c in run_trial.mea.channel_ids]
    probe = rec.get_probe()
    np.testing.assert_array_equal(probe.contact_positions,
                                  run_trial.mea.electrode_coordinates[:, 1:3])
    np.testing.assert_array_equal(rec.get_property("z_um"),
                                  run_trial.mea.electrode_coordinates[:, 3])
    sorting = to_sorting(run_trial)
    assert sorting.get_sampling_frequency() == pytest.approx(10_000.0)
    for gid in range(100):
        want = np.sort(np.rint(run_trial.t[run_trial.it == gid] / 0.1).astype(np.int64))
        np.testing.assert_array_equal(sorting.get_unit_spike_train(gid), want)
    assert list(sorting.get_property("population")[78:82]) == ["EXC", "EXC", "INH", "INH"]
    nearest = sorting.get_property("nearest_channel")
    assert [int(nearest[g]) for g in (0, 50, 99)] == [
        int(run_trial.mea.channel_ids[nearest_row(run_trial, g)]) for g in (0, 50, 99)]


def test_spikeinterface_folders_through_the_cli(sample_job, tmp_path):
    si = pytest.importorskip("spikeinterface")
    from livn.cli.main import main
    from livn.trial import Trial

    out = tmp_path / "si"
    assert main(["export", str(sample_job), "--to", "spikeinterface", "--output", str(out),
                 "--limit", "1"]) == 0  # fmt: skip
    folder = out / "sample_000000"
    assert sorted(p.name for p in out.iterdir()) == ["sample_000000"]
    trial = Trial.from_shard(sample_job / "samples" / "sample_000000.npz")
    rec = si.load(folder / "recording")
    np.testing.assert_array_equal(rec.get_traces(return_in_uV=True).T, trial.potentials())
    np.testing.assert_array_equal(rec.get_channel_locations(),
                                  trial.mea.electrode_coordinates[:, 1:3])
    sorting = si.load(folder / "sorting")
    total = sum(len(sorting.get_unit_spike_train(u)) for u in sorting.get_unit_ids())
    assert total == len(trial.t) and len(sorting.get_unit_ids()) == 10
    assert json.loads((folder / "livn.json").read_text())["seed"] == 11


# ---------------------------------------------------------------------------- bad input
def test_a_run_without_currents_asks_for_record_membrane_current(run_trial, tmp_path):
    import dataclasses

    pytest.importorskip("pynwb")
    pytest.importorskip("spikeinterface")
    from livn.integrations.nwb import write_nwb
    from livn.integrations.spikeinterface import to_recording, to_sorting

    bare = dataclasses.replace(run_trial, im=None, mp=None)
    for call in (lambda: write_nwb(bare, tmp_path / "x.nwb"), lambda: to_recording(bare)):
        with pytest.raises(ConfigError, match=r"record_membrane_current\(\)"):
            call()
    assert not (tmp_path / "x.nwb").exists()
    import pynwb

    path = write_nwb(bare, tmp_path / "spikes.nwb", potentials=False)
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        assert "ElectricalSeries" not in nwb.acquisition and len(nwb.units) == 100
    assert len(to_sorting(bare).get_unit_ids()) == 100


def test_cli_refusals_name_the_value_and_the_fix(sample_job, tmp_path, capsys):
    from livn.cli.main import main

    cases = [
        (["export", str(tmp_path / "nowhere"), "--to", "nwb"], "nowhere"),
        (["export", str(tmp_path), "--to", "nwb"], "holds no shards"),
        (["export", str(sample_job), "--to", "csv"], "invalid choice: 'csv'"),
        (["export", str(sample_job), "--to", "nwb", "--units", "some"], "invalid choice"),
        (["export", str(sample_job), "--to", "nwb", "--limit", "0"], "positive integer"),
        (["export", str(sample_job / "config.json"), "--to", "nwb"], "not a shard"),
    ]
    for argv, needle in cases:
        try:
            code = main(argv)
        except SystemExit as e:  # argparse
            code = e.code
        err = capsys.readouterr().err
        assert code == 2 and needle in err and err.count("livn: error:") == 1, (argv, err)


def test_missing_currents_in_a_job_is_refused_on_the_cli(tmp_path, capsys):
    pytest.importorskip("pynwb")
    from livn.cli.main import main
    from livn.workflows import get

    out = tmp_path / "spikes_only"
    assert get("sample", {"system": "EI1", "duration": 20, "samples": 1, "record": ["spikes"],
                          "output_directory": str(out)}).launch(executor="serial").ok  # fmt: skip
    assert main(["export", str(out), "--to", "nwb"]) == 2
    err = capsys.readouterr().err
    assert "record_membrane_current()" in err and "--no-potentials" in err
    assert not (out / "export-nwb").exists() or not any((out / "export-nwb").iterdir())
    assert main(["export", str(out), "--to", "nwb", "--no-potentials"]) == 0


def test_import_livn_and_the_exporters_stays_light():
    code = ("import sys, livn, livn.trial, livn.plot, livn.integrations.nwb, "
            "livn.integrations.spikeinterface, livn.cli.export\n"
            "heavy = [m for m in ('pynwb', 'hdmf', 'spikeinterface', 'probeinterface', "
            "'matplotlib', 'jax') if m in sys.modules]\n"
            "assert not heavy, heavy")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)


def test_exports_do_not_write_beside_foreign_files(sample_job, tmp_path, capsys, monkeypatch):
    pytest.importorskip("pynwb")
    from livn.cli.main import main

    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("a user's notes")
    for to in ("nwb", "spikeinterface"):
        assert main(["export", str(sample_job), "--to", to, "--output", str(out)]) == 2
        err = capsys.readouterr().err
        assert "notes.txt" in err and "--output" in err
    assert main(["plot", str(sample_job), "--output", str(out)]) == 2
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    monkeypatch.setenv("LIVN_OUTPUT_ROOT", str(tmp_path / "allowed"))
    assert main(["export", str(sample_job), "--to", "nwb", "--output", str(tmp_path / "x")]) == 2
    assert "outside the allowed location" in capsys.readouterr().err


def test_trial_from_run_checks_its_arguments(run_trial):
    from types import SimpleNamespace

    from livn.trial import Trial

    env = SimpleNamespace(system=run_trial.system, io=run_trial.mea, seed=7,
                          model=SimpleNamespace(record_dt=0.1), backend="jax")
    rec = (run_trial.it, run_trial.t, None, None)
    assert Trial.from_run(env, rec, duration=60).seed == 7
    assert Trial.from_run(env, rec, duration=60, seed=9).seed == 9
    with pytest.raises(ConfigError, match="record_spikes"):
        Trial.from_run(env, (None, None, None, None), duration=60)
    with pytest.raises(ConfigError, match="3 items"):
        Trial.from_run(env, rec[:3], duration=60)
    with pytest.raises(ConfigError, match="duration"):
        Trial.from_run(env, rec, duration=-1)


def test_the_same_trial_gives_the_same_identifier(run_trial):
    pytest.importorskip("pynwb")
    import dataclasses

    from livn.integrations.nwb import to_nwbfile

    a = to_nwbfile(run_trial, potentials=False)
    b = to_nwbfile(run_trial, potentials=False)
    c = to_nwbfile(dataclasses.replace(run_trial, seed=8), potentials=False)
    assert a.identifier == b.identifier != c.identifier
