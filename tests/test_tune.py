"""Tuning studies (``livn.workflows.tune``, ``livn systems tune``) and derived model defaults.

The main study runs on a copy of EI1 (a user system directory): a first launch in its own
process is killed with SIGKILL while a trial runs, the same command resumes it here, and the
journal must then hold the trials of both launches, each complete trial a distinct point, the
killed trial failed, and exactly ``trials`` complete ones.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from livn.errors import ConfigError

pytest.importorskip("optuna")

TRIALS = 10
STUDY = {"weights": 1, "trials": TRIALS, "population_size": 4, "duration": 400,
         "warmup": 100, "seeds": 2, "seed": 0}  # fmt: skip


def _args(config: dict) -> list[str]:
    return [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in config.items()]


def _cli(*argv: str) -> tuple[int, str]:
    from livn.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(list(argv))
    return rc, out.getvalue()


def _load(directory: Path):
    import optuna

    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(directory / "journal.log"))
    )
    return optuna.load_study(study_name="livn-tune", storage=storage)


def _states(directory: Path) -> dict[str, list]:
    out: dict[str, list] = {}
    if not (directory / "journal.log").is_file():
        return out
    try:
        study = _load(directory)
    except KeyError:  # no study in the journal yet
        return out
    for t in study.get_trials(deepcopy=False):
        out.setdefault(t.state.name, []).append(t)
    return out


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """A 10-trial study on a copy of EI1: launched, SIGKILLed mid-trial, resumed."""
    from livn.system import predefined

    root = tmp_path_factory.mktemp("tune")
    system = root / "ei1"
    shutil.copytree(predefined("EI1"), system)
    study = root / "study"
    config = {"system": str(system), **STUDY, "output_directory": str(study)}
    cmd = [sys.executable, "-m", "livn", "systems", "tune", *_args(config), "--launch",
           "--executor", "serial"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    try:
        while True:  # until 2 trials are complete and a third one runs
            states = _states(study)
            running = [t for t in states.get("RUNNING", [])  # simulating (asked, worker set)
                       if t.number >= 2 and t.user_attrs.get("worker")]
            if len(states.get("COMPLETE", [])) >= 2 and running:
                break
            assert proc.poll() is None, "the first launch ended before it could be killed"
            assert time.monotonic() < deadline, "no trial completed in time"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    before = _states(study)
    rc, text = _cli("systems", "tune", f"output_directory={study}", "--launch",
                    "--executor", "serial")  # fmt: skip
    assert rc == 0, text
    return {"system": system, "study": study, "killed_pid": proc.pid, "before": before,
            "text": text, "config": config}  # fmt: skip


def test_study_resumes_after_sigkill_without_repeating_trials(killed_and_resumed):
    r = killed_and_resumed
    before, after = r["before"], _states(r["study"])
    killed = {t.number for t in before.get("RUNNING", [])}
    assert killed and "abandoned trial" in r["text"]
    complete = after["COMPLETE"]
    numbers = [t.number for t in complete]
    assert len(complete) == TRIALS and len(set(numbers)) == TRIALS
    # the trials the first launch finished are kept, not run again
    assert {t.number for t in before["COMPLETE"]} <= set(numbers)
    # the killed trial is failed (abandoned), not counted and not re-run under its number
    failed = after.get("FAIL", [])
    assert {t.number for t in failed} == killed
    assert all(t.system_attrs.get("livn_abandoned") for t in failed)
    assert not after.get("RUNNING")
    # trials of both launches: the killed process and this one
    pids = {t.user_attrs["worker"]["pid"] for t in complete}
    assert pids == {r["killed_pid"], os.getpid()}
    # every complete trial is a distinct point
    points = {tuple(sorted(t.params.items())) for t in complete}
    assert len(points) == TRIALS
    # the noise of trial n is seeded by its number: seeds 0 + n * 2 + k
    assert all(set(t.params) == {"w:EXC->EXC", "w:EXC->INH", "w:INH->EXC"} for t in complete)


def test_study_improves_on_its_first_trial(killed_and_resumed):
    complete = _states(killed_and_resumed["study"])["COMPLETE"]
    first = min(complete, key=lambda t: t.number)
    best = min(sum(t.values) for t in complete)
    assert first.number == 0
    assert best < sum(first.values), [(t.number, sum(t.values)) for t in complete]


def test_inspect_prints_the_front_and_a_command_that_validates(killed_and_resumed, tmp_path):
    study = killed_and_resumed["study"]
    rc, text = _cli("systems", "tune", f"output_directory={study}", "--inspect")
    assert rc == 0
    front = sorted(_load(study).best_trials, key=lambda t: (sum(t.values), t.number))
    assert f"Pareto front: {len(front)} of {TRIALS} complete trials" in text
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Pareto front")) + 2
    rows = [line.split() for line in lines[start : start + len(front)]]
    assert [row[0].rstrip("*") for row in rows] == [str(t.number) for t in front]
    assert rows[0][0].endswith("*")  # the chosen trial: lowest total distance
    assert [float(row[1]) for row in rows] == pytest.approx(
        [sum(t.values) for t in front], abs=1e-3
    )
    i = lines.index("Continue with the noise stage using these weights:")
    argv = shlex.split(lines[i + 1])
    assert argv[:3] == ["livn", "systems", "tune"] and argv[-1] == "--launch"
    assert "weights=0" in argv and "noise=1" in argv
    scales = json.loads(next(a for a in argv if a.startswith("weight_scales="))[14:])
    assert scales == pytest.approx(
        {k[2:]: v for k, v in front[0].params.items()}, rel=1e-5
    )
    noise_dir = tmp_path / "noise_stage"
    argv = [a if not a.startswith("output_directory=") else f"output_directory={noise_dir}"
            for a in argv[1:-1]]  # fmt: skip
    rc, dry = _cli(*argv, "--dry-run")
    assert rc == 0 and "Dry run of a tuning study" in dry and "noise of 4 group(s)" in dry
    assert not noise_dir.exists()
    # --plot writes the PNG
    rc, text = _cli("systems", "tune", f"output_directory={study}", "--plot",
                    str(tmp_path / "front.png"))  # fmt: skip
    assert rc == 0 and (tmp_path / "front.png").stat().st_size > 1000


def test_a_different_study_in_the_directory_is_refused(killed_and_resumed):
    from livn.workflows.tune import Tune

    r = killed_and_resumed
    study = r["study"]
    listing = sorted(p.name for p in study.iterdir())
    journal = (study / "journal.log").read_bytes()
    config = (study / "config.json").read_bytes()
    for change in ({"weight_range": 8.0}, {"noise": 1}, {"duration": 500}, {"seed": 1}):
        with pytest.raises(ConfigError, match="different tuning study"):
            Tune({**r["config"], **change}).plan()
        rc = _cli("systems", "tune", *_args({**r["config"], **change}), "--launch")[0]
        assert rc == 2
    # keys given with --inspect must not change the study either
    with pytest.raises(ConfigError, match=r"differs in .*weight_range"):
        Tune.open(study, weight_range=8.0).inspect()
    assert sorted(p.name for p in study.iterdir()) == listing
    assert (study / "journal.log").read_bytes() == journal
    assert (study / "config.json").read_bytes() == config
    # a larger trials extends the same study (a runtime key): plan says what would run
    plan = Tune({**r["config"], "trials": TRIALS + 3}).plan()
    assert plan["complete"] == TRIALS and plan["todo"] == 3


# after the tests above: promoting changes the system's defaults, so the study's base
def test_promote_writes_params_that_env_applies(killed_and_resumed):
    from livn.env import Env
    from livn.workflows.tune import Tune

    r = killed_and_resumed
    system = r["system"]
    params_file = system / "params" / "RCSD.json"
    shipped = json.loads(params_file.read_text())
    job = Tune.open(r["study"])
    chosen = job.choose()
    with pytest.raises(ConfigError, match="--overwrite"):
        job.promote()  # the copy of EI1 has its own tuned params/RCSD.json
    assert json.loads(params_file.read_text()) == shipped
    rc, text = _cli("systems", "tune", f"output_directory={r['study']}", "--promote",
                    "--overwrite")  # fmt: skip
    assert rc == 0 and f"trial {chosen.number}" in text
    written = json.loads(params_file.read_text())
    assert json.loads((system / "params" / "RCSD.previous.json").read_text()) == shipped
    assert written == job.point(chosen.number)
    env = Env(str(system)).init()
    assert env.model_defaults() == written
    env.apply_model_defaults()
    key = "EXC_EXC-dendrite-AMPA-weight"
    factor = chosen.params["w:EXC->EXC"]
    assert written["weights"][key] == pytest.approx(shipped["weights"][key] * factor, rel=1e-5)
    rc, text = _cli("systems", "inspect", str(system))
    assert "Model defaults (RCSD): tuned" in text


def test_predefined_system_promote_prints_the_defaults_block(tmp_path):
    """A predefined system's directory is rebuilt from its config: nothing is written."""
    import yaml

    from livn.system import make
    from livn.system.predefined import resolve_defaults
    from livn.workflows import get

    before = make("EI1")
    params_file = Path(before.uri) / "params" / "RCSD.json"
    shipped = params_file.read_bytes()
    job = get("tune", {"system": "EI1", "weights": 0, "noise": 1, "trials": 1, "duration": 50,
                       "warmup": 0, "seeds": 1, "output_directory": str(tmp_path / "s")})  # fmt: skip
    job.launch(executor="serial")
    rc, text = _cli("systems", "tune", f"output_directory={tmp_path / 's'}", "--promote")
    assert rc == 0 and "nothing was written" in text
    assert params_file.read_bytes() == shipped
    block = yaml.safe_load(text[text.index("defaults:") :])["defaults"]["RCSD"]
    resolved = resolve_defaults(before.graph, block)
    point = job.point()
    assert resolved["weights"] == pytest.approx(point["weights"])
    assert resolved["noise"] == pytest.approx(point["noise"])
    assert {k for k in point["noise"] if k.startswith("EXC-")} >= {"EXC-g_e0", "EXC-g_i0"}


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"weights": 1.0}, "weights.*must be 0 or 1"),
        ({"weights": "yes"}, "weights.*must be 0 or 1"),
        ({"noise": 2}, "noise.*must be 0 or 1"),
        ({"weights": 0, "noise": 0}, "nothing to tune"),
        ({"trials": 0}, "trials"),
        ({"trials": 10.0}, "trials.*integer"),
        ({"seeds": True}, "seeds.*integer"),
        ({"duration": float("nan")}, "duration.*finite"),
        ({"weight_range": 1.0}, "weight_range"),
        ({"trails": 5}, "unknown key 'trails'.*Did you mean 'trials'"),
        ({"weight_scales": {"EXC->GLIA": 2.0}}, "weight_scales: unknown key 'EXC->GLIA'"),
        ({"weight_scales": {"EXC->INH": -1.0}}, "must be > 0"),
        ({"noise_scales": {"EXC-x": 2.0}}, "noise_scales: unknown key"),
        ({"system": "EI9"}, "EI9"),
        ({"targets": {"rates": {"goal": 4}}}, "unknown statistic 'rates'.*Did you mean 'rate'"),
        ({"targets": {"rate": {"goal": 4, "maxx": 8}}}, "unknown key 'maxx'"),
        ({"targets": {"rate": {"scale": "log"}}}, "needs a goal, a min or a max"),
        ({"targets": {"isi_cv": {"min": 1, "max": 0.5}}}, "min 1 > max 0.5"),
        ({"targets": "/no/such/targets.yml"}, "cannot read targets file"),
        ({"stimulate": 1, "targets": {"rate": {"goal": 4}}}, "needs a 'response' target"),
        ({"stimulate": 1, "duration": 40}, "response stimulus"),
        ({"duration": 0.001}, "duration"),
        ({"seed": 2**32 - 5}, "exceeds the largest seed"),
        ({"processes": 10_000}, "processes"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(tmp_path, change, match):
    from livn.workflows.tune import Tune

    out = tmp_path / "study"
    config = {"system": "EI1", **STUDY, "output_directory": str(out), **change}
    with pytest.raises(ConfigError, match=match):
        Tune(config).plan()
    rc = _cli("systems", "tune", *_args(config), "--launch")[0]
    assert rc == 2
    assert not out.exists()


def test_foreign_directory_and_other_jobs_are_refused(tmp_path):
    from livn.workflows.tune import Tune

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a livn job"):
        Tune(system="EI1", output_directory=str(foreign)).plan()
    sample_job = tmp_path / "sample_job"
    sample_job.mkdir()
    (sample_job / "config.json").write_text(json.dumps({"workflow": "sample", "samples": 2}))
    with pytest.raises(ConfigError, match="not a tuning study"):
        Tune(system="EI1", output_directory=str(sample_job)).plan()
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


def test_targets_file_and_distances(tmp_path):
    from livn.workflows.tune import distance, load_targets, within

    shipped = load_targets()
    assert list(shipped) == ["rate", "isi_cv", "synchrony", "burst_rate", "response"]
    path = tmp_path / "targets.yml"
    path.write_text("rate: {goal: 5.0, scale: log}\nsynchrony: {max: 0.2, chance_margin: 0.05}\n")
    targets = load_targets(path)
    assert distance("rate", targets["rate"], {"rate": 5.0}) == 0
    assert distance("rate", targets["rate"], {"rate": 10.0}) == pytest.approx(np.log(2))
    assert distance("rate", targets["rate"], {"rate": 0.0}) > 5  # silence is far
    # synchrony: within max, or within the margin of the chance level
    assert distance("synchrony", targets["synchrony"], {"synchrony": 0.25}) == pytest.approx(0.05)
    stats = {"synchrony": 0.33, "synchrony_chance": 0.3}
    assert distance("synchrony", targets["synchrony"], stats) == 0 and within(
        "synchrony", targets["synchrony"], stats
    )
    assert distance("isi_cv", shipped["isi_cv"], {"isi_cv": float("nan")}) == 0.8
    assert distance("isi_cv", shipped["isi_cv"], {"isi_cv": 0.9}) == 0
    assert distance("isi_cv", shipped["isi_cv"], {"isi_cv": 0.5}) == pytest.approx(0.3)
    (tmp_path / "bad.yml").write_text("rate: [1, 2]\n")
    with pytest.raises(ConfigError, match=r"bad.yml: target 'rate' must be a mapping"):
        load_targets(tmp_path / "bad.yml")


def test_scale_out_commands(tmp_path):
    from livn.workflows.tune import Tune

    out = tmp_path / "mpi_study"
    job = Tune(system="EI1", weights=1, stimulate=1, output_directory=str(out))
    cmd = job.mpi_command({"-n": 5})
    assert cmd[1:3] == ["-n", "5"] and cmd[-2:] == ["executor=mpi", "--launch"]
    assert "tune" in cmd and "stimulate=1" in cmd
    path, _ = job.submit_slurm({"--array": 3, "-t": "1:00:00"}, submit=False)
    text = Path(path).read_text()
    assert path == out / "slurm" / "tune.sbatch" and "#SBATCH --job-name=livn-tune" in text
    assert "livn systems tune" in text and "task_index" not in text
    assert "processes=${SLURM_CPUS_PER_TASK:-1} --launch" in text


# --------------------------------------------------------------------------- derived defaults
def test_a_fresh_culture_is_alive_with_derived_defaults(tmp_path):
    """Seed 002's ``generate_2d total_cells=50``: 0.4 Hz per cell with the template weights,
    a few Hz with the weights derived from its degrees (measured 4.4–4.6 Hz, JAX CPU)."""
    from livn import decoding as D
    from livn.env import Env
    from livn.models.rcsd.defaults import defaults_source, derived_params, template_params
    from livn.system import System
    from livn.workflows import get

    out = tmp_path / "my_system"
    with pytest.warns(Warning):  # INH degrees of 10 cannot be reached with 10 INH cells
        get("generate_2d", {"total_cells": 50, "output_directory": str(out)}).launch()
    system = System(str(out))
    assert not (out / "params").exists()
    assert defaults_source(system)[0] == "derived"
    rc, text = _cli("systems", "inspect", str(out))
    assert rc == 0, text
    assert "Model defaults (RCSD): derived, not tuned" in text
    env = Env(system, seed=1).init().record_spikes()
    assert env.model_defaults() == derived_params(system)

    def rate() -> float:
        env.clear()
        env.run(300)
        it, t, *_ = env.run(1000)
        return D.population_rate(it, t, 50, 1000)

    template = template_params(system)
    env.set_weights(template["weights"]).set_noise(template["noise"])
    silent = rate()
    env.apply_model_defaults()
    alive = rate()
    assert silent < 1.0 <= alive, (silent, alive)


def test_derived_defaults_follow_degrees_and_transmitters():
    """The drive per cell (charge per synapse × synapses per cell) is the calibrated constant
    for every post population and input type, whatever the degree or the transmitter."""
    from livn.models.rcsd.defaults import DRIVE, derived_params, synapse_charge
    from livn.system import make

    for name in ("EI1", "EI2", "EI3"):
        system = make(name)
        params = derived_params(system)
        counts = {p.name: p.count for p in system.graph.populations}
        types = {p.name: p.synapse_type for p in system.graph.populations}
        drive: dict = {}
        for p in system.graph.projections:
            if not p.num_edges:
                continue
            q = sum(synapse_charge(m, info, params["weights"][f"{p.post}_{p.pre}-{p.section}-{m}-weight"])
                    for m, info in p.mechanisms.items())  # fmt: skip
            key = (types[p.post], p.type)
            drive[key] = drive.get(key, 0.0) + q * p.num_edges / counts[p.post]
        for key, value in drive.items():
            assert value == pytest.approx(DRIVE[key], rel=1e-4), (name, key)
    from types import SimpleNamespace

    glut = SimpleNamespace(e=0.0, g_unit=5e-4, tau_rise=0.5, tau_decay=3.0, weight=1.0)
    chol = SimpleNamespace(e=0.0, g_unit=5e-4, tau_rise=0.5, tau_decay=7.0, weight=7.0)
    # a cholinergic synapse (7 release sites, slower decay) carries ~14x the AMPA charge
    assert synapse_charge("AMPA", chol) / synapse_charge("AMPA", glut) == pytest.approx(14, rel=0.05)


def test_a_trial_asked_by_a_process_killed_inside_the_ask_lock_is_failed(tmp_path):
    """A process killed between asking for a trial and recording its worker leaves a RUNNING
    trial without a worker (and possibly the lock): the next launch fails that trial, so the
    study still gets its ``trials`` complete ones."""
    import optuna

    from livn.workflows.tune import Tune

    out = tmp_path / "study"
    job = Tune(system="EI1", weights=1, trials=3, output_directory=str(out))
    first = job._prepare()
    assert first["todo"] == 3 and first["stale"] == []
    study = _load(out)
    orphan = study.ask()  # what a worker killed inside the lock leaves behind
    again = Tune.open(out)._prepare()
    assert again["stale"] == [orphan.number] and again["todo"] == 3
    failed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
    assert [t.number for t in failed] == [orphan.number]
    assert failed[0].system_attrs["livn_abandoned"] is True


def test_output_directory_defaults_to_the_system_name(tmp_path, monkeypatch):
    """Seed 001 tunes with `system=./systems/data/S1 ... --launch` and no output_directory."""
    from livn.workflows.tune import Tune

    monkeypatch.chdir(tmp_path)
    assert Tune(system="./systems/data/S1/").output_directory == tmp_path / "S1_tune"
    assert Tune(system="EI1").output_directory == tmp_path / "EI1_tune"
    with pytest.raises(ConfigError, match="output_directory is required without a system"):
        _ = Tune(trials=3).output_directory
