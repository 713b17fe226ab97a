"""Every code block in README.md and docs/*.md runs (or is checked) as written.

Blocks are the fenced blocks (```` ```lang ````; an indented fence inside a list item counts).
Every fence must name its language, one of:

- ``python``: written to a file and run with this interpreter (the venv's ``python``).
- ``sh``, ``bash``: run with ``bash -e -o pipefail``: every command must succeed.
- ``console``: the lines starting with ``$`` (and their ``\\`` continuations) run as ``sh``;
  the other lines are example output and are not compared (timings differ per machine).
- ``yaml``/``yml``, ``json``: parsed; a YAML mapping with a ``batch`` key is a batch config
  and must pass :class:`livn.workflows.sweeps.Batch` validation and its dry run; a YAML block
  with ``!include`` is a 3D layered config, validated next to the shipped include files.
- ``text``: a directory layout or other prose; not run.

An unlabelled fence or any other language fails ``test_every_block_names_a_known_language``,
so new docs cannot be skipped silently. The only runnable block that is not run is the
README's "Two commands" block (it creates a venv and pip-installs; CI runs its second command
verbatim): ``test_readme_opens_with_two_commands_and_ci_runs_the_test_one`` checks its shape.

**Where blocks run.** Each block (or group, see ``continues``) runs in a fresh temporary
directory as its cwd, holding a copy of the repository's ``examples/`` and ``benchmarks/``
(the docs' commands are written for a clone's root), with the interpreter's ``bin`` first on
PATH (``livn``, ``mpiexec``, ``python``), ``TMPDIR`` inside the temporary directory, no
network: ``HF_HUB_OFFLINE=1``, ``HF_HOME`` in the session's temporary directory, ``HF_TOKEN``
unset. ``LIVN_CACHE_DIR`` (predefined systems) and ``JAX_COMPILATION_CACHE_DIR`` (JAX's
persistent compilation cache, which changes no result) are shared by all blocks of a test
session, for speed. Every block has a timeout (default 180 s; the whole process group is
killed), so a hang fails instead of blocking CI. Cases are named ``file:line`` of the block.

**Annotations.** An HTML comment on the line right above a fence (it may span lines; the
rendered docs do not show it) changes how the block is tested::

    <!-- test: samples=1000 -> samples=2; duration=5000 -> duration=50; "-n 32" -> "-n 3" -->

Directives are separated by ``;`` and split into words like a shell command (quote words with
spaces or ``;``). The annotation says what differs from running the block as written:

- ``OLD -> NEW``: run the block with every ``OLD`` replaced by ``NEW`` (smaller sizes for CI).
  ``OLD`` must occur in the block, so a stale annotation fails.
- ``edit FILE OLD -> NEW``: the same in the temporary copy of ``FILE`` (e.g. the example batch
  config) before the block runs; ``OLD`` must occur in it.
- ``continues``: run in the directory of the previous block that runs in the same file, right
  after it; the group is one test case named ``file:line+line``. ``as NAME`` names a block's
  group and ``continues NAME`` continues that group instead (when other blocks lie between).
- ``fake sbatch``: ``sbatch`` on PATH is a stub that records the script it is given and prints
  ``Submitted batch job 42``; the test asserts it received a written sbatch script.
- ``fake hub``: ``huggingface_hub.HfApi`` is a recorder that sends nothing (and ``HF_TOKEN`` a
  dummy); the test asserts ``create_repo`` and ``upload_folder`` were called with the card and
  the Parquet files.
- ``save FILE``: a ``python`` block is written to ``FILE`` in the cwd and run from there (for
  a later block that runs the file, e.g. under ``mpiexec``).
- ``fails TEXT``: the block must exit non-zero with ``TEXT`` in its output.
- ``slow REASON``: the case runs only with ``-m slow``.
- ``matches FILE``: a ``json`` block that ``continues`` a group is compared with the JSON file
  ``FILE`` that the group wrote (relative to its cwd): every key shown must be there with the
  value shown (mappings compared key by key, so the block may show a part of the file).
- ``note TEXT``: says why, for the reader; changes nothing.
- ``timeout SECONDS``: a different timeout for this block.
- ``signature NAME``: a ``python`` block that shows a function's signature; it must equal
  ``NAME``'s last component followed by ``inspect.signature(NAME)`` without type annotations.
  Not run.

An annotation (a line starting with ``<!-- test:``) that is not right above a fence, an unknown
directive, or a replacement whose ``OLD`` does not occur fails ``test_annotations_are_valid``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent
COPIED = ("examples", "benchmarks")  # the docs' commands are written for a clone's root
DEFAULT_TIMEOUT = 180

RUN = {"python", "sh", "bash", "console"}
PARSE = {"yaml", "yml", "json"}
LANGUAGES = RUN | PARSE | {"text"}

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,})(?P<info>[^`]*)$")
ANNOTATION = re.compile(r"<!--\s*test:(?P<body>.*?)-->", re.S)


@dataclasses.dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    annotation: str | None = None
    directives: list[list[str]] = dataclasses.field(default_factory=list)
    error: str | None = None  # a malformed annotation

    @property
    def name(self) -> str:
        path = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path.name
        return f"{path}:{self.line}"

    def has(self, word: str) -> bool:
        return any(d[0] == word for d in self.directives)

    def values(self, word: str) -> list[list[str]]:
        return [d[1:] for d in self.directives if d[0] == word]

    @property
    def setup_block(self) -> bool:
        """The README's "Two commands" block (venv + pip install): shape-checked, not run."""
        return self.path.name == "README.md" and self is _two_commands_block()


