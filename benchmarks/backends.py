"""The same workloads on every installed backend, side by side: wall seconds per simulated second.

Workloads (issue 11):

* ``rcsd``: RCSD on EI2 (100 cells) with background noise, recording spikes, voltage and
  membrane current;
* ``coba``: COBA LIF, 4,000 cells (3,200 EXC / 800 INH), 2 % connectivity (the Vogels–Abbott
  benchmark, as in ``engine_coba.py``), spikes recorded;
* ``--mpi``: RCSD on EI3 (1,000 cells) on the NEURON backend under ``mpiexec -n 1`` and ``-n 2``.

Each (backend, workload) runs in a fresh child process — so "setup" and "first run" are what a
user's new process pays (imports, build, compile or mechanism loading) — pinned to one core
unless ``--no-pin``. A backend that cannot run a workload is listed as such.

    python benchmarks/backends.py [--backends jax native neuron brian2] [--duration 1000] [--repeat 3]
                                  [--workloads rcsd coba] [--mpi [--mpi-duration 200]]
                                  [--no-pin]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

REQUIRES = {"jax": "jax", "native": "numpy", "neuron": "neuron", "brian2": "brian2"}


def child(backend: str, workload: str, duration: float, repeat: int, system: str) -> dict:
    """One (backend, workload) measurement in this process; returns the figures."""
    t0 = time.perf_counter()
    from livn.env import Env
    from livn.errors import ConfigError

    comm = None
    if workload == "mpi":
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
    try:
        if workload == "coba":
            from engine_coba import coba_env, coba_system

            path = coba_system(4000)
            t_build = time.perf_counter()
            env = coba_env(path, backend=backend)  # includes the 50 ms kick (first compile)
            n = env.system.num_neurons
            t1 = time.perf_counter()
        else:
            t_build = time.perf_counter()
            kwargs = {"comm": comm} if comm is not None and comm.size > 1 else {}
            env = Env(system, seed=1, backend=backend, **kwargs).init()
            env.apply_model_defaults()
            env.record_spikes()
            if workload == "rcsd":
                env.record_voltage()
                env.record_membrane_current()
            n = env.system.num_neurons
            t1 = time.perf_counter()
        first = env.run(duration)
        t2 = time.perf_counter()
    except ConfigError as e:
        return {"unsupported": str(e).split(";")[0]}
    times, spikes = [], []
    for _ in range(repeat):
        s = time.perf_counter()
        r = env.run(duration)
        times.append(time.perf_counter() - s)
        spikes.append(len(r.it))
    sim_s = duration / 1000.0
    import resource

    return {
        "setup_s": t1 - t0, "build_s": t1 - t_build, "first_run_s": t2 - t1,
        "wall_per_sim_s": statistics.median(times) / sim_s,
        "min": min(times) / sim_s, "max": max(times) / sim_s,
        "rate_hz": statistics.mean(spikes) / n / sim_s, "first_rate_hz": len(first.it) / n / sim_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cells": n,
    }  # fmt: skip


def _run_child(cmd: list[str], pin: bool) -> dict:
    env = dict(os.environ)
    if pin:
        env["LIVN_BENCH_PIN"] = "0"
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(lines[-1])


def _row(name: str, r: dict) -> str:
    if "unsupported" in r:
        return f"{name:<24} not supported: {r['unsupported']}"
    if "error" in r:
        return f"{name:<24} failed: {r['error']}"
    return (f"{name:<24} {r['wall_per_sim_s']:>8.2f} ({r['min']:.2f}-{r['max']:.2f})  "
            f"{r['first_run_s']:>8.2f}  {r['setup_s']:>7.2f}  {r['rate_hz']:>7.2f}  "
            f"{r['peak_rss_mb']:>7.0f}")  # fmt: skip


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=list(REQUIRES))
    parser.add_argument("--workloads", nargs="+", default=["rcsd", "coba"],
                        choices=["rcsd", "coba"])  # fmt: skip
    parser.add_argument("--duration", type=float, default=1000.0, help="ms per timed run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--system", default="EI2", help="system of the rcsd workload")
    parser.add_argument("--mpi", action="store_true", help="also NEURON on EI3, 1 and 2 ranks")
    parser.add_argument("--mpi-duration", type=float, default=200.0, help="ms per EI3 run")
    parser.add_argument("--no-pin", action="store_true", help="do not pin children to a core")
    parser.add_argument("--child", nargs=2, metavar=("BACKEND", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        pin = os.environ.get("LIVN_BENCH_PIN")
        if pin is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {int(pin)})
        out = child(*args.child, args.duration, args.repeat, args.system)
        rank = int(os.environ.get("PMI_RANK", "0"))
        if rank == 0:
            print(json.dumps(out), flush=True)
        return

    here = os.path.abspath(__file__)
    base = [sys.executable, here, "--duration", str(args.duration), "--repeat", str(args.repeat),
            "--system", args.system]  # fmt: skip
    print(f"CPU: {_cpu()}; {os.cpu_count()} cores; pinned to one core: {not args.no_pin}")
    print(f"{args.duration:g} ms per run, median of {args.repeat} runs after a first run")
    head = (f"{'backend / workload':<24} {'wall s per sim s (min-max)':<26} {'first run':>9}  "
            f"{'setup s':>7}  {'rate Hz':>7}  {'RSS MB':>7}")  # fmt: skip
    print(head)
    for workload in args.workloads:
        for backend in args.backends:
            if importlib.util.find_spec(REQUIRES[backend]) is None:
                print(f"{backend + ' / ' + workload:<24} not installed")
                continue
            r = _run_child([*base, "--child", backend, workload], not args.no_pin)
            print(_row(f"{backend} / {workload}", r), flush=True)
    if args.mpi:
        mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which(
            "mpiexec")
        if mpiexec is None:
            print("neuron / EI3 MPI          mpiexec not found (pip install 'livn[mpi]')")
            return
        for ranks in (1, 2):
            cmd = [mpiexec, "-n", str(ranks), sys.executable, here, "--duration",
                   str(args.mpi_duration), "--repeat", str(args.repeat), "--system", "EI3",
                   "--child", "neuron", "mpi"]  # fmt: skip
            r = _run_child(cmd, pin=False)
            print(_row(f"neuron / EI3, {ranks} rank{'s' * (ranks > 1)}", r), flush=True)


if __name__ == "__main__":
    main()
