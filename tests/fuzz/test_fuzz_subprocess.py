"""A few cases as real ``python -m livn`` processes (the in-process fuzz cases call
``livn.cli.main.main``): exit status, one ``livn: error:`` message, no traceback, nothing
written, and no hang (a subprocess timeout fails the test)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from fuzz_contract import Sandbox, assert_unchanged, count

CASES = [
    # (argv, exit status, text the output must contain)
    (["systems", "sample", "system=EI1", "duration=NaN", "samples=2", "output_directory=job",
      "--dry-run"], 2, "'duration'"),
    (["systems", "sample", "system=EI1", "duration=1e308", "samples=2", "output_directory=job",
      "--dry-run"], 2, "duration"),
    (["systems", "sample", "system=EI1", "duration=20", "samples=2000000000", "allow_large=true",
      "decoding=MeanFiringRate", "output_directory=job", "--dry-run"], 0,
     "Samples: 2,000,000,000"),  # was a hang: the plan enumerated every index
    (["systems", "sample", "system=s3://bucket/x", "duration=20", "samples=1",
      "output_directory=job", "--dry-run"], 2, "s3://bucket/x"),
    (["systems", "sample", "system=EI1", "duration=20", "samples=1", "output_directory=userdir",
      "--launch"], 2, "userdir"),
    (["systems", "generate_2d", "total_cells=5", "output_directory=g", "--launch", "--mea",
      "--pitch", "abc"], 2, "--pitch"),
    (["systems", "generate_2d", "total_cells=5", "output_directory=g", "--launch", "--mea",
      "--pitch", "nan"], 2, "pitch"),
    (["systems", "generate_2d", "total_cells=1e9", "output_directory=g", "--launch"], 2,
     "'total_cells'"),
    (["batch", "recursive.yml", "--dry-run"], 2, "alias inside itself"),
    (["batch", "deep.yml", "--dry-run"], 2, "nested too deeply"),
]

YAML = {
    "recursive.yml": "batch: {output_dir: out, stimuli: [{type: gaussian, parameters: "
                     "{sigma: &r [0.5, *r]}}]}\n",
    "deep.yml": "batch: " + "[" * 100_000 + "]" * 100_000 + "\n",
}


@pytest.mark.parametrize("argv,status,needle", CASES, ids=lambda x: None)
def test_real_process(fuzz_base, argv, status, needle):
    with Sandbox(fuzz_base) as box:
        for name, text in YAML.items():
            (box.work / name).write_text(text, "utf-8")
        before = box.snapshot()
        env = {**os.environ, "HOME": str(box.home)}
        proc = subprocess.run([sys.executable, "-m", "livn", *argv], cwd=box.work, env=env,
                              capture_output=True, text=True, timeout=120)
        count("CLI (real processes)", proc.returncode == 2)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode == status, (proc.returncode, proc.stdout, proc.stderr)
        assert needle in proc.stdout + proc.stderr, (proc.stdout, proc.stderr)
        if status == 2:
            assert proc.stderr.count("livn: error:") == 1, proc.stderr
        assert_unchanged(before, box.snapshot(), " ".join(argv))
        box.assert_user_files_intact()