def _split(body: str) -> list[list[str]]:
    lex = shlex.shlex(body, posix=True, punctuation_chars=";")
    lex.whitespace_split = True
    lex.commenters = ""
    directives, words = [], []
    for word in lex:
        if word == ";":
            if words:
                directives.append(words)
            words = []
        else:
            words.append(word)
    if words:
        directives.append(words)
    return directives


def _check(directive: list[str]) -> None:
    head, n = directive[0], len(directive)
    if n == 3 and directive[1] == "->":
        return
    if head == "edit" and n == 5 and directive[3] == "->":
        return
    if (head == "continues" and n in (1, 2)) or (head == "as" and n == 2):
        return
    if head == "fake" and n == 2 and directive[1] in ("sbatch", "hub"):
        return
    if head in ("fails", "slow", "note") and n >= 2:
        return
    if head == "timeout" and n == 2 and directive[1].isdigit():
        return
    if head in ("signature", "save", "matches") and n == 2:
        return
    raise ValueError(f"unknown or malformed directive {' '.join(directive)!r}")


def parse(path: Path) -> tuple[list[Block], list[str]]:
    """The fenced blocks of one Markdown file, and the problems found on the way."""
    lines = path.read_text().splitlines()
    blocks, problems, used = [], [], set()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, ticks = m["indent"], m["ticks"]
        info = m["info"].strip()
        end = i + 1
        while end < len(lines) and not re.fullmatch(rf"[ \t]*{ticks}`*\s*", lines[end]):
            end += 1
        if end == len(lines):
            problems.append(f"{path.name}:{i + 1}: unclosed fence")
            break
        body = [ln[len(indent) :] if ln.startswith(indent) else ln for ln in lines[i + 1 : end]]
        block = Block(path, i + 1, info.split()[0] if info else "", "\n".join(body) + "\n")
        # an annotation ends on the line right above the fence
        if i > 0 and lines[i - 1].rstrip().endswith("-->"):
            start = i - 1
            while start > 0 and "<!--" not in lines[start]:
                start -= 1
            text = "\n".join(lines[start:i])
            a = ANNOTATION.search(text)
            if a:
                used.add(start)
                block.annotation = " ".join(a["body"].split())
                try:
                    block.directives = _split(a["body"])
                    for d in block.directives:
                        _check(d)
                except ValueError as e:
                    block.error = f"{block.name}: annotation {block.annotation!r}: {e}"
        blocks.append(block)
        i = end + 1
    for n, line in enumerate(lines):
        if line.lstrip().startswith("<!-- test:") and n not in used:
            problems.append(
                f"{path.name}:{n + 1}: a test annotation that is not right above a fence"
            )
    return blocks, problems


