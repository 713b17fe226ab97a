"""The RL benchmark (benchmarks/rl.py) and its dataset → replay-buffer conversion
(livn.integrations.replay): the transition rules on a hand-built dataset, the missing-columns
error, a sampled dataset against a LivnGym episode, and (slow set) ``--quick`` and
``--replay --quick`` end to end."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from livn.env import Env  # noqa: E402
from livn.errors import ConfigError  # noqa: E402
from livn.integrations.replay import (  # noqa: E402
    REQUIRED_COLUMNS,
    StepPulses,
    check_columns,
    dataset_transitions,
)

ROOT = Path(__file__).resolve().parents[1]
STEP = 20.0


def _membership(env) -> np.ndarray:
    """[C, N] 1 where electrode c sees cell n (the MEA's output radius), from the MEA itself."""
    members = env.io.observed_neurons(env.system.neuron_coordinates)
    m = np.zeros((env.io.num_channels, env.system.num_neurons))
    for row, c in enumerate(env.io.channel_ids):
        m[row, members[int(c)]] = 1
    return m


def _expected_torque(m: np.ndarray, gids: list[int]) -> float:
    """Pendulum's default RateDecoding by hand: rates (Hz) per electrode, mean over the 16,
    0 Hz → −2 and 100 Hz → +2, clipped."""
    counts = np.bincount(np.asarray(gids, dtype=np.int64), minlength=m.shape[1])
    rates = m @ counts / (STEP / 1000.0)
    return float(np.clip(-2.0 + 4.0 * rates.mean() / 100.0, -2.0, 2.0))


def test_hand_built_dataset_becomes_the_documented_transitions():
    env = Env("EI1")  # not initialised: the conversion needs only the system and its MEA
    m = _membership(env)
    seen = [int(g) for g in np.flatnonzero(m.sum(axis=0))]
    assert seen, "EI1's MEA observes no cell"
    c, k_steps = env.io.num_channels, 3
    rng = np.random.default_rng(0)
    # row 0: step 0 silent, step 1 four spikes (one exactly at 20.0 ms: it belongs to step 1),
    # step 2 one spike; row 1: a burst in step 0 only. Unobserved or out-of-row spikes count 0.
    rows = [
        {"seed": 7, "t_end": k_steps * STEP,
         "features": rng.uniform(0, 1, k_steps * c).astype(np.float32),
         "trial_it": [[seen[0], seen[0], seen[-1], seen[0], seen[-1]]],
         "trial_t": [[20.0, 25.5, 31.0, 39.9, 45.0]]},
        {"seed": 8, "t_end": k_steps * STEP,
         "features": rng.uniform(0, 1, k_steps * c).astype(np.float32),
         "trial_it": [[g for g in seen for _ in range(3)]],
         "trial_t": [[1.0 + i for i in range(3 * len(seen))]]},
    ]  # fmt: skip
    windows = {0: [[], [seen[0], seen[0], seen[-1], seen[0]], [seen[-1]]],
               1: [[g for g in seen for _ in range(3)], [], []]}  # fmt: skip
    data = {k: [r[k] for r in rows] for k in rows[0]}  # a dict of columns
    tr = dataset_transitions(data, "Pendulum-v1", env, step_ms=STEP)

    assert len(tr.rewards) == 2 * k_steps
    task = gym.make("Pendulum-v1")
    i = 0
    for r, row in enumerate(rows):
        obs, _ = task.reset(seed=row["seed"])
        for k in range(k_steps):
            torque = _expected_torque(m, windows[r][k])
            nxt, reward, *_ = task.step(np.array([torque], np.float32))
            np.testing.assert_allclose(tr.task_actions[i], [torque], rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(tr.obs[i], obs, rtol=1e-6)
            np.testing.assert_allclose(tr.next_obs[i], nxt, rtol=1e-6)
            assert tr.rewards[i] == pytest.approx(reward, rel=1e-6)
            np.testing.assert_array_equal(tr.actions[i], row["features"][k * c:(k + 1) * c])
            assert (tr.sample[i], tr.step[i]) == (r, k)
            assert not tr.terminated[i]
            assert tr.truncated[i] == (k == k_steps - 1)  # the row's end is a time-limit end
            obs = nxt
            i += 1
    # the windows really differ: a silent step gives the lowest torque, a burst a higher one
    assert tr.task_actions[0, 0] == -2.0 and tr.task_actions[3, 0] > -2.0
    assert tr.actions.dtype == np.float32 and tr.actions.shape == (6, c)


def test_rows_stop_at_the_tasks_time_limit():
    env = Env("EI1")
    c = env.io.num_channels
    data = [{"seed": 1, "t_end": 5 * STEP, "features": np.full(5 * c, 0.5, np.float32),
             "trial_it": [[]], "trial_t": [[]]}]  # fmt: skip
    tr = dataset_transitions(data, gym.make("Pendulum-v1", max_episode_steps=2), env)
    assert len(tr.rewards) == 2 and tr.truncated.tolist() == [False, True]


def test_missing_columns_are_named():
    cols = {"seed": [0], "t_end": [20.0], "features": [[0.0] * 16], "trial_it": [[[]]]}
    with pytest.raises(ConfigError) as e:
        dataset_transitions(cols, "Pendulum-v1", Env("EI1"))
    msg = str(e.value)
    assert "trial_t" in msg and "livn systems sample" in msg and "StepPulses" in msg
    for name in REQUIRED_COLUMNS:  # the message lists what is needed
        assert name in msg
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"index": [0], "trial_t": [[[1.0]]]})
    with pytest.raises(ConfigError, match=r"lacks the column\(s\) seed, t_end, features, trial_it "):
        dataset_transitions(ds, "Pendulum-v1", Env("EI1"))
    with pytest.raises(ConfigError, match="pass one split"):
        dataset_transitions(datasets.DatasetDict({"train": ds}), "Pendulum-v1", Env("EI1"))
    check_columns(REQUIRED_COLUMNS)  # all there: no error


