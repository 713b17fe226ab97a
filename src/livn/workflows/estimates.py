"""What a job will cost, computed arithmetically (nothing is simulated or enumerated).

Used by the dry runs (``livn systems sample ... --dry-run``, ``livn batch ... --dry-run``) and
by the launch-time bounds of :mod:`livn.limits`.

Time: wall seconds per cell per simulated second on one CPU core, from docs/engine.md (RCSD
EI2, 100 cells: 0.85 s per simulated s; COBA LIF, 4,000 cells: 0.32 s; Izhikevich assumed like
LIF), plus a start-up (import, build, compilation) per worker process. Machines of the same
kind differ by up to 3× (docs/engine.md), so the figure is an order of magnitude, not a
promise.

Disk: spikes at ~5 Hz per cell (12 bytes each: int64 gid + float64 time) plus, when
recorded, voltage and membrane current of every recorded cell every ``record_dt`` (float32).
"""

from __future__ import annotations

__all__ = [
    "SECONDS_PER_CELL_SECOND",
    "STARTUP_S",
    "human_time",
    "recording_bytes",
    "run_seconds",
    "worker_count",
    "workers",
]

#: Wall seconds per cell per simulated second on one core, by model name.
SECONDS_PER_CELL_SECOND = {"RCSD": 0.0085, "LIF": 0.00008, "Izhikevich": 0.00008}
#: Start-up per worker process (import, build, compile), s.
STARTUP_S = 6.0
#: Assumed mean firing rate for disk estimates, Hz.
RATE_HZ = 5.0
#: Bytes per recorded spike (int64 gid + float64 time).
SPIKE_BYTES = 12


def run_seconds(model: str | None, n_cells: int, duration_ms: float) -> float:
    """Estimated wall seconds of one simulation on one core."""
    per = SECONDS_PER_CELL_SECOND.get(model or "RCSD", SECONDS_PER_CELL_SECOND["RCSD"])
    return per * n_cells * duration_ms / 1000.0


def recording_bytes(n_cells: int, duration_ms: float, record_dt: float, traces: int) -> float:
    """Estimated bytes of one trial's recording: spikes plus ``traces`` float32 traces of every
    cell (voltage, membrane current) every ``record_dt`` ms."""
    spikes = n_cells * RATE_HZ * duration_ms / 1000.0 * SPIKE_BYTES
    return spikes + traces * n_cells * (duration_ms / record_dt) * 4.0


def worker_count(units: int, processes: int | None) -> int:
    """Worker processes a local launch of ``units`` uses."""
    from livn.limits import cores

    return max(1, min(max(units, 1), processes or cores()))


def workers(executor: str, units: int, processes: int | None = None,
            nprocs_per_worker: int = 1) -> int:  # fmt: skip
    """Simulation workers a launch on ``executor`` (``local``, ``serial``, ``mpi``; resolved,
    not ``auto``) uses: 1 serially, the MPI worker groups under ``mpiexec``, else
    :func:`worker_count`."""
    if executor == "serial":
        return 1
    if executor == "mpi":
        from livn.workflows.executors import mpi_world_size

        return max(1, min(max(units, 1), (mpi_world_size() - 1) // max(1, nprocs_per_worker)))
    return worker_count(units, processes)


def human_time(s: float) -> str:
    """``95`` → ``"95 s"``, ``600`` → ``"10 min"``, ``9000`` → ``"2.5 h"``, days beyond 48 h."""
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 48 * 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:,.1f} days"
