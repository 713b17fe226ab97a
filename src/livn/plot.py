"""Plots of a trial: spike raster, per-electrode rates on the MEA, population rates, voltage
traces; needs ``livn[plot]`` (matplotlib).

::

    from livn import plot
    from livn.trial import Trial

    trial = Trial.from_run(env, env.run(1000), duration=1000)
    fig = plot.summary(trial)           # the four panels in one figure
    fig.savefig("run.png")
    plot.raster(trial, ax=my_axes)      # or one panel into your own axes
    plot.save_plots("./my_dataset")     # PNGs of every sample (livn plot ./my_dataset)

Every function takes a :class:`livn.trial.Trial` (a run, a sample shard or a sweep shard) and
draws with matplotlib's object API (``matplotlib.figure.Figure``; no pyplot state, no
window), so it works headless and in threads. Populations keep one colour in every panel
(:func:`population_colors`).

* **Raster**: one dot per spike at (time ms, gid).
* **Electrode rates**: the MEA seen from above (x, y µm), each electrode coloured by the rate
  of the spikes it records (Hz; a cell within ``output_radius`` of several electrodes counts on
  each, :meth:`livn.io.MEA.channel_recording`), cells as grey dots.
* **Population rates**: spikes per cell per second of each population in bins of ``bin_ms``.
* **Voltage**: the somatic voltage of up to ``max_traces`` recorded cells, spread over the
  populations (only when voltage was recorded).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from livn.errors import ConfigError, did_you_mean, positive_ms, require

__all__ = ["KINDS", "channel_rates", "electrode_rates", "figures", "population_colors",
           "population_rate_traces", "population_rates", "raster", "save_plots", "summary",
           "voltage_traces"]  # fmt: skip

#: What ``save_plots``/``livn plot --kind`` can draw.
KINDS: tuple[str, ...] = ("summary", "raster", "electrodes", "rates", "voltage")
_PALETTE = ("#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip


def _axes(ax: Any, figsize: tuple[float, float] = (6.0, 4.0)) -> Any:
    if ax is not None:
        return ax
    require("matplotlib", "plot")
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained").add_subplot()


def population_colors(trial: Any) -> dict[str, str]:
    """``{population: colour}`` in gid order (the first red, the second blue, …)."""
    return {p: _PALETTE[i % len(_PALETTE)] for i, (p, _, _) in enumerate(trial.populations())}


def raster(trial: Any, ax: Any | None = None, markersize: float = 2.0) -> Any:
    """Spike raster coloured by population; returns the Axes."""
    ax = _axes(ax)
    it, t = np.asarray(trial.it), np.asarray(trial.t)
    for pop, color in population_colors(trial).items():
        start, count = trial.system.population_ranges[pop]
        keep = (it >= start) & (it < start + count)
        ax.plot(t[keep], it[keep], ".", ms=markersize, color=color,
                label=f"{pop} ({int(keep.sum()):,} spikes)")  # fmt: skip
    ax.set_xlim(0, trial.duration)
    ax.set_ylim(-0.5, trial.system.num_neurons - 0.5)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("cell (gid)")
    ax.set_title(f"{trial.name}: {trial.system.name}, seed {trial.seed}")
    ax.legend(loc="upper right", fontsize="small", markerscale=4)
    return ax


def channel_rates(trial: Any) -> np.ndarray:
    """``[n_channels]`` rate of the spikes each electrode records, Hz (MEA row order)."""
    cit, _ = trial.mea.channel_recording(trial.system.neuron_coordinates, trial.it, trial.t)
    counts = np.array([len(cit[int(c)]) for c in trial.mea.channel_ids], dtype=np.float64)
    return counts / (trial.duration / 1000.0)


def electrode_rates(trial: Any, ax: Any | None = None, cmap: str = "viridis") -> Any:
    """Per-electrode spike rates on the MEA layout (x, y µm); returns the Axes."""
    ax = _axes(ax, (5.5, 4.5))
    from matplotlib.patches import Circle

    coords = np.asarray(trial.system.neuron_coordinates)
    colors = population_colors(trial)
    pops = trial.population_of(coords[:, 0].astype(np.int64))
    for pop, color in colors.items():
        keep = pops == pop
        ax.scatter(coords[keep, 1], coords[keep, 2], s=6, color=color, alpha=0.5, lw=0)
    e = np.asarray(trial.mea.electrode_coordinates)
    rates = channel_rates(trial)
    for x, y in e[:, 1:3]:
        ax.add_patch(Circle((x, y), trial.mea.output_radius, fill=False, lw=0.5, color="0.5"))
    sc = ax.scatter(e[:, 1], e[:, 2], c=rates, cmap=cmap, s=120, marker="s", edgecolors="k",
                    vmin=0.0, vmax=max(float(rates.max()) if len(rates) else 0.0, 1e-9))  # fmt: skip
    for cid, x, y in e[:, :3]:
        ax.annotate(f"{int(cid)}", (x, y), xytext=(0, 9), textcoords="offset points",
                    ha="center", fontsize="x-small")  # fmt: skip
    ax.figure.colorbar(sc, ax=ax, label="rate (Hz)")
    ax.set_aspect("equal")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    ax.set_title(f"spikes per electrode (radius {trial.mea.output_radius:g} µm)")
    return ax


def population_rate_traces(trial: Any, bin_ms: float = 10.0) -> tuple[np.ndarray, dict]:
    """``(bin edges [B + 1] ms, {population: [B] Hz per cell})`` (the last bin may be
    shorter; each bin's rate uses its own width)."""
    bin_ms = positive_ms(bin_ms, "bin_ms")
    edges = np.arange(0.0, trial.duration, bin_ms)
    edges = np.append(edges, trial.duration)
    widths = np.diff(edges) / 1000.0
    it, t = np.asarray(trial.it), np.asarray(trial.t)
    out = {}
    for pop, start, count in trial.populations():
        keep = (it >= start) & (it < start + count)
        hist, _ = np.histogram(t[keep], bins=edges)
        out[pop] = hist / (max(count, 1) * widths)
    return edges, out


def population_rates(trial: Any, bin_ms: float = 10.0, ax: Any | None = None) -> Any:
    """Rate per cell of each population over time (bins of ``bin_ms``); returns the Axes."""
    ax = _axes(ax)
    edges, rates = population_rate_traces(trial, bin_ms)
    colors = population_colors(trial)
    for pop, rate in rates.items():
        ax.stairs(rate, edges, color=colors[pop], label=pop)
    ax.set_xlim(0, trial.duration)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"rate per cell (Hz, {float(bin_ms):g} ms bins)")
    ax.legend(loc="upper right", fontsize="small")
    return ax


