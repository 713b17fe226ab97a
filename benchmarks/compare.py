"""livn's engines against the references a user would otherwise pick, side by side, one run.

COBA LIF, 4,000 cells (Vogels & Abbott 2005; Brette et al. 2007 benchmark 1), 1 s simulated:

* ours: ``benchmarks/engine_coba.py``'s network (3,200 EXC / 800 INH, 2 %, Δg_e 6 nS,
  Δg_i 67 nS, τ_m 20 ms, dt 0.1 ms) on each of ``--backends`` (default: native, the default
  on a CPU, and jax), in a fresh process: start-up (imports,
  build, Env, compile, the 50 ms kick and a first run) with a cold compilation cache and again
  in a second process with it warm, and wall seconds per simulated second (median of
  ``--repeat``);
* Brian2 ``cpp_standalone``: the same model written in Brian2's own equations (the canonical
  COBA script: random initial voltages start the self-sustained activity), built and compiled
  by Brian2 (excluded from its run time, reported as its start-up) and run by its binary; its
  simulation time is Brian2's own measure of its runs (``device._last_run_time``, scaled to the
  timed second: its binary also runs the 50 ms of random current that starts the activity, as
  ours does). Both report their rate, so the work compared is visible.

Prints both, the ratio of steady run times (ours / Brian2: ≤ 1 means ours is faster) and of
start-up (ours / Brian2's compile). Brian2 runs in ``--brian2-python`` (a venv with
``livn[brian2]``; default: this Python, skipped if it has no brian2). Each side runs pinned to
one core unless ``--no-pin``.

EI2 RCSD against the published livn 2.0.0's native backend (``LIVN_BACKEND=native``, its C
implementation), in the same invocation, on the same 100-cell culture: the predefined EI2 with
its tuned weights, noise and MEA, exported by ``livn.system.convert`` to a 2.0.0 directory
that both sides load. Each side records spikes, voltage and membrane current with the tuned
noise on (2.0.0: ``apply_default_params()`` plus the population-prefixed noise of
``params/RCSD.json`` through ``set_noise``; ours: ``apply_model_defaults()``) and runs
``run(1000)`` in fresh processes pinned to core 1 (``taskset -c 1``):

* first ``run(1000)`` wall from process start to result (ours with a cold compilation cache,
  ``LIVN_CACHE_DIR`` a fresh directory, then in a second process with it warm);
* steady ``run(1000)`` (median of ``--repeat`` after the first);
* the steady timing again under load, one ``while True: pass`` process pinned to each core,
  and the slowdown factor of each side.

Targets (issue 12): steady ≥ 20× faster than native, first run ≥ 8× faster, warm start
≤ 1.5 s, slowdown under load no worse than native's. 2.0.0 runs in ``--livn200-python``
(a Python with livn 2.0.0 installed; the EI2 section is skipped without it).

    python benchmarks/compare.py [--brian2-python PATH] [--livn200-python PATH]
                                 [--only coba|ei2] [--repeat 3] [--no-pin]
                                 [--backends native jax]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

BRIAN2_COBA = textwrap.dedent("""
    import json, shutil, sys, time, tempfile
    t0 = time.perf_counter()
    from brian2 import (NeuronGroup, Synapses, SpikeMonitor, defaultclock, device, mV, ms,
                        run, second, set_device, seed)
    build_dir = tempfile.mkdtemp(prefix="coba-b2-")  # a fresh build: Brian2 compiles it all
    set_device("cpp_standalone", directory=build_dir, build_on_run=False)
    seed(1)
    taum, taue, taui = 20 * ms, 5 * ms, 10 * ms
    Vt, Vr, El = -50 * mV, -60 * mV, -60 * mV
    Ee, Ei = 0 * mV, -80 * mV
    eqs = '''dv/dt = (ge*(Ee-v) + gi*(Ei-v) - (v-El) + I) / taum : volt (unless refractory)
             dge/dt = -ge/taue : 1
             dgi/dt = -gi/taui : 1
             I : volt (constant)'''
    defaultclock.dt = 0.1 * ms
    P = NeuronGroup(4000, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms,
                    method="exponential_euler")
    P.v = "Vr + rand() * (Vt - Vr)"
    Ce = Synapses(P[:3200], P, on_pre="ge += 0.6")   # 6 nS / g_L 10 nS
    Ci = Synapses(P[3200:], P, on_pre="gi += 6.7")   # 67 nS / g_L 10 nS
    Ce.connect(p=0.02)
    Ci.connect(p=0.02)
    P.I = "rand() * 30 * mV"  # 50 ms of random current (0-0.3 nA / g_L), as ours
    run(50 * ms)
    P.I = 0 * mV
    spikes = SpikeMonitor(P)
    run(float(sys.argv[1]) * second)
    t_build = time.perf_counter()
    device.build(directory=build_dir, run=False, compile=True)
    t_compiled = time.perf_counter()
    device.run()
    t_end = time.perf_counter()
    seconds = float(sys.argv[1])
    rate = spikes.num_spikes / 4000 / seconds
    shutil.rmtree(build_dir, ignore_errors=True)
    print(json.dumps({"startup_s": t_compiled - t0, "compile_s": t_compiled - t_build,
                      "run_s": device._last_run_time * seconds / (seconds + 0.05),
                      "process_run_s": t_end - t_compiled,
                      "rate_hz": rate}))