PARSED = {path: parse(path) for path in DOCS}
BLOCKS = [b for path in DOCS for b in PARSED[path][0]]


def _two_commands_block() -> Block:
    start = README.index("## Two commands")
    line = README[:start].count("\n") + 1
    return next(b for b in PARSED[ROOT / "README.md"][0] if b.line > line)


def _runs(b: Block) -> bool:
    """Whether the block is part of a group that runs (its own, or one it continues)."""
    if b.lang == "json" and b.has("matches"):
        return True
    return b.lang in RUN and not b.setup_block and not b.has("signature")


def _groups() -> list[list[Block]]:
    groups: list[list[Block]] = []
    for path in DOCS:
        previous: list[Block] | None = None
        named: dict[str, list[Block]] = {}
        for b in PARSED[path][0]:
            if not _runs(b):
                continue
            target = previous
            if b.has("continues") and b.values("continues")[0]:
                target = named.get(b.values("continues")[0][0])
            if b.has("continues") and target is not None:
                target.append(b)
            else:
                target = [b]
                groups.append(target)
            for (name,) in b.values("as"):
                named[name] = target
            previous = target
    return groups


def _group_id(group: list[Block]) -> str:
    return group[0].name + "".join(f"+{b.line}" for b in group[1:])


def _param(group: list[Block]):
    slow = [r for b in group for r in b.values("slow")]
    marks = [pytest.mark.slow] if slow else []
    return pytest.param(group, id=_group_id(group), marks=marks)


# --------------------------------------------------------------------------- structure


