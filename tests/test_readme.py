"""The README's commands and Python examples stay true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _commands():
    block = re.search(r"## Two commands.*?```sh\n(.*?)```", README, re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_opens_with_two_commands_and_ci_runs_the_test_one():
    commands = _commands()
    assert len(commands) == 2
    assert "livn systems sample system=EI2" in commands[0] and "--launch --merge" in commands[0]
    assert "pytest" in commands[1]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("index", range(len(re.findall(r"```python\n", README))))
def test_python_examples_run(index, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    code = re.findall(r"```python\n(.*?)```", README, re.S)[index]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"README.md[python {index}]", "exec"), {"__name__": "__readme__"})
