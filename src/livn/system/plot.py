"""Drawing a system: cells by population, a sample of its synapses, and the MEA."""

from __future__ import annotations

from typing import Any

import numpy as np

from livn.errors import require

_COLORS = {"excitatory": "#d62728", "inhibitory": "#1f77b4"}


def plot_system(
    system: Any,
    mea: Any | None = None,
    show_connections: bool = True,
    show_mea: bool = True,
    max_edges: int = 5000,
    ax: Any | None = None,
    seed: int = 0,
):
    """Plot a culture seen from above (x, y in µm); needs ``livn[plot]``.

    Args:
        system: A :class:`~livn.system.System`.
        mea: An :class:`~livn.io.MEA` to draw; default: the system's ``mea.json`` if present.
        show_connections: Draw synapses as lines (red: excitatory, blue: inhibitory source).
        show_mea: Draw electrodes and their recording radius.
        max_edges: At most this many synapses are drawn, a uniform sample (``seed``).
        ax: A matplotlib Axes to draw into; default: a new figure.

    Returns:
        The matplotlib Figure.
    """
    plt = require("matplotlib.pyplot", "plot")
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Circle

    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 7))
    else:
        fig = ax.figure
    xyz = system.neuron_coordinates[:, 1:]
    info = system.population_info
    if show_connections and max_edges > 0:
        e = system.edges()
        n = len(e["pre"])
        pick = np.arange(n)
        if n > max_edges:
            pick = np.sort(np.random.default_rng(seed).choice(n, size=max_edges, replace=False))
        pops = system.populations
        pre_type = np.array([info[p].synapse_type for p in pops])[
            system.gid_population(e["pre"][pick])
        ]
        for kind, color in _COLORS.items():
            sel = pick[pre_type == kind]
            if len(sel):
                segs = np.stack([xyz[e["pre"][sel], :2], xyz[e["post"][sel], :2]], axis=1)
                ax.add_collection(
                    LineCollection(
                        segs,
                        colors=color,
                        linewidths=0.3,
                        alpha=0.25,
                        label=f"{kind} synapses",
                        zorder=1,
                    )
                )
    for name, (start, count) in system.population_ranges.items():
        pts = xyz[start : start + count]
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            s=8,
            color=_COLORS[info[name].synapse_type],
            marker="^" if info[name].synapse_type == "excitatory" else "o",
            label=f"{name} ({count})",
            zorder=3,
            edgecolors="none",
        )
    if show_mea:
        if mea is None and system.has_mea:
            from livn.io.mea import MEA

            mea = MEA.from_directory(system.uri)
        if mea is not None:
            ec = mea.electrode_coordinates
            ax.scatter(
                ec[:, 1], ec[:, 2], s=30, marker="s", color="k", label="electrodes", zorder=4
            )
            for row in ec:
                ax.add_patch(
                    Circle(
                        (row[1], row[2]),
                        mea.output_radius,
                        fill=False,
                        lw=0.6,
                        ls="--",
                        color="k",
                        zorder=2,
                    )
                )
    ax.set_aspect("equal")
    ax.autoscale_view()
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    ax.set_title(f"{system.name}: {system.num_neurons} cells, {system.num_edges} synapses")
    ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
    return fig