""")

OURS_COBA = textwrap.dedent("""
    import json, statistics, sys, time
    t0 = time.perf_counter()
    sys.path.insert(0, sys.argv[3])
    from engine_coba import coba_env, coba_system
    env = coba_env(coba_system(4000))
    duration = float(sys.argv[1]) * 1000.0
    env.run(duration)  # the first run (compiles the free-run program)
    t_ready = time.perf_counter()
    times, spikes = [], 0
    for _ in range(int(sys.argv[2])):
        s = time.perf_counter()
        spikes += len(env.run(duration).it)
        times.append(time.perf_counter() - s)
    print(json.dumps({"startup_s": t_ready - t0, "run_s": statistics.median(times),
                      "rate_hz": spikes / 4000 / (duration / 1000.0) / len(times)}))
""")


def _child(python: str, code: str, args: list[str], pin: bool, **env: str) -> dict:
    cmd = [python, "-c", code, *args]
    if pin and hasattr(os, "sched_getaffinity"):
        cpu = sorted(os.sched_getaffinity(0))[-1]
        cmd = ["taskset", "-c", str(cpu), *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(lines[-1])


def _has_brian2(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import brian2"], capture_output=True)
    return probe.returncode == 0


# ------------------------------------------------------------------------------ EI2 vs 2.0.0

# Runs under the published livn 2.0.0 (its public API only): argv = system dir, repeat.
LIVN200_EI2 = textwrap.dedent("""
    import json, os, statistics, sys, time
    from livn.env import Env
    path, repeat = sys.argv[1], int(sys.argv[2])
    env = Env(path).init()
    env.apply_default_params()  # params/default.json: tuned weights and noise
    with open(os.path.join(path, "params", "RCSD.json")) as f:
        noise = json.load(f)["noise"]
    env.set_noise({k: v for k, v in noise.items() if "-" in k})  # per population (EXC-g_e0)
    env.record_spikes()
    env.record_voltage()
    env.record_membrane_current()
    t_ready = time.time()
    r = env.run(1000.0)
    t_first = time.time()
    times, spikes = [], []
    for _ in range(repeat):
        s = time.perf_counter()
        r = env.run(1000.0)
        times.append(time.perf_counter() - s)
        spikes.append(len(r[0]))
    print(json.dumps({"ready": t_ready, "first": t_first, "steady": times, "spikes": spikes,
                      "v_rows": int(r[3].shape[0]), "i_rows": int(r[5].shape[0]),
                      "n": int(env.system.num_neurons)}))
""")

# Runs under this livn (the Env default backend): argv = system dir, repeat.
OURS_EI2 = textwrap.dedent("""
    import json, statistics, sys, time
    from livn.env import Env
    path, repeat = sys.argv[1], int(sys.argv[2])
    env = Env(path).init()
    env.apply_model_defaults()  # params/RCSD.json: tuned weights and noise
    env.record_spikes()
    env.record_voltage()
    env.record_membrane_current()
    t_ready = time.time()
    r = env.run(1000.0)
    t_first = time.time()
    times, spikes = [], []
    for _ in range(repeat):
        s = time.perf_counter()
        r = env.run(1000.0)
        times.append(time.perf_counter() - s)
        spikes.append(len(r.it))
    print(json.dumps({"ready": t_ready, "first": t_first, "steady": times, "spikes": spikes,
                      "v_rows": int(r.v.shape[0]), "i_rows": int(r.mp.shape[0]),
                      "n": int(env.system.num_neurons), "backend": env.backend}))