def _commands():
    block = re.search(r"## Two commands.*?```sh\n(.*?)```", README, re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_opens_with_two_commands_and_ci_runs_the_test_one():
    commands = _commands()
    assert len(commands) == 2
    assert "livn systems sample system=EI2" in commands[0] and "--launch --merge" in commands[0]
    assert "output_directory=./my_dataset" in commands[0]
    assert "pytest" in commands[1]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
    assert _two_commands_block().code.strip().endswith(commands[1])


def test_every_block_names_a_known_language():
    bad = [f"{b.name}: {b.lang or '(no language)'}" for b in BLOCKS if b.lang not in LANGUAGES]
    assert not bad, (
        f"fenced blocks must name one of {sorted(LANGUAGES)} (see tests/test_docs.py): {bad}"
    )


def test_annotations_are_valid():
    problems = [p for path in DOCS for p in PARSED[path][1]]
    problems += [b.error for b in BLOCKS if b.error]
    for b in BLOCKS:
        for old in (d[0] for d in b.directives if len(d) == 3 and d[1] == "->"):
            if old not in b.code:
                problems.append(f"{b.name}: {old!r} does not occur in the block")
        for path, old, _, _ in b.values("edit"):
            if not (ROOT / path).is_file() or old not in (ROOT / path).read_text():
                problems.append(f"{b.name}: {old!r} does not occur in {path}")
        if b.has("continues"):
            blocks = PARSED[b.path][0][: PARSED[b.path][0].index(b)]
            names = [n for a in blocks if _runs(a) for (n,) in a.values("as")]
            if not _runs(b) or not any(_runs(a) for a in blocks):
                problems.append(f"{b.name}: 'continues' needs a block that runs, after one")
            for name in b.values("continues")[0]:
                if name not in names:
                    problems.append(f"{b.name}: 'continues {name}': no earlier block 'as {name}'")
        if b.has("matches") and (b.lang != "json" or not b.has("continues")):
            problems.append(f"{b.name}: 'matches' is for json blocks that continue a group")
        for word in ("signature", "save"):
            if b.has(word) and b.lang != "python":
                problems.append(f"{b.name}: {word!r} is for python blocks")
    assert not problems, "\n".join(problems)


def test_the_docs_have_blocks_to_run():
    assert len(_groups()) >= 10


def test_the_annotation_parser(tmp_path):
    md = tmp_path / "doc.md"
    md.write_text(
        "# t\n"
        "<!-- test: samples=1000 -> samples=2; '\"-n\": 32' -> '\"-n\": 3';\n"
        "     fake sbatch; note why it is smaller -->\n"
        "```sh\nlivn x samples=1000 '{\"-n\": 32}'\n```\n"
        "- item\n\n"
        "  <!-- test: continues; fails \"no such file\" -->\n"
        "  ```console\n  $ ls missing \\\n    --all\n  ls: output\n  ```\n"
        "<!-- test: skip this -->\n"
        "```\nbare\n```\n"
        "<!-- test: continues -->\n\n"
        "```python\nx = 1\n```\n"
    )  # fmt: skip
    blocks, problems = parse(md)
    sh, console, bare, py = blocks
    assert sh.lang == "sh" and sh.line == 4 and sh.error is None
    assert sh.directives == [["samples=1000", "->", "samples=2"], ['"-n": 32', "->", '"-n": 3'],
                             ["fake", "sbatch"], ["note", "why", "it", "is", "smaller"]]  # fmt: skip
    assert _substitute(sh) == "livn x samples=2 '{\"-n\": 3}'\n"
    assert console.lang == "console" and console.values("fails") == [["no such file"]]
    assert _console_commands(console.code) == "ls missing \\\n  --all\n"
    assert bare.lang == "" and "unknown or malformed directive 'skip this'" in bare.error
    assert py.directives == [] and problems == ["doc.md:19: a test annotation that is not right "
                                                "above a fence"]  # fmt: skip


def test_a_hanging_block_fails_at_its_timeout(tmp_path):
    import time

    start = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match="timed out after 1 s"):
        _run(["bash", "-c", "sleep 60 & sleep 60"], tmp_path, dict(os.environ), timeout=1)
    assert time.monotonic() - start < 10


# --------------------------------------------------------------------------- checked, not run


@pytest.mark.parametrize("block", [pytest.param(b, id=b.name) for b in BLOCKS if b.lang in PARSE])
def test_data_block_parses(block):
    if block.lang == "json":
        json.loads(block.code)
        return
    import yaml

    if "!include" in block.code:  # a 3D layered config: its includes are the shipped files
        import shutil
        import tempfile
        from pathlib import Path

        from livn.system.layered.config import load
        from livn.system.predefined import shipped_config

        with tempfile.TemporaryDirectory() as tmp:
            for f in Path(shipped_config("S1")).parent.glob("_*.yml"):
                shutil.copy(f, tmp)
            path = Path(tmp) / "config.yml"
            path.write_text(block.code, encoding="utf-8")
            load(path)  # validates every key, layer, count and include
        return
    data = yaml.safe_load(block.code)
    if isinstance(data, dict) and "batch" in data:
        import io

        from livn.workflows.sweeps import Batch

        out = io.StringIO()
        Batch(data).dry_run(stream=out)  # validates the config and builds every stimulus
        assert "Total stimuli" in out.getvalue()


@pytest.mark.parametrize(
    "block", [pytest.param(b, id=b.name) for b in BLOCKS if b.has("signature")]
)
def test_signature_block_matches_the_code(block):
    (name,) = block.values("signature")[0]
    module, _, attr = name.rpartition(".")
    func = getattr(importlib.import_module(module), attr)
    sig = inspect.signature(func)
    plain = sig.replace(  # names and defaults; the doc leaves type annotations out
        parameters=[p.replace(annotation=p.empty) for p in sig.parameters.values()],
        return_annotation=sig.empty,
    )
    shown = " ".join(block.code.split())
    assert shown == f"{attr}{plain}", f"{block.name} shows {shown!r}; the code says {attr}{sig}"


