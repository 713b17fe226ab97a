"""SAC on Pendulum-v1 through a simulated culture (seed 001's ``python benchmarks/rl.py``).

Runs Stable-Baselines3's SAC (``pip install -e '.[rl]'``: the CPU torch wheel) on

* ``bare``: the task itself;
* ``livn``: the task through the culture — :class:`livn.integrations.gym.LivnGym` in the
  actuator role (the agent sees the pendulum and chooses one stimulation amplitude per
  electrode; the culture runs ``--step-ms`` ms; its electrode rates decode to the torque);

and with ``--replay``:

* ``replay``: ``livn`` again, with SAC's replay buffer filled from a livn dataset first (made
  by ``livn systems sample`` with :class:`livn.integrations.replay.StepPulses` unless
  ``--dataset`` names one; transitions as :mod:`livn.integrations.replay` documents), then
  ``--pretrain-steps`` gradient steps on it, then the same online training without the random
  warm-up. The ``livn`` run of the same settings is the baseline (read from ``--out`` when an
  earlier run left it there, else trained now).

The learning curve is the return of every training episode against the environment steps
taken when it ended (smoothed over ``--smooth`` episodes). Also reported: wall time, the
culture's simulated seconds per wall second, the deterministic policy's return over
``--eval-episodes`` episodes after training, and for ``--replay`` the environment steps each
run needed to reach the baseline's final smoothed return (the target) and the difference
(and, for every run, the steps to reach each of ``THRESHOLDS``).

Outputs in ``--out``: ``<run>.json`` per run, ``summary.json``, ``curves.csv`` and
``learning_curves.png``.

    python benchmarks/rl.py [--quick] [--replay] [--steps N] [--out DIR] [--dataset DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

#: Figures of --quick (and the full run's defaults).
QUICK = {"steps": 600, "learning_starts": 100, "samples": 4, "sample_steps": 50,
         "pretrain_steps": 200, "eval_episodes": 1, "smooth": 1}  # fmt: skip
#: Returns at which the summary reports the steps each run needed (Pendulum-v1's scale).
THRESHOLDS = (-1200, -1000, -800, -600, -400, -200)
FULL = {"steps": 10_000, "learning_starts": 1000, "samples": 20, "sample_steps": 200,
        "pretrain_steps": 2000, "eval_episodes": 5, "smooth": 5}  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smoke check (< 2 min on 2 cores)")
    p.add_argument("--replay", action="store_true",
                   help="pretrain from a livn dataset and compare with the livn baseline")
    p.add_argument("--steps", type=int, help="environment steps per training run")
    p.add_argument("--only", choices=["bare", "livn"], help="without --replay: one of the two runs")
    p.add_argument("--system", default="EI2")
    p.add_argument("--task", default="Pendulum-v1")
    p.add_argument("--episode-steps", type=int, default=None,
                   help="the task's time limit (default the task's own: 200 for Pendulum-v1)")
    p.add_argument("--step-ms", type=float, default=20.0, help="culture ms per environment step")
    p.add_argument("--amplitude-ua", type=float, default=20.0, help="pulse amplitude for 1, µA")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--learning-starts", type=int, help="random steps before SAC trains")
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--eval-episodes", type=int, help="deterministic episodes after training")
    p.add_argument("--smooth", type=int, help="episodes in the moving average of the curve")
    p.add_argument("--dataset", default=None,
                   help="a merged livn dataset directory or a Hugging Face dataset id (config "
                        "--system); default: sample one into --out")
    p.add_argument("--samples", type=int, help="samples of the dataset --replay builds")
    p.add_argument("--sample-steps", type=int, help="environment steps per sample")
    p.add_argument("--hold", type=int, default=5, help="steps per stimulation level (dataset)")
    p.add_argument("--pretrain-steps", type=int, help="gradient steps on the dataset")
    p.add_argument("--target", type=float, default=None,
                   help="return to reach (default: the livn baseline's final smoothed return)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--out", default="rl-results", help="output directory")
    args = p.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for key in ("steps", "samples", "sample_steps", "smooth", "hold"):
        if getattr(args, key) < 1:
            p.error(f"--{key.replace('_', '-')} must be >= 1; got {getattr(args, key)}")
    for key in ("learning_starts", "pretrain_steps", "eval_episodes"):
        if getattr(args, key) < 0:
            p.error(f"--{key.replace('_', '-')} must be >= 0; got {getattr(args, key)}")
    if args.replay and args.only:
        p.error("--only picks a run of the plain benchmark; --replay runs livn and replay")
    return args


def settings(args: argparse.Namespace, run: str) -> dict[str, Any]:
    """What determines a run's result (a saved run with equal settings is reused)."""
    s = {"task": args.task, "episode_steps": args.episode_steps, "steps": args.steps,
         "seed": args.seed, "learning_rate": args.learning_rate, "batch_size": args.batch_size,
         "learning_starts": args.learning_starts}  # fmt: skip
    if run != "bare":
        s |= {"system": args.system, "step_ms": args.step_ms, "amplitude_uA": args.amplitude_ua}
    if run == "replay":
        s |= {"dataset": args.dataset, "pretrain_steps": args.pretrain_steps,
              "learning_starts": 0}  # fmt: skip
    return s


