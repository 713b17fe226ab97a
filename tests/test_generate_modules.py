"""``livn systems mpi|slurm generate`` (seed 002): the 3D generator is one process, so the mpi
module runs it here (or on rank 0 under ``mpiexec``, the other ranks idle) and the slurm module
writes and submits a one-task sbatch script that runs the plain command."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest

from livn import mpi
from livn.cli.main import build_parser
from livn.cli.main import main as cli
from livn.system import System
from livn.system.predefined import shipped_config
from livn.workflows.executors import find_mpiexec

LIVN = [sys.executable, "-m", "livn"]
NOTE = "livn: the 3D generator runs in one process (no MPI needed; it builds 10,000 cells"

pytestmark = pytest.mark.skipif(mpi.world_size() > 1, reason="run outside mpiexec")


def _script_command(*args: str) -> str:
    return shlex.join([*LIVN, "systems", "generate", *args])


@pytest.mark.parametrize("module", ["mpi", "interface.remotes.mpi", "slurm", "tacc"])
def test_every_module_has_generate(module):
    args = build_parser().parse_args(["systems", module, "generate", "config=S1"])
    assert args.module == module and args.func.__name__ == "cmd_generate"
    assert hasattr(args, "no_submit") == (module in ("slurm", "tacc"))


def test_mpi_module_without_mpiexec_runs_here(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPI_RANKS", "8")
    assert cli(["systems", "mpi", "generate", "config=S1", "output_directory=out", "--launch",
                "--mea"]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].startswith(NOTE), lines
    assert "running it here (MPI_RANKS=8 not used)" in lines[0]
    edges = System(str(tmp_path / "out")).num_edges
    assert lines[1] == f"Generated S1: 10 cells, {edges} synapses -> {tmp_path / 'out'}"
    assert (tmp_path / "out" / "mea.json").is_file()
    # without an action: the resolved job, as plain generate prints it (no note)
    assert cli(["systems", "interface.remotes.mpi", "generate", "config=S1"]) == 0
    assert capsys.readouterr().out.startswith("Resolved job (nothing done")


def test_mpiexec_two_ranks_build_once(tmp_path):
    mpiexec = find_mpiexec()
    assert mpiexec is not None, "mpiexec not found: install the test extra (it has the mpich wheel)"
    out = tmp_path / "s1"
    cmd = [mpiexec, "-n", "2", *LIVN, "systems", "mpi", "generate", "config=S1",
           f"output_directory={out}", "--launch", "--mea"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr  # every rank exited 0
    lines = proc.stdout.splitlines()
    assert len(lines) == 3, proc.stdout  # rank 1 printed nothing
    assert lines[0].startswith(NOTE) and "the other 1 rank(s) idle" in lines[0]
    assert lines[1].startswith("Generated S1: 10 cells") and lines[2].startswith("Wrote ")
    assert System(str(out)).num_neurons == 10 and (out / "mea.json").is_file()
    # an error of rank 0's job ends every rank with status 2, reported once
    proc = subprocess.run([*cmd[:-2], "seed=5", "--launch"], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("livn: error:") == 1, proc.stderr
    assert "already holds a system generated with a different configuration" in proc.stderr


def test_slurm_writes_a_one_task_script_and_never_replaces_another(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    base = ["systems", "slurm", "generate", "config=systems/config/S1.yml",
            "output_directory=graphs/S1"]  # fmt: skip
    resources = 'resources={"-p": "normal", "-t": "1:00:00"}'
    assert cli([*base, resources, "--launch", "--mea", "--export", "--no-submit"]) == 0
    script = tmp_path / "graphs" / "S1.sbatch"
    assert capsys.readouterr().out == f"Wrote {script}\n"
    assert not (tmp_path / "graphs" / "S1").exists()  # nothing generated here
    text = script.read_text()
    lines = text.splitlines()
    assert lines[:6] == ["#!/bin/bash", "#SBATCH --job-name=livn-generate",
                         f"#SBATCH --output={tmp_path}/graphs/S1-%j.out", "#SBATCH --ntasks=1",
                         "#SBATCH -p normal", "#SBATCH -t 1:00:00"]  # fmt: skip
    assert lines[-2] == f"cd {shlex.quote(str(tmp_path))}"
    assert lines[-1] == _script_command(f"config={shipped_config('S1')}",
                                        f"output_directory={tmp_path / 'graphs' / 'S1'}",
                                        "--launch", "--mea", "--export")  # fmt: skip
    assert os.access(script, os.X_OK)
    # the same job again: the same script, accepted
    assert cli([*base, resources, "--launch", "--mea", "--export", "--no-submit"]) == 0
    capsys.readouterr()
    # another job: refused, naming the file and --overwrite; the script is kept
    assert cli([*base, "seed=5", resources, "--launch", "--no-submit"]) == 2
    err = capsys.readouterr().err
    assert str(script) in err and "--overwrite" in err and script.read_text() == text
    # the script runs the plain command from anywhere
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=300,
                          cwd="/")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Generated S1: 10 cells" in proc.stdout and "Exported S1" in proc.stdout
    assert (tmp_path / "graphs/S1/mea.json").is_file()
    assert System(str(tmp_path / "systems/data/S1")).num_neurons == 10
    # a different system is refused before the script is written; --overwrite replaces both
    assert cli([*base, "seed=5", "--launch", "--no-submit"]) == 2
    assert "different configuration" in capsys.readouterr().err
    assert script.read_text() == text
    seeded = ['resources={"--nodes": 4, "--ntasks-per-node": 56}', "seed=5", "--launch",
              "--no-submit", "--overwrite"]  # fmt: skip
    assert cli([*base, *seeded]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(NOTE) and out[1] == f"Wrote {script}"
    lines = script.read_text().splitlines()
    assert "#SBATCH --ntasks=1" not in lines and "#SBATCH --nodes=4" in lines
    assert lines[-1].endswith(" seed=5 --launch --overwrite")


def test_slurm_submits_with_sbatch(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    command = ["systems", "tacc", "generate", "config=S1", "output_directory=s1", "--launch"]
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no sbatch: nothing is written
    assert cli(command) == 2
    assert "sbatch was not found" in capsys.readouterr().err and not any(tmp_path.iterdir())
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "sbatch.log"
    (bindir / "sbatch").write_text(f'#!/bin/sh\necho "$@" > {log}\necho "Submitted batch job 42"\n')
    (bindir / "sbatch").chmod(0o755)
    assert cli(command) == 0
    script = tmp_path / "s1.sbatch"
    assert capsys.readouterr().out == f"Wrote {script}\nSubmitted batch job 42\n"
    assert log.read_text().strip() == str(script)


@pytest.mark.parametrize(
    "resources, match",
    [('{"nodes!": 2}', "resources key 'nodes!' is not an sbatch option"),
     ('{"-t": "1:00\\n#SBATCH -p x"}', "value must be a single line"),
     ("[4]", "resources must be a JSON object"),
     ('{"--array": 2}', "no job array"),
     ('{"launcher": "mpiexec"}', "no launcher")],
)  # fmt: skip
@pytest.mark.parametrize("launch", [True, False])
def test_bad_resources_exit_2_and_write_nothing(tmp_path, monkeypatch, capsys, resources, match,
                                                launch):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    command = ["systems", "slurm", "generate", "config=S1", f"resources={resources}",
               *(["--launch", "--no-submit"] if launch else [])]  # fmt: skip
    assert cli(command) == 2
    err = capsys.readouterr().err
    assert err.startswith("livn: error:") and match in err, err
    assert list(tmp_path.iterdir()) == []