# --------------------------------------------------------------------------- run

FAKE_SBATCH = """#!/bin/sh
# docs tests: record the script instead of submitting it
echo "$@" >> "{log}"
echo "Submitted batch job 42"
"""

FAKE_HUB = '''"""docs tests: huggingface_hub.HfApi records calls instead of sending anything."""
import json
import os
from pathlib import Path

import huggingface_hub


def _log(method, **fields):
    with open(os.environ["LIVN_DOCS_FAKE_HUB_LOG"], "a") as f:
        f.write(json.dumps({"method": method, **fields}, default=str) + "\\n")


class FakeHfApi:
    def __init__(self, token=None, **kwargs):
        _log("HfApi", token=token)

    def create_repo(self, repo_id, **kwargs):
        _log("create_repo", repo_id=repo_id, **kwargs)
        return f"https://huggingface.co/datasets/{repo_id}"

    def upload_folder(self, *, folder_path, repo_id, allow_patterns=None, **kwargs):
        root = Path(folder_path)
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        _log("upload_folder", repo_id=repo_id, folder_path=folder_path,
             allow_patterns=allow_patterns, files=files, **kwargs)
        return f"https://huggingface.co/datasets/{repo_id}/commit/0"


huggingface_hub.HfApi = FakeHfApi
'''


@pytest.fixture(scope="session")
def docs_session(tmp_path_factory):
    """Caches shared by every block of the session (LIVN_CACHE_DIR comes from conftest)."""
    root = tmp_path_factory.mktemp("docs-session")
    return {"jax": root / "jax-cache", "hf": root / "hf-home"}


def _console_commands(code: str) -> str:
    commands, continuing = [], False
    for line in code.splitlines():
        if continuing or line.startswith("$"):
            text = line[1:].lstrip() if not continuing else line
            commands.append(text)
            continuing = line.endswith("\\")
    assert commands, "a console block needs at least one '$ command' line"
    return "\n".join(commands) + "\n"


def _substitute(block: Block) -> str:
    code = block.code
    for d in block.directives:
        if len(d) == 3 and d[1] == "->":
            assert d[0] in code, f"{block.name}: annotation: {d[0]!r} does not occur in the block"
            code = code.replace(d[0], d[2])
    return code


def _assert_subset(shown, real, where: str) -> None:
    if isinstance(shown, dict) and isinstance(real, dict):
        for key, value in shown.items():
            assert key in real, f"{where}: key {key!r} is not in the file"
            _assert_subset(value, real[key], f"{where}[{key!r}]")
        assert list(shown) == [k for k in real if k in shown], f"{where}: keys in another order"
    else:
        assert shown == real, f"{where}: the doc shows {shown!r}, the file holds {real!r}"


def _run(argv: list[str], cwd: Path, env: dict, timeout: int) -> tuple[int, str]:
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # mpiexec and worker processes too
        out, _ = proc.communicate()
        pytest.fail(f"timed out after {timeout} s; output so far:\n{out[-6000:]}")
    return proc.returncode, out