# ---------------------------------------------------------------------------- environments
def make_task(args: argparse.Namespace):
    kwargs = {} if args.episode_steps is None else {"max_episode_steps": args.episode_steps}
    return gym.make(args.task, **kwargs)


def make_culture(args: argparse.Namespace):
    """LivnGym (actuator role) of the task on a fresh culture of ``--system``."""
    from livn.env import Env
    from livn.integrations.gym import LivnGym, RateDecoding, SpaceEncoding

    env = Env(args.system, seed=args.seed).init()
    env.apply_model_defaults()
    task = make_task(args)
    return LivnGym(task, env,
                   encoding=SpaceEncoding(amplitude_uA=args.amplitude_ua),
                   decoding=RateDecoding(duration=args.step_ms, space=task.action_space))  # fmt: skip


class Recorder(gym.Wrapper):
    """Keeps the return and end step of every episode, and the wall time spent in ``step``."""

    def __init__(self, env) -> None:
        super().__init__(env)
        self.episodes: list[dict[str, float]] = []
        self.steps = 0
        self.current = 0.0
        self.env_wall = 0.0
        self.start = time.perf_counter()
        self.recording = True

    def reset(self, **kwargs):
        self.current = 0.0
        return self.env.reset(**kwargs)

    def step(self, action):
        t0 = time.perf_counter()
        result = self.env.step(action)
        self.env_wall += time.perf_counter() - t0
        if self.recording:
            self.steps += 1
            self.current += float(result[1])
            if result[2] or result[3]:
                self.episodes.append({"step": self.steps, "return": self.current,
                                      "wall_s": time.perf_counter() - self.start})  # fmt: skip
        return result


def smoothed(returns: list[float], w: int) -> list[float]:
    """Moving average over the last ``w`` episodes (fewer at the start)."""
    r = np.asarray(returns, dtype=np.float64)
    return [float(r[max(0, i - w + 1): i + 1].mean()) for i in range(len(r))]


def steps_to(curve: list[dict[str, float]], target: float, w: int) -> int | None:
    """The environment step at which the smoothed return first reaches ``target``."""
    s = smoothed([e["return"] for e in curve], w)
    for e, v in zip(curve, s, strict=True):
        if v >= target:
            return int(e["step"])
    return None


# ---------------------------------------------------------------------------- dataset
def dataset_dir(args: argparse.Namespace, out: Path) -> Path:
    return out / (f"dataset-{args.system}-{args.samples}x{args.sample_steps}-"
                  f"{args.step_ms:g}ms-seed{args.seed + 1000}")  # fmt: skip