def test_a_spontaneous_dataset_has_no_actions():
    data = {"seed": [0], "t_end": [40.0], "features": [[]], "trial_it": [[[]]], "trial_t": [[[]]]}
    with pytest.raises(ConfigError, match=r"features has 0 values; .* needs 2 × 16 = 32"):
        dataset_transitions(data, "Pendulum-v1", Env("EI1"))
    data["features"] = [[0.5] * 32]
    data["t_end"] = [30.0]
    with pytest.raises(ConfigError, match="not a whole number of 20-ms steps"):
        dataset_transitions(data, "Pendulum-v1", Env("EI1"))


def test_step_pulses_are_livngyms_pulses_one_step_after_another():
    from livn.integrations.gym import SpaceEncoding

    env = Env("EI1").init()
    c = env.io.num_channels
    enc = StepPulses(steps=3, step_ms=STEP, amplitude_uA=15.0, hold=2, spread=0.2)
    a = enc.sample_inputs(np.random.default_rng(3), env)
    assert a.shape == (3, c) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    assert abs(a[0].mean() - a[1].mean()) < 0.2 + 1e-6  # one level held for two steps
    stim = enc(env, 3 * STEP, a.reshape(-1))
    one = SpaceEncoding(amplitude_uA=15.0)
    want = np.concatenate([np.asarray(one(env, STEP, a[k]).array) for k in range(3)])
    np.testing.assert_array_equal(np.asarray(stim.array), want)
    with pytest.raises(ConfigError, match="stimulates 60 ms, but the run is 50 ms"):
        enc(env, 50.0, a)
    with pytest.raises(ConfigError, match=r"inputs must be \[steps=3, 16 electrodes\]"):
        enc(env, 60.0, a[:2])
    with pytest.raises(ConfigError, match="hold must be an integer >= 1"):
        StepPulses(hold=0)