@pytest.mark.parametrize("group", [_param(g) for g in _groups()])
def test_block_runs(group, tmp_path, docs_session):
    work = tmp_path / "cwd"
    work.mkdir()
    for name in COPIED:
        shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "tmp").mkdir()
    scripts = tmp_path / "scripts"
    scripts.mkdir()

    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_TOKEN", "LIVN_OUTPUT_ROOT", "LIVN_BACKEND", "PYTHONPATH")}  # fmt: skip
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        TMPDIR=str(tmp_path / "tmp"),
        MPLBACKEND="Agg",
        PYTHONUNBUFFERED="1",
        JAX_COMPILATION_CACHE_DIR=str(docs_session["jax"]),
        HF_HOME=str(docs_session["hf"]),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
    )
    assert "LIVN_CACHE_DIR" in env  # the session's isolated cache (conftest)

    for block in group:
        if block.lang == "json":
            (path,) = block.values("matches")[0]
            assert (work / path).is_file(), f"{block.name}: {path} was not written"
            _assert_subset(json.loads(block.code), json.loads((work / path).read_text()),
                           f"{block.name} vs {path}")  # fmt: skip
            continue
        for path, old, _, new in block.values("edit"):
            target = work / path
            text = target.read_text()
            assert old in text, f"{block.name}: annotation: {old!r} does not occur in {path}"
            target.write_text(text.replace(old, new))

        sbatch_log = scripts / "sbatch.log"
        hub_log = scripts / "hub.log"
        block_env = dict(env)
        if ["sbatch"] in block.values("fake"):
            fakebin = scripts / "fakebin"
            fakebin.mkdir(exist_ok=True)
            (fakebin / "sbatch").write_text(FAKE_SBATCH.format(log=sbatch_log))
            (fakebin / "sbatch").chmod(0o755)
            block_env["PATH"] = f"{fakebin}{os.pathsep}{block_env['PATH']}"
        if ["hub"] in block.values("fake"):
            site = scripts / "fakehub"
            site.mkdir(exist_ok=True)
            (site / "sitecustomize.py").write_text(FAKE_HUB)
            block_env["PYTHONPATH"] = str(site)
            block_env["LIVN_DOCS_FAKE_HUB_LOG"] = str(hub_log)
            block_env["HF_TOKEN"] = "hf_docs_tests_dummy_token"

        code = _substitute(block)
        script = scripts / f"block_{block.line}"
        if block.lang == "python":
            script = work / block.values("save")[0][0] if block.has("save") else script
            script = script if block.has("save") else script.with_suffix(".py")
            script.write_text(code)
            argv = [sys.executable, str(script)]
        else:
            script = script.with_suffix(".sh")
            script.write_text(_console_commands(code) if block.lang == "console" else code)
            argv = ["bash", "-e", "-o", "pipefail", "-x", str(script)]
        timeout = int(block.values("timeout")[0][0]) if block.has("timeout") else DEFAULT_TIMEOUT

        rc, out = _run(argv, work, block_env, timeout)
        where = f"{block.name} (annotation: {block.annotation})\n--- ran:\n{code}--- output:\n"
        fails = [" ".join(v) for v in block.values("fails")]
        if fails:
            assert rc != 0, f"{where}{out[-6000:]}\nexpected a failure, exit status was 0"
            for text in fails:
                assert text in out, f"{where}{out[-6000:]}\nexpected {text!r} in the output"
        else:
            assert rc == 0, f"{where}{out[-8000:]}\nexit status {rc}"

        if ["sbatch"] in block.values("fake"):
            assert sbatch_log.is_file(), f"{where}{out[-4000:]}\nsbatch was never called"
            for line in sbatch_log.read_text().split("\n"):
                if line:
                    submitted = Path(line.split()[-1])
                    assert "#SBATCH" in (work / submitted).read_text(), line
            sbatch_log.unlink()
        if ["hub"] in block.values("fake"):
            assert hub_log.is_file(), f"{where}{out[-4000:]}\nthe Hub API was never called"
            calls = [json.loads(line) for line in hub_log.read_text().splitlines()]
            methods = [c["method"] for c in calls]
            assert "create_repo" in methods and "upload_folder" in methods, calls
            upload = next(c for c in calls if c["method"] == "upload_folder")
            assert "README.md" in upload["files"], upload
            assert any(f.startswith("data/") and f.endswith(".parquet") for f in upload["files"])
            hub_log.unlink()