def voltage_traces(trial: Any, gids: Iterable[int] | None = None, max_traces: int = 6,
                   ax: Any | None = None) -> Any:  # fmt: skip
    """Somatic voltage of some recorded cells (default: up to ``max_traces`` spread over the
    populations); returns the Axes.

    Raises:
        ConfigError: If the trial has no voltage, or a gid was not recorded.
    """
    from livn import limits

    if trial.v is None or trial.iv is None:
        raise ConfigError(
            f"{trial.name} has no voltage traces; record them with env.record_voltage() before "
            "env.run(...) (a sampling job: the default decoding Raw records them)."
        )
    iv = np.asarray(trial.iv, np.int64)
    if gids is None:
        n = limits.integer(max_traces, "max_traces", 1, 1000)
        pops = trial.population_of(iv)
        names = [p for p, _, _ in trial.populations() if np.any(pops == p)]
        per = [np.flatnonzero(pops == p) for p in names]
        rows = [int(r[k]) for k in range(n) for r in per if k < len(r)][:n]
    else:
        lookup = {int(g): i for i, g in enumerate(iv)}
        wanted = [int(g) for g in gids]
        missing = [g for g in wanted if g not in lookup]
        if missing:
            raise ConfigError(
                f"gids {missing[:5]} have no voltage trace in {trial.name}; recorded: "
                f"{int(iv.min()) if len(iv) else '-'}..{int(iv.max()) if len(iv) else '-'}."
            )
        rows = [lookup[g] for g in wanted]
    ax = _axes(ax)
    colors = population_colors(trial)
    time = np.arange(trial.v.shape[1]) * trial.record_dt
    for r in rows:
        pop = trial.population_of(iv[r : r + 1])[0]
        ax.plot(time, trial.v[r], lw=0.7, color=colors.get(pop, "k"), alpha=0.8,
                label=f"{iv[r]} ({pop})")  # fmt: skip
    ax.set_xlim(0, trial.duration)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("somatic voltage (mV)")
    ax.legend(loc="upper right", fontsize="x-small", ncol=2)
    return ax


def summary(trial: Any, bin_ms: float = 10.0) -> Any:
    """One figure: raster, electrode rates, population rates and (if recorded) voltage."""
    require("matplotlib", "plot")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12.0, 8.0), layout="constrained")
    axes = fig.subplots(2, 2)
    raster(trial, ax=axes[0, 0])
    electrode_rates(trial, ax=axes[0, 1])
    population_rates(trial, bin_ms=bin_ms, ax=axes[1, 0])
    if trial.v is not None:
        voltage_traces(trial, ax=axes[1, 1])
    else:
        axes[1, 1].set_axis_off()
        axes[1, 1].text(0.5, 0.5, "no voltage recorded", ha="center", va="center")
    fig.suptitle(trial.describe(), fontsize="medium")
    return fig