def sample_command(args: argparse.Namespace, directory: Path) -> list[str]:
    """``livn systems sample`` of a random agent's episodes (StepPulses), launched and merged."""
    kwargs = {"steps": args.sample_steps, "step_ms": args.step_ms,
              "amplitude_uA": args.amplitude_ua, "hold": args.hold}  # fmt: skip
    return [sys.executable, "-m", "livn", "systems", "sample", f"system={args.system}",
            f"duration={args.sample_steps * args.step_ms:g}", f"samples={args.samples}",
            f"seed={args.seed + 1000}", "encoding=livn.integrations.replay.StepPulses",
            f"encoding_kwargs={json.dumps(kwargs)}", 'record=["spikes"]',
            f"output_directory={directory}", "--launch", "--merge"]  # fmt: skip


def load_transitions(args: argparse.Namespace, out: Path) -> tuple[Any, dict[str, Any]]:
    from livn.errors import ConfigError
    from livn.integrations.replay import dataset_transitions, load_dataset

    try:
        import datasets

        datasets.disable_progress_bars()
    except ImportError:
        pass
    info: dict[str, Any] = {}
    if args.dataset is None:
        directory = dataset_dir(args, out)
        cmd = sample_command(args, directory)
        print("sampling the dataset:", " ".join(cmd[1:]), flush=True)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        info |= {"built": True, "build_wall_s": time.perf_counter() - t0,
                 "command": ["livn", *cmd[3:]]}  # fmt: skip
    else:
        directory = Path(args.dataset)
        info["built"] = False
    config = directory / "config.json"
    if config.is_file():  # a livn sampling job: its system and step must be the benchmark's
        job = json.loads(config.read_text("utf-8"))
        step = (job.get("encoding_kwargs") or {}).get("step_ms", 20.0)
        names = {str(job.get("system")), str(job.get("system_name")), Path(str(job.get("system"))).name}
        if args.system not in names and Path(args.system).name not in names:
            raise ConfigError(
                f"the dataset {directory} was sampled from {job.get('system')!r}, the benchmark "
                f"runs {args.system!r}; pass --system {job.get('system')}."
            )
        if float(step) != float(args.step_ms):
            raise ConfigError(
                f"the dataset {directory} has {step:g}-ms steps, the benchmark {args.step_ms:g} "
                f"ms; pass --step-ms {step:g}."
            )
    # a merged directory: all its samples (train+test); a Hugging Face id: its system's config
    data = load_dataset(directory, name=None if directory.is_dir() else Path(args.system).name)
    t0 = time.perf_counter()
    tr = dataset_transitions(data, make_task(args), args.system, step_ms=args.step_ms)
    info |= {"path": str(directory.resolve()), "rows": len(data), "transitions": len(tr.rewards),
             "convert_wall_s": time.perf_counter() - t0,
             "mean_return_per_step": float(np.mean(tr.rewards)) if len(tr.rewards) else None}  # fmt: skip
    return tr, info


def fill_buffer(model, tr) -> int:
    """Add the transitions to SAC's replay buffer (actions scaled to [-1, 1] as SB3 stores
    them; the end of a row as a time-limit end, so its next state is bootstrapped)."""
    actions = model.policy.scale_action(tr.actions)
    for i in range(len(tr.rewards)):
        done = bool(tr.terminated[i] or tr.truncated[i])
        infos = [{"TimeLimit.truncated": bool(tr.truncated[i] and not tr.terminated[i])}]
        model.replay_buffer.add(tr.obs[i][None], tr.next_obs[i][None], actions[i][None],
                                np.array([tr.rewards[i]]), np.array([done]), infos)  # fmt: skip
    return int(model.replay_buffer.size())


