"""livn's JAX engine against the reference a user would otherwise pick, side by side, one run.

COBA LIF, 4,000 cells (Vogels & Abbott 2005; Brette et al. 2007 benchmark 1), 1 s simulated:

* ours: ``benchmarks/engine_coba.py``'s network (3,200 EXC / 800 INH, 2 %, Δg_e 6 nS,
  Δg_i 67 nS, τ_m 20 ms, dt 0.1 ms) on the JAX engine, in a fresh process: start-up (imports,
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

    python benchmarks/compare.py [--brian2-python PATH] [--repeat 3] [--no-pin]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brian2-python", default=sys.executable)
    parser.add_argument("--seconds", type=float, default=1.0, help="simulated s per run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-pin", action="store_true")
    args = parser.parse_args()
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                   if ln.startswith("model name"))  # fmt: skip
    except (OSError, StopIteration):
        pass
    pin = not args.no_pin
    print(f"CPU: {cpu}; {os.cpu_count()} cores; each side pinned to one core: {pin}")
    here = os.path.dirname(os.path.abspath(__file__))
    cache = tempfile.mkdtemp(prefix="livn-compare-")  # a fresh compilation cache: cold, then warm
    ours_args = [str(args.seconds), str(args.repeat), here]
    ours = _child(sys.executable, OURS_COBA, ours_args, pin, LIVN_CACHE_DIR=cache)
    warm = _child(sys.executable, OURS_COBA, ours_args, pin, LIVN_CACHE_DIR=cache)
    shutil.rmtree(cache, ignore_errors=True)
    print(f"COBA LIF 4,000, {args.seconds:g} s simulated per run")
    if "error" in ours or "error" in warm:
        print(f"  livn (jax): failed: {ours.get('error') or warm.get('error')}")
        return
    print(f"  livn (jax):              run {ours['run_s'] / args.seconds:6.2f} s per simulated s, "
          f"start-up {ours['startup_s']:6.2f} s (a second process, cache warm: "
          f"{warm['startup_s']:.2f} s), {ours['rate_hz']:.1f} Hz")
    if not _has_brian2(args.brian2_python):
        print(f"  brian2 cpp_standalone:   not installed in {args.brian2_python} "
              "(--brian2-python PATH of a venv with livn[brian2])")
        return
    b2 = _child(args.brian2_python, BRIAN2_COBA, [str(args.seconds)], pin)
    if "error" in b2:
        print(f"  brian2 cpp_standalone:   failed: {b2['error']}")
        return
    print(f"  brian2 cpp_standalone:   run {b2['run_s'] / args.seconds:6.2f} s per simulated s, "
          f"start-up {b2['startup_s']:6.2f} s (compile {b2['compile_s']:.2f} s), "
          f"{b2['rate_hz']:.1f} Hz")
    print(f"  ratio livn / brian2:     steady run {ours['run_s'] / b2['run_s']:.2f} "
          f"(target ≤ 1.0), start-up (cold cache) / Brian2's compile "
          f"{ours['startup_s'] / b2['compile_s']:.2f} (target ≤ 0.2)")


if __name__ == "__main__":
    main()