def _kinds(kinds: Any) -> list[str]:
    if isinstance(kinds, str):
        kinds = [k.strip() for k in kinds.split(",") if k.strip()]
    try:
        kinds = list(kinds)
    except TypeError:
        raise ConfigError(f"kinds must be names from {', '.join(KINDS)}; got {kinds!r}.") from None
    if not kinds:
        raise ConfigError(f"kinds is empty; give one or more of {', '.join(KINDS)}.")
    for k in kinds:
        if k not in KINDS:
            raise ConfigError(
                f"unknown plot kind {k!r}. Valid: {', '.join(KINDS)}.{did_you_mean(str(k), KINDS)}"
            )
    return list(dict.fromkeys(kinds))


def figures(trial: Any, kinds: Sequence[str] = ("summary",), bin_ms: float = 10.0) -> dict[str, Any]:
    """``{file suffix: Figure}`` of a trial for the ``kinds`` (voltage only when recorded)."""
    out = {}
    for kind in _kinds(kinds):
        if kind == "summary":
            out[""] = summary(trial, bin_ms=bin_ms)
        elif kind == "raster":
            out["_raster"] = raster(trial).figure
        elif kind == "electrodes":
            out["_electrodes"] = electrode_rates(trial).figure
        elif kind == "rates":
            out["_rates"] = population_rates(trial, bin_ms=bin_ms).figure
        elif kind == "voltage" and trial.v is not None:
            out["_voltage"] = voltage_traces(trial).figure
    return out


def output_directory(source: str | os.PathLike) -> Path:
    """Default directory of ``livn plot SOURCE``: ``<job>/plots`` of the source's job."""
    path = Path(source)
    if path.is_file():
        parent = path.parent
        return (parent.parent if parent.name in ("samples", "responses") else parent) / "plots"
    return path / "plots"


def save_plots(source: Any, output: str | os.PathLike | None = None,
               kinds: Sequence[str] | str = ("summary",), limit: int | None = None,
               bin_ms: float = 10.0, dpi: int = 100, overwrite: bool = False,
               progress: Callable[[Path], None] | None = None) -> list[Path]:  # fmt: skip
    """Write PNGs of every trial of a source: ``<output>/<trial>.png`` (summary) and
    ``<trial>_<kind>.png`` for the other kinds.

    Args:
        source: A :class:`livn.trial.Trial`, a shard, a sampling job directory or a sweep
            output directory.
        output: The directory; default ``<job>/plots`` (for a Trial: ``./plots``).
        kinds: Names from :data:`KINDS` (a list, or one comma-separated string).
        limit: At most this many trials (the first in index order).
        bin_ms: Bin of the population rates, ms.
        dpi: Resolution of the PNGs.
        overwrite: Replace existing PNGs (default: refuse before drawing anything).
        progress: Called with each PNG once it is written.

    Returns:
        The PNGs written.
    """
    from livn import _fs, limits
    from livn.trial import Trial, refuse_existing, selected_paths
    from livn.trial import output_directory as checked

    require("matplotlib", "plot")
    kinds = _kinds(kinds)
    positive_ms(bin_ms, "bin_ms")
    dpi = limits.integer(dpi, "dpi", 10, 1200)
    if isinstance(source, Trial):
        out = Path(output) if output is not None else Path("plots")
        trials: Iterable[Any] = [source]
        names = [source.name]
    else:
        paths = selected_paths(source, limit)
        out = Path(output) if output is not None else output_directory(source)
        trials = (Trial.from_shard(p) for p in paths)
        names = [p.stem for p in paths]
    out = checked(out, lambda e: e.is_file() and e.suffix == ".png", "PNG files")
    suffix = {"summary": "", "raster": "_raster", "electrodes": "_electrodes",
              "rates": "_rates", "voltage": "_voltage"}  # fmt: skip
    refuse_existing([out / f"{n}{suffix[k]}.png" for n in names for k in kinds], overwrite)
    written = []
    for trial in trials:
        for tail, fig in figures(trial, kinds, bin_ms).items():
            path = out / f"{trial.name}{tail}.png"
            with _fs.atomic_write(path, "wb") as f:
                fig.savefig(f, format="png", dpi=dpi)
            written.append(path)
            if progress is not None:
                progress(path)
    return written