# ---------------------------------------------------------------------------- training
def train(run: str, args: argparse.Namespace, out: Path, transitions: Any = None,
          dataset: dict | None = None) -> dict[str, Any]:  # fmt: skip
    import torch
    from stable_baselines3 import SAC
    from stable_baselines3.common.logger import configure

    torch.set_num_threads(args.threads)
    env = make_task(args) if run == "bare" else make_culture(args)
    rec = Recorder(env)
    n_data = 0 if transitions is None else len(transitions.rewards)
    starts = 0 if run == "replay" else args.learning_starts
    model = SAC("MlpPolicy", rec, learning_rate=args.learning_rate,
                buffer_size=args.steps + n_data + 10, learning_starts=starts,
                batch_size=args.batch_size, seed=args.seed, device="cpu", verbose=0)  # fmt: skip
    result: dict[str, Any] = {"run": run, "settings": settings(args, run)}
    t_start = time.perf_counter()
    if run == "replay":
        result["buffer_transitions"] = fill_buffer(model, transitions)
        result["dataset"] = dataset
        t0 = time.perf_counter()
        if args.pretrain_steps:
            model.set_logger(configure(None, []))
            model.train(gradient_steps=args.pretrain_steps, batch_size=args.batch_size)
        result["pretrain_wall_s"] = time.perf_counter() - t0
    rec.start = time.perf_counter()
    rec.env_wall = 0.0
    model.learn(total_timesteps=args.steps)
    learn_wall = time.perf_counter() - rec.start
    result |= {"steps": rec.steps, "episodes": rec.episodes, "learn_wall_s": learn_wall,
               "env_wall_s": rec.env_wall, "wall_s": time.perf_counter() - t_start}  # fmt: skip
    if run != "bare":
        sim_s = rec.steps * args.step_ms / 1000.0
        result |= {"simulated_s": sim_s, "sim_s_per_wall_s": sim_s / learn_wall,
                   "culture_sim_s_per_wall_s": sim_s / rec.env_wall}  # fmt: skip
    rec.recording = False
    returns = []
    for i in range(args.eval_episodes):
        obs, _ = rec.reset(seed=args.seed + 10_000 + i)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, term, trunc, _ = rec.step(action)
            total += float(reward)
            done = term or trunc
        returns.append(total)
    result["eval_returns"] = returns
    result["eval_return_mean"] = float(np.mean(returns)) if returns else None
    s = smoothed([e["return"] for e in rec.episodes], args.smooth)
    result["final_smoothed_return"] = s[-1] if s else None
    env.close()
    (out / f"{run}.json").write_text(json.dumps(result, indent=1))
    return result


def saved_run(out: Path, run: str, args: argparse.Namespace) -> dict[str, Any] | None:
    path = out / f"{run}.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError:
        return None
    return data if data.get("settings") == settings(args, run) else None


# ---------------------------------------------------------------------------- report
def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}  # fmt: skip


def write_curves(out: Path, runs: dict[str, dict], w: int) -> None:
    with open(out / "curves.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["run", "episode", "step", "return", "smoothed", "wall_s"])
        for name, r in runs.items():
            s = smoothed([e["return"] for e in r["episodes"]], w)
            for i, (e, v) in enumerate(zip(r["episodes"], s, strict=True)):
                writer.writerow([name, i, e["step"], f"{e['return']:.3f}", f"{v:.3f}",
                                 f"{e['wall_s']:.2f}"])  # fmt: skip


def plot(out: Path, runs: dict[str, dict], w: int, target: float | None, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"bare": "tab:gray", "livn": "tab:blue", "replay": "tab:orange"}
    labels = {"bare": "SAC on the bare task", "livn": "SAC through the culture",
              "replay": "through the culture, buffer pre-filled from the dataset"}  # fmt: skip
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for name, r in runs.items():
        steps = [e["step"] for e in r["episodes"]]
        returns = [e["return"] for e in r["episodes"]]
        c = colours.get(name, None)
        ax.plot(steps, returns, "o", ms=2.5, alpha=0.35, color=c)
        ax.plot(steps, smoothed(returns, w), "-", lw=1.8, color=c, label=labels.get(name, name))
    if target is not None:
        ax.axhline(target, ls="--", lw=1, color="k", label=f"target {target:.0f}")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"episode return (mean of last {w})" if w > 1 else "episode return")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path = out / "learning_curves.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def describe(r: dict[str, Any]) -> str:
    eps = r["episodes"]
    parts = [f"{r['run']:>6}: {r['steps']} steps, {len(eps)} episodes, "
             f"final smoothed return {r['final_smoothed_return']}, "
             f"eval {r['eval_return_mean']}, wall {r['wall_s']:.1f} s"]  # fmt: skip
    if "sim_s_per_wall_s" in r:
        parts.append(f"{r['sim_s_per_wall_s']:.3f} simulated s per wall s "
                     f"({r['culture_sim_s_per_wall_s']:.3f} in the culture alone)")  # fmt: skip
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    from livn.errors import LivnError

    args = parse_args(argv)
    try:
        return run(args, argv)
    except LivnError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as e:
        print(f"error: sampling the dataset failed (exit {e.returncode}): {' '.join(e.cmd)}",
              file=sys.stderr)  # fmt: skip
        return 2