def test_a_sampled_dataset_replays_a_livngym_episode(tmp_path):
    """``livn systems sample`` with StepPulses, merged and loaded as the seed does, converts to
    the transitions of a LivnGym episode (same culture seed, task seed and actions)."""
    pytest.importorskip("datasets")
    from livn.integrations.gym import LivnGym, SpaceEncoding
    from livn.integrations.replay import load_dataset
    from livn.workflows import get

    steps = 6
    job = get("sample", {"system": "EI1", "duration": steps * STEP, "samples": 2, "seed": 40,
                         "encoding": "livn.integrations.replay.StepPulses",
                         "encoding_kwargs": {"steps": steps, "amplitude_uA": 30.0, "hold": 3},
                         "record": ["spikes"], "output_directory": str(tmp_path / "ds")})  # fmt: skip
    job.launch(executor="serial")
    job.merge()  # one sample in train, one in test: load_dataset reads both
    data = load_dataset(tmp_path / "ds")
    assert len(data) == 2
    tr = dataset_transitions(data, "Pendulum-v1", "EI1", step_ms=STEP)
    assert len(tr.rewards) == 2 * steps

    culture = Env("EI1", seed=40).init()
    culture.apply_model_defaults()
    rl_env = LivnGym(gym.make("Pendulum-v1"), culture, encoding=SpaceEncoding(amplitude_uA=30.0))
    spikes = 0
    for r, row in enumerate(data):
        obs, _ = rl_env.reset(seed=row["seed"])
        rl_env.culture.clear(seed=row["seed"])  # the sample's noise seed (reset drew another)
        sel = np.flatnonzero(tr.sample == r)
        np.testing.assert_allclose(tr.obs[sel[0]], obs)
        for i in sel:
            obs, reward, _, _, info = rl_env.step(tr.actions[i])
            spikes += info["culture"]["spikes"]
            np.testing.assert_allclose(tr.task_actions[i], info["task_action"], atol=1e-6)
            np.testing.assert_allclose(tr.next_obs[i], obs, rtol=1e-5, atol=1e-6)
            assert tr.rewards[i] == pytest.approx(reward, rel=1e-5)
    assert spikes > 0  # the culture responded, so equal torques are not equal silences
    assert len(set(np.round(tr.task_actions[:, 0], 4))) > 1


# ---------------------------------------------------------------------------- the benchmark
def _benchmark():
    import importlib.util

    spec = importlib.util.spec_from_file_location("rl_benchmark", ROOT / "benchmarks" / "rl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_curve_smoothing_and_steps_to_target():
    rl = _benchmark()
    curve = [{"step": 200 * (i + 1), "return": r} for i, r in enumerate([-1500, -900, -300, -1100])]
    assert rl.smoothed([e["return"] for e in curve], 2) == [-1500, -1200, -600, -700]
    assert rl.steps_to(curve, -650, 2) == 600  # the smoothed curve first reaches it at episode 3
    assert rl.steps_to(curve, -650, 1) == 600 and rl.steps_to(curve, -1000, 1) == 400
    assert rl.steps_to(curve, -100, 2) is None


def test_fill_buffer_stores_the_transitions_as_sac_does():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import SAC

    rl = _benchmark()
    env = Env("EI1")
    c = env.io.num_channels
    rng = np.random.default_rng(1)
    rows = [{"seed": s, "t_end": 4 * STEP, "features": rng.uniform(0, 1, 4 * c),
             "trial_it": [[]], "trial_t": [[]]} for s in (3, 4)]  # fmt: skip
    tr = dataset_transitions(rows, "Pendulum-v1", env)
    args = rl.parse_args(["--quick", "--system", "EI1"])
    task = rl.make_task(args)
    space = gym.spaces.Box(0.0, 1.0, (c,), np.float32)
    model = SAC("MlpPolicy", gym.wrappers.TransformAction(task, lambda a: a[:1], space),
                buffer_size=100, device="cpu")  # fmt: skip
    assert rl.fill_buffer(model, tr) == 8
    buf = model.replay_buffer
    np.testing.assert_allclose(buf.actions[:8, 0], 2 * tr.actions - 1, rtol=1e-6)
    np.testing.assert_allclose(buf.observations[:8, 0], tr.obs)
    np.testing.assert_allclose(buf.next_observations[:8, 0], tr.next_obs)
    np.testing.assert_allclose(buf.rewards[:8, 0], tr.rewards, rtol=1e-6)
    # the last step of each row: done, as a time-limit end (bootstrapped), not a termination
    assert buf.dones[:8, 0].tolist() == [0, 0, 0, 1] * 2
    assert buf.timeouts[:8, 0].tolist() == [0, 0, 0, 1] * 2


# ---------------------------------------------------------------------------- end to end
def _rl(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "rl.py"), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=600)  # fmt: skip


