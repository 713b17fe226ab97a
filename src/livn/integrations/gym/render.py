"""The ``rgb_array`` frame of a culture env: the task's frame, a spike raster of the last
:data:`~livn.integrations.gym.env.RASTER_MS` and the electrodes (matplotlib Agg, imported
here only; no pyplot, so nothing global is touched)."""

from __future__ import annotations

from typing import Any

import numpy as np

from livn.errors import require

#: Size of a frame in pixels (height, width).
FRAME_SHAPE = (240, 720)


def culture_frame(env: Any, task_frame: np.ndarray | None, history: list, last: dict,
                  duration: float) -> np.ndarray:  # fmt: skip
    """``[240, 720, 3]`` uint8: task | raster (gid over time, ms) | electrode rates (Hz).

    Args:
        env: The livn Env (its system and MEA).
        task_frame: ``[h, w, 3]`` uint8 from the task's ``render()``, or None.
        history: ``[(t0, gids, times)]`` of the last steps (times in ms of the culture).
        last: The last step: ``"stimulus"`` (electrode currents, µA) if any.
        duration: Length of a step, ms.
    """
    require("matplotlib", "plot")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    h, w = FRAME_SHAPE
    fig = Figure(figsize=(w / 80, h / 80), dpi=80)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.3, 1]})
    ax = axes[0]
    if task_frame is not None:
        ax.imshow(task_frame)
    else:
        ax.text(0.5, 0.5, "task frame: make the task\nwith render_mode='rgb_array'",
                ha="center", va="center", fontsize=7)  # fmt: skip
    ax.set_axis_off()
    ax.set_title("task", fontsize=8)

    ax = axes[1]
    n = int(env.system.num_neurons)
    if history:
        gids = np.concatenate([g for _, g, _ in history])
        times = np.concatenate([t for _, _, t in history])
        ax.scatter(times, gids, s=2, c="k", marker="|", linewidths=0.6)
        end = history[-1][0] + duration
        ax.set_xlim(max(0.0, end - len(history) * duration), end)
        for t0, _, _ in history:
            ax.axvline(t0, color="0.85", lw=0.5, zorder=0)
    ax.set_ylim(-0.5, n - 0.5)
    ax.set_xlabel("time (ms)", fontsize=7)
    ax.set_ylabel("cell", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.set_title("spikes", fontsize=8)

    ax = axes[2]
    from livn.integrations.gym.codecs import channel_rates

    coords = np.asarray(env.io.electrode_coordinates)
    rates = np.zeros(len(coords))
    if history:
        t0, gids, times = history[-1]
        rates = channel_rates(env, gids, times - t0, duration)
    stim = last.get("stimulus")
    current = np.zeros(len(coords))
    if stim is not None and getattr(stim, "space", None) == "channels":
        current = np.max(np.abs(np.asarray(stim.array)), axis=0)
    sc = ax.scatter(coords[:, 1], coords[:, 2], c=rates, cmap="viridis", vmin=0,
                    vmax=max(100.0, float(rates.max())), s=60,
                    edgecolors=np.where(current[:, None] > 0, [[0.85, 0.1, 0.1, 1.0]],
                                        [[0.6, 0.6, 0.6, 1.0]]),
                    linewidths=1.0 + 2.0 * (current / max(float(current.max()), 1e-9)))  # fmt: skip
    fig.colorbar(sc, ax=ax, fraction=0.046).ax.tick_params(labelsize=6)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("electrodes: rate (Hz), red = stimulated", fontsize=7)
    fig.tight_layout(pad=0.4)
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    return np.ascontiguousarray(rgba[..., :3])