def run(args: argparse.Namespace, argv: list[str] | None) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    summary: dict[str, Any] = {"command": ["python", "benchmarks/rl.py", *(argv or sys.argv[1:])],
                               "machine": machine()}  # fmt: skip
    runs: dict[str, dict] = {}
    target = None
    if not args.replay:
        for name in ("bare", "livn"):
            if args.only in (None, name):
                print(f"training {name} ({args.steps} steps)...", flush=True)
                runs[name] = train(name, args, out)
                print(describe(runs[name]), flush=True)
        title = f"SAC on {args.task}: bare vs through {args.system}"
    else:
        transitions, dataset = load_transitions(args, out)
        print(f"dataset: {dataset['rows']} samples -> {dataset['transitions']} transitions",
              flush=True)  # fmt: skip
        baseline = saved_run(out, "livn", args)
        if baseline is None:
            print(f"training the livn baseline ({args.steps} steps)...", flush=True)
            baseline = train("livn", args, out)
        else:
            print(f"livn baseline read from {out / 'livn.json'}", flush=True)
        bare = saved_run(out, "bare", args)
        if bare is not None:  # an earlier plain run of the same settings: drawn for reference
            runs["bare"] = bare
        runs["livn"] = baseline
        print(describe(baseline), flush=True)
        print(f"training replay ({args.steps} steps)...", flush=True)
        runs["replay"] = train("replay", args, out, transitions, dataset)
        print(describe(runs["replay"]), flush=True)
        target = args.target if args.target is not None else baseline["final_smoothed_return"]
        reach = {name: steps_to(runs[name]["episodes"], target, args.smooth)
                 if target is not None else None for name in ("livn", "replay")}  # fmt: skip
        saved = (reach["livn"] - reach["replay"]
                 if reach["livn"] is not None and reach["replay"] is not None else None)  # fmt: skip
        summary["replay"] = {"target_return": target, "steps_to_target": reach,
                             "steps_saved": saved, "dataset": dataset,
                             "buffer_transitions": runs["replay"]["buffer_transitions"]}  # fmt: skip
        print(f"target return {target}: livn reaches it at {reach['livn']}, replay at "
              f"{reach['replay']} steps; steps saved: {saved}", flush=True)  # fmt: skip
        title = f"SAC on {args.task} through {args.system}: with and without the dataset"
    summary["runs"] = {name: {k: v for k, v in r.items() if k != "episodes"}
                       for name, r in runs.items()}  # fmt: skip
    # environment steps at which each smoothed curve first reaches a ladder of returns
    summary["steps_to_return"] = {f"{th:g}": {name: steps_to(r["episodes"], th, args.smooth)
                                              for name, r in runs.items()}
                                  for th in THRESHOLDS}  # fmt: skip
    summary["wall_s"] = time.perf_counter() - t0
    write_curves(out, runs, args.smooth)
    png = plot(out, runs, args.smooth, target, title)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"wrote {out / 'summary.json'}, {out / 'curves.csv'}, {png} "
          f"({summary['wall_s']:.0f} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