""")


def _pinned(cmd: list[str], core: int | None) -> list[str]:
    return cmd if core is None else ["taskset", "-c", str(core), *cmd]


def _timed(python: str, code: str, args: list[str], core: int | None, **env: str) -> dict:
    """Run ``code`` in a fresh process; adds ``launch`` (time.time() just before the start)."""
    launch = time.time()
    proc = subprocess.run(_pinned([python, "-c", code, *args], core), capture_output=True,
                          text=True, env={**os.environ, **env})  # fmt: skip
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip().splitlines()[-6:] or ["failed (no output)"]
        return {"error": " | ".join(tail)}
    out = json.loads(lines[-1])
    out["launch"] = launch
    return out


class _Load:
    """One busy-loop process pinned to each core (``python -c "while True: pass"``)."""

    def __enter__(self):
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.procs = [
            subprocess.Popen(_pinned([sys.executable, "-c", "while True: pass"], c))
            for c in cores or range(os.cpu_count() or 1)
        ]
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _describe(label: str, r: dict) -> str:
    rate = _median(r["spikes"]) / r["n"]
    return (
        f"  {label:<28} first run(1000) {r['first'] - r['launch']:6.2f} s from process start "
        f"(ready {r['ready'] - r['launch']:5.2f} s), steady {_median(r['steady']):6.3f} s, "
        f"{rate:5.2f} Hz/cell, recorded {r['v_rows']} voltage / {r['i_rows']} current rows"
    )


def compare_ei2(livn200: str | None, repeat: int, pin: bool, backends: list[str]) -> None:
    """The EI2 section (see the module docstring)."""
    print("EI2 RCSD (100 cells), tuned noise, spikes + voltage + current, run(1000) ms")
    if not livn200 or not os.path.exists(livn200):
        print(
            f"  livn 2.0.0 native: skipped (--livn200-python {livn200 or 'PATH'} is not a Python "
            "with livn 2.0.0 installed)"
        )
        return
    from livn.system.convert import convert

    core = None
    if pin and hasattr(os, "sched_getaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        core = 1 if 1 in cores else cores[-1]
    print(f"  each side pinned to core {core}" if core is not None else "  not pinned")
    work = tempfile.mkdtemp(prefix="livn-compare-ei2-")
    try:
        system = convert("EI2", os.path.join(work, "EI2"), format="2.0.0")
        args = [system, str(repeat)]
        native = _timed(livn200, LIVN200_EI2, args, core, LIVN_BACKEND="native")
        if "error" in native:
            print(f"  livn 2.0.0 native: failed: {native['error']}")
            return
        print(_describe("livn 2.0.0 native (C):", native))
        steady_n = _median(native["steady"])
        first_n = native["first"] - native["launch"]
        ours = {}
        for backend in backends:
            cache = os.path.join(work, f"cache-{backend}")
            env = {"LIVN_CACHE_DIR": cache, "LIVN_BACKEND": backend}
            cold = _timed(sys.executable, OURS_EI2, args, core, **env)
            warm = _timed(sys.executable, OURS_EI2, args, core, **env)
            if "error" in cold or "error" in warm:
                print(f"  livn ({backend}): failed: {cold.get('error') or warm.get('error')}")
                continue
            print(_describe(f"livn ({backend}), cold cache:", cold))
            print(_describe(f"livn ({backend}), warm cache:", warm))
            ours[backend] = (cold, warm, env)
        with _Load():
            native_l = _timed(livn200, LIVN200_EI2, args, core, LIVN_BACKEND="native")
            loaded = {b: _timed(sys.executable, OURS_EI2, args, core, **env)
                      for b, (_c, _w, env) in ours.items()}  # fmt: skip
        for backend, (cold, warm, _env) in ours.items():
            steady_o = _median(warm["steady"] + cold["steady"])
            first_o = cold["first"] - cold["launch"]
            warm_start = warm["first"] - warm["launch"] - _median(warm["steady"])
            print(f"  livn ({backend}):")
            print(f"    steady: native / ours {steady_n / steady_o:6.1f}x (target >= 20x)")
            print(
                f"    first run(1000) in a fresh process: native / ours (cold cache) "
                f"{first_n / first_o:5.1f}x (target >= 8x); warm cache "
                f"{first_n / (warm['first'] - warm['launch']):5.1f}x"
            )
            print(
                f"    warm-cache start (process start to first result, less one steady run): "
                f"{warm_start:.2f} s (target <= 1.5 s); ready (Env built) after "
                f"{warm['ready'] - warm['launch']:.2f} s"
            )
            ours_l = loaded[backend]
            if "error" in native_l or "error" in ours_l:
                print(f"    under load: failed: {native_l.get('error') or ours_l.get('error')}")
                continue
            slow_n = _median(native_l["steady"]) / steady_n
            slow_o = _median(ours_l["steady"]) / steady_o
            print(
                f"    under load (a busy loop on each core): steady native "
                f"{_median(native_l['steady']):.3f} s (x{slow_n:.2f}), ours "
                f"{_median(ours_l['steady']):.3f} s (x{slow_o:.2f}); slowdown ours / native "
                f"{slow_o / slow_n:.2f} (target <= 1)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brian2-python", default=sys.executable)
    parser.add_argument(
        "--livn200-python", default=None, help="a Python with the published livn 2.0.0"
    )
    parser.add_argument("--only", choices=("coba", "ei2"), default=None, help="one section")
    parser.add_argument("--seconds", type=float, default=1.0, help="simulated s per run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--backends", nargs="+", default=["native", "jax"],
                        help="our backends to measure (default: native jax)")  # fmt: skip
    args = parser.parse_args()
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                   if ln.startswith("model name"))  # fmt: skip
    except (OSError, StopIteration):
        pass
    pin = not args.no_pin
    print(f"CPU: {cpu}; {os.cpu_count()} cores; each side pinned to one core: {pin}")
    if args.only != "coba":
        compare_ei2(args.livn200_python, args.repeat, pin, args.backends)
    if args.only != "ei2":
        compare_coba(args, pin)


def compare_coba(args: argparse.Namespace, pin: bool) -> None:
    """The COBA section (see the module docstring)."""
    here = os.path.dirname(os.path.abspath(__file__))
    print(f"COBA LIF 4,000, {args.seconds:g} s simulated per run")
    ours_args = [str(args.seconds), str(args.repeat), here]
    results = {}
    for backend in args.backends:
        cache = tempfile.mkdtemp(prefix="livn-compare-")  # a fresh cache: cold, then warm
        env = {"LIVN_CACHE_DIR": cache, "LIVN_BACKEND": backend}
        ours = _child(sys.executable, OURS_COBA, ours_args, pin, **env)
        warm = _child(sys.executable, OURS_COBA, ours_args, pin, **env)
        shutil.rmtree(cache, ignore_errors=True)
        if "error" in ours or "error" in warm:
            print(f"  livn ({backend}): failed: {ours.get('error') or warm.get('error')}")
            continue
        results[backend] = ours
        print(
            f"  livn ({backend + '):':<8} run {ours['run_s'] / args.seconds:6.2f} s per "
            f"simulated s, start-up {ours['startup_s']:6.2f} s (a second process, cache warm: "
            f"{warm['startup_s']:.2f} s), {ours['rate_hz']:.1f} Hz"
        )
    if not _has_brian2(args.brian2_python):
        print(
            f"  brian2 cpp_standalone:   not installed in {args.brian2_python} "
            "(--brian2-python PATH of a venv with livn[brian2])"
        )
        return
    b2 = _child(args.brian2_python, BRIAN2_COBA, [str(args.seconds)], pin)
    if "error" in b2:
        print(f"  brian2 cpp_standalone:   failed: {b2['error']}")
        return
    print(
        f"  brian2 cpp_standalone:   run {b2['run_s'] / args.seconds:6.2f} s per simulated s, "
        f"start-up {b2['startup_s']:6.2f} s (compile {b2['compile_s']:.2f} s), "
        f"{b2['rate_hz']:.1f} Hz"
    )
    for backend, ours in results.items():
        print(
            f"  ratio livn ({backend}) / brian2: steady run {ours['run_s'] / b2['run_s']:.2f} "
            f"(target ≤ 1.0), start-up (cold cache) / Brian2's compile "
            f"{ours['startup_s'] / b2['compile_s']:.2f} (target ≤ 0.2)"
        )


if __name__ == "__main__":
    main()