TINY = ["--quick", "--steps", "60", "--episode-steps", "20", "--learning-starts", "20",
        "--eval-episodes", "1", "--out", "out"]  # fmt: skip


def _check_run(run: dict, steps: int, episode: int, culture: bool) -> None:
    assert run["steps"] == steps
    assert [e["step"] for e in run["episodes"]] == list(range(episode, steps + 1, episode))
    assert all(np.isfinite(e["return"]) and e["return"] <= 0 for e in run["episodes"])
    assert np.isfinite(run["final_smoothed_return"]) and np.isfinite(run["eval_return_mean"])
    assert run["wall_s"] > 0
    if culture:
        assert run["simulated_s"] == pytest.approx(steps * STEP / 1000)
        assert run["sim_s_per_wall_s"] > 0
        assert run["culture_sim_s_per_wall_s"] >= run["sim_s_per_wall_s"]


@pytest.mark.slow
def test_quick_and_replay_quick(tmp_path):
    p = _rl(TINY, tmp_path)
    assert p.returncode == 0, p.stderr
    out = tmp_path / "out"
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["runs"]) == {"bare", "livn"}
    for name in ("bare", "livn"):
        _check_run(json.loads((out / f"{name}.json").read_text()), 60, 20, name == "livn")
    with open(out / "curves.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["run"] for r in rows] == ["bare"] * 3 + ["livn"] * 3
    assert all(np.isfinite(float(r["return"])) for r in rows)
    assert (out / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    replay = [*TINY, "--replay", "--samples", "2", "--sample-steps", "10", "--pretrain-steps",
              "10"]
    p = _rl(replay, tmp_path)
    assert p.returncode == 0, p.stderr
    assert "livn baseline read from" in p.stdout  # same settings: the --quick run is reused
    summary = json.loads((out / "summary.json").read_text())
    rep = summary["replay"]
    assert rep["buffer_transitions"] == 2 * 10 == rep["dataset"]["transitions"]
    assert rep["dataset"]["rows"] == 2 and rep["dataset"]["built"]
    run = json.loads((out / "replay.json").read_text())
    _check_run(run, 60, 20, True)
    livn = json.loads((out / "livn.json").read_text())
    assert rep["target_return"] == livn["final_smoothed_return"]
    assert rep["steps_to_target"]["livn"] is not None
    if rep["steps_to_target"]["replay"] is not None:
        assert rep["steps_saved"] == rep["steps_to_target"]["livn"] - rep["steps_to_target"]["replay"]
    assert (Path(rep["dataset"]["path"]) / "merge.json").is_file()

    # a dataset without actions (spontaneous activity) is refused, naming what is missing
    ds = tmp_path / "spont"
    sample = [sys.executable, "-m", "livn", "systems", "sample", "system=EI2", "duration=40",
              "samples=1", 'record=["spikes"]', f"output_directory={ds}", "--launch", "--merge"]
    subprocess.run(sample, check=True, capture_output=True, timeout=300)
    p = _rl([*replay, "--dataset", str(ds)], tmp_path)
    assert p.returncode == 2
    assert "features has 0 values" in p.stderr and "StepPulses" in p.stderr
