"""Plots: what each panel draws (checked against counts made here), PNGs of a sampling job
and of a sweep through ``livn.plot.save_plots`` and ``livn plot``, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from livn.errors import ConfigError

pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """A sampling job: 2 spontaneous samples of EI2, 80 ms, everything recorded."""
    from livn.workflows import get

    out = tmp_path_factory.mktemp("plot") / "job"
    assert get("sample", {"system": "EI2", "duration": 80, "samples": 2, "seed": 3,
                          "output_directory": str(out)}).launch(executor="serial").ok  # fmt: skip
    return out


@pytest.fixture(scope="module")
def trial(job):
    from livn.trial import Trial

    t = Trial.from_shard(job / "samples" / "sample_000000.npz")
    assert len(t.t) > 20
    return t


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_raster_draws_every_spike_in_its_population_colour(trial):
    from livn import plot

    ax = plot.raster(trial)
    colors = plot.population_colors(trial)
    assert colors == {"EXC": "#d62728", "INH": "#1f77b4"}
    lines = {line.get_label().split()[0]: line for line in ax.lines}
    for pop, (start, count) in trial.system.population_ranges.items():
        keep = (trial.it >= start) & (trial.it < start + count)
        np.testing.assert_array_equal(lines[pop].get_xdata(), trial.t[keep])
        np.testing.assert_array_equal(lines[pop].get_ydata(), trial.it[keep])
        assert lines[pop].get_color() == colors[pop]


def test_electrode_rates_count_the_spikes_within_the_radius(trial):
    from livn import plot

    nc = np.asarray(trial.system.neuron_coordinates)
    e = trial.mea.electrode_coordinates
    near = np.linalg.norm(nc[:, None, 1:4] - e[None, :, 1:4], axis=2) <= trial.mea.output_radius
    gid_row = {int(g): i for i, g in enumerate(nc[:, 0])}
    want = np.zeros(len(e))
    for gid in trial.it:
        want += near[gid_row[int(gid)]]
    np.testing.assert_allclose(plot.channel_rates(trial), want / 0.08)
    ax = plot.electrode_rates(trial)
    squares = ax.collections[-1]  # the electrodes, coloured by rate
    np.testing.assert_allclose(squares.get_array(), want / 0.08)
    np.testing.assert_array_equal(squares.get_offsets(), e[:, 1:3])


def test_population_rates_sum_to_the_spike_counts(trial):
    from livn import plot

    edges, rates = plot.population_rate_traces(trial, bin_ms=15.0)
    np.testing.assert_allclose(edges, [0, 15, 30, 45, 60, 75, 80])
    widths = np.diff(edges) / 1000.0
    for pop, (start, count) in trial.system.population_ranges.items():
        n = int(np.sum((trial.it >= start) & (trial.it < start + count)))
        assert np.sum(rates[pop] * widths * count) == pytest.approx(n)


def test_voltage_traces_draw_the_recorded_rows(trial):
    from livn import plot

    ax = plot.voltage_traces(trial, max_traces=4)
    assert len(ax.lines) == 4
    labels = [line.get_label() for line in ax.lines]
    assert labels[:2] == ["0 (EXC)", "80 (INH)"]  # spread over the populations
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), trial.v[list(trial.iv).index(80)])
    ax = plot.voltage_traces(trial, gids=[5])
    np.testing.assert_allclose(ax.lines[0].get_xdata()[:3], [0.0, 0.1, 0.2])
    with pytest.raises(ConfigError, match=r"gids \[500\]"):
        plot.voltage_traces(trial, gids=[500])


def test_save_plots_of_a_job_and_the_cli(job, tmp_path, capsys):
    from livn import plot
    from livn.cli.main import main

    out = tmp_path / "png"
    written = plot.save_plots(job, out, kinds="summary,raster", limit=1, dpi=50)
    assert [p.name for p in written] == ["sample_000000.png", "sample_000000_raster.png"]
    assert png_size(written[0]) == (600, 400)  # 12 x 8 in at 50 dpi
    assert png_size(written[1]) == (300, 200)
    with pytest.raises(ConfigError, match="exists"):
        plot.save_plots(job, out, kinds="raster", limit=1)
    assert main(["plot", str(job), "--kind", "electrodes", "--dpi", "40"]) == 0
    assert sorted(p.name for p in (job / "plots").iterdir()) == [
        "sample_000000_electrodes.png", "sample_000001_electrodes.png"]
    assert main(["plot", str(job), "--kind", "rater"]) == 2
    err = capsys.readouterr().err
    assert "'rater'" in err and "Did you mean 'raster'?" in err


def test_a_sweep_is_plotted_and_exported_the_same_way(tmp_path):
    import yaml

    from livn.cli.main import main
    from livn.workflows.sweeps import Batch

    config = {
        "base_config": {"system": "EI1", "duration": 40, "seed": 0},
        "batch": {"output_dir": str(tmp_path / "sweep"), "save_format": "hdf5",
                  "save_intermediates": True,
                  "stimuli": [{"type": "pulse", "parameters": {"channels": [[5]],
                                                              "amplitude": [40],
                                                              "period_ms": [10]}}]},
    }  # fmt: skip
    path = tmp_path / "sweep.yml"
    path.write_text(yaml.safe_dump(config))
    Batch.from_yaml(path).run(executor="serial")
    from livn.trial import load_trials

    (trial,) = load_trials(tmp_path / "sweep")
    assert trial.metadata["kind"] == "stimulus" and trial.stimulus is not None
    assert np.abs(trial.stimulus.array[:, 5]).max() == pytest.approx(40.0)
    assert np.abs(np.delete(trial.stimulus.array, 5, axis=1)).max() == 0
    assert main(["plot", str(tmp_path / "sweep"), "--dpi", "30"]) == 0
    (png,) = (tmp_path / "sweep" / "plots").iterdir()
    assert png.name == f"{trial.name}.png" and png_size(png) == (360, 240)
    pynwb = pytest.importorskip("pynwb")
    assert main(["export", str(tmp_path / "sweep"), "--to", "nwb"]) == 0
    (nwb_path,) = (tmp_path / "sweep" / "export-nwb").iterdir()
    with pynwb.NWBHDF5IO(str(nwb_path), "r") as io:
        nwb = io.read()
        np.testing.assert_array_equal(nwb.stimulus["electrode_stimulus"].data[:],
                                      trial.stimulus.array)
        np.testing.assert_allclose(nwb.acquisition["ElectricalSeries"].data[:].T,
                                   trial.potentials())


def test_bad_kinds_and_sources(trial, tmp_path):
    from livn import plot

    for kinds, needle in (("", "empty"), (["raster", 3], "3"), (7, "kinds must be")):
        with pytest.raises(ConfigError, match=needle):
            plot.save_plots(trial, tmp_path, kinds=kinds)
    with pytest.raises(ConfigError, match="no such file"):
        plot.save_plots(tmp_path / "missing", kinds="raster")
    with pytest.raises(ConfigError, match="bin_ms"):
        plot.save_plots(trial, tmp_path, bin_ms=0)
    with pytest.raises(ConfigError, match="dpi"):
        plot.save_plots(trial, tmp_path, dpi=True)


def test_summary_without_voltage_says_so(trial):
    import dataclasses

    from livn import plot

    fig = plot.summary(dataclasses.replace(trial, iv=None, v=None))
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "no voltage recorded" in texts
    assert len(plot.figures(dataclasses.replace(trial, v=None), ["voltage", "raster"])) == 1
    with pytest.raises(ConfigError, match=r"record_voltage\(\)"):
        plot.voltage_traces(dataclasses.replace(trial, v=None))
