"""The input contract every fuzz case asserts (docs/limits.md), and the tools to check it.

For every generated input a call either succeeds with a valid result, or raises a
:class:`livn.errors.LivnError` whose message names the offending field or value (on the
CLI: exit status 2, one ``livn: error:`` message, no traceback). It never raises another
exception type, never hangs (:func:`case_timeout`), never writes a file after a refusal and
never touches a user's file (:class:`Sandbox` snapshots).

Oracles classify a generated input as ``OK`` (must succeed), ``BAD`` (must be refused) or
``ANY`` (size- or machine-dependent: either outcome, but a refusal must still name a
suspect field).
"""

from __future__ import annotations

import collections
import contextlib
import faulthandler
import hashlib
import io
import os
import signal
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from hypothesis import settings

from livn.errors import LivnError

OK, BAD, ANY = "ok", "bad", "any"

#: Cases run, per surface, and how many of them were refusals (printed at the end of the run).
CASES: collections.Counter[str] = collections.Counter()
REFUSED: collections.Counter[str] = collections.Counter()


def budget(n: int) -> int:
    """``n`` cases under the default profile (max_examples 100), scaled for the others."""
    return max(1, round(n * settings.default.max_examples / 100))


def count(surface: str, refused: bool) -> None:
    CASES[surface] += 1
    if refused:
        REFUSED[surface] += 1


def worst(*verdicts: str) -> str:
    """BAD if any is BAD, else ANY if any is ANY, else OK."""
    if BAD in verdicts:
        return BAD
    return ANY if ANY in verdicts else OK


# ---------------------------------------------------------------------------- hangs
class CaseTimeout(Exception):
    """A case ran past its time limit: a hang."""


@contextlib.contextmanager
def case_timeout(seconds: float) -> Iterator[None]:
    """Fail the case (raise :class:`CaseTimeout`) if it runs longer than ``seconds``.

    A ``SIGALRM`` interval timer raises inside the test; if the code under test swallowed
    that exception, it is raised again on exit. A hang inside C code that never returns to
    Python is caught by a ``faulthandler`` backstop that dumps the stacks and ends the
    process after ``4 × seconds`` (the run fails instead of hanging CI).
    """
    fired = []

    def handler(signum, frame):
        fired.append(True)
        raise CaseTimeout(f"the case ran longer than {seconds:g} s (a hang)")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(4 * seconds + 30, exit=True, file=sys.__stderr__)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        faulthandler.cancel_dump_traceback_later()
    if fired:
        raise CaseTimeout(f"the case ran longer than {seconds:g} s (a hang; swallowed inside)")


# ---------------------------------------------------------------------------- outcomes
def mentions(message: str, names: Iterable[Any]) -> bool:
    """True if ``message`` names one of ``names`` (keys, values, paths); a name shorter than
    three characters (``z``, ``dt``) counts only as a whole word."""
    import re

    for name in names:
        for text in _spellings(name):
            if text and text in message:
                return True
        if isinstance(name, str) and 0 < len(name) < 3 and name.isidentifier() and (
                name.lower() not in _WORDS) and re.search(
                rf"(?<![\w.]){re.escape(name)}(?![\w])", message):
            return True
    return False


#: Short words of English that a message contains anyway: not evidence that it names a field.
_WORDS = {"a", "an", "as", "at", "be", "by", "e", "g", "i", "in", "is", "it", "no", "of", "on",
          "or", "so", "to", "x", "y"}


def _spellings(name: Any) -> list[str]:
    """Ways a message may spell ``name``; too-short spellings (``1``, ``a``) are left out, so
    that a message does not name a value merely by containing a digit."""
    if isinstance(name, str):
        out = [name, name.replace("_", " "), repr(name), repr(name)[1:-1]]
        if "." in name:
            out.append(name.rsplit(".", 1)[-1])
    elif isinstance(name, bool) or name is None:
        out = [repr(name)]
    elif isinstance(name, int | float):
        out = [repr(name), f"{name:,}" if isinstance(name, int) else f"{name:g}"]
    else:
        out = [repr(name)[:40]]
    return [s for s in out if len(s.strip()) >= 3 or s in ("''", '""')]


def outcome(call, *, surface: str, verdict: str, suspects: Mapping[str, Any] | Iterable[Any],
            timeout: float = 20.0) -> tuple[Any, LivnError | None]:
    """Run ``call()`` under the contract; returns ``(result, None)`` or ``(None, error)``.

    Args:
        call: The call under test.
        surface: Counter name.
        verdict: OK (must succeed), BAD (must raise a LivnError) or ANY.
        suspects: Field names (and values) a refusal's message must name one of.
        timeout: Seconds before the case counts as a hang.
    """
    names = list(suspects.keys()) + list(suspects.values()) if isinstance(suspects, Mapping) else list(suspects)  # noqa: E501
    try:
        with case_timeout(timeout):
            result = call()
    except LivnError as e:
        count(surface, True)
        message = str(e)
        assert verdict != OK, f"a valid input was refused: {type(e).__name__}: {message}"
        assert message.strip(), "a refusal without a message"
        assert mentions(message, names), (
            f"the refusal does not name the offending field or value (one of {names!r}): "
            f"{message}"
        )
        return None, e
    count(surface, False)
    assert verdict != BAD, f"an invalid input was accepted (expected a LivnError); got {result!r}"
    return result, None


# ---------------------------------------------------------------------------- CLI
def run_cli(argv: list[str], timeout: float = 30.0) -> tuple[int, str, str]:
    """``livn.cli.main.main(argv)`` in this process: ``(exit status, stdout, stderr)``.

    An exception escaping ``main`` is printed as a traceback into stderr (as Python would)
    and the status is 1, so the contract check sees what a user would.
    """
    import traceback

    from livn.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            with case_timeout(timeout):
                code = main(argv)
        except CaseTimeout:
            raise
        except SystemExit as e:  # argparse
            code = e.code if isinstance(e.code, int) else 2
        except Exception:  # the contract check reports it
            traceback.print_exc(file=err)
            code = 1
    return code, out.getvalue(), err.getvalue()


def check_cli(code: int, out: str, err: str, *, surface: str, verdict: str,
              suspects: Iterable[Any]) -> bool:
    """Assert the CLI contract; returns True for a refusal (exit status 2)."""
    assert "Traceback" not in err, f"a traceback on the command line:\n{err}"
    if code == 0:
        count(surface, False)
        assert verdict != BAD, f"an invalid input was accepted (exit 0):\n{out}\n{err}"
        assert "livn: error:" not in err, err
        return False
    count(surface, True)
    assert code == 2, f"exit status {code} (expected 0, or 2 for bad input):\n{out}\n{err}"
    assert verdict != OK, f"a valid input was refused:\n{err}"
    assert err.count("livn: error:") == 1, f"not exactly one 'livn: error:' message:\n{err}"
    head = err[: err.index("livn: error:")].splitlines()
    assert all(ln.startswith(("livn: warning:", "usage:", " ")) for ln in head), (
        f"something other than warnings or the usage before 'livn: error:':\n{err}"
    )
    names = list(suspects)
    assert mentions(err, names), (
        f"the error does not name the offending field or value (one of {names!r}):\n{err}"
    )
    return True


# ---------------------------------------------------------------------------- files
USER_FILES = {
    "work/userfile.txt": b"a user's notes\n",
    "work/userdir/data.csv": b"x,y\n1,2\n",
    "work/userdir/nested/results.bin": bytes(range(256)),
    "work/emptydir/": None,
    "home/userfile.txt": b"home notes\n",
    "home/.config/app.ini": b"[x]\ny=1\n",
    "allowed/": None,
}


class Sandbox:
    """A fresh directory tree per case: ``work/`` (the current directory, holding a user's
    file and a directory of user files), ``home/`` (``$HOME``, with user files) and
    ``allowed/`` (``$LIVN_OUTPUT_ROOT`` when a case sets it).

    ``with Sandbox(base) as box:`` changes into ``work/`` and sets ``HOME``; :meth:`snapshot`
    records every entry (type, mode, bytes' digest) to compare before and after a call.
    """

    def __init__(self, base: str | os.PathLike, output_root: bool = False) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="case-", dir=base))
        for rel, data in USER_FILES.items():
            path = self.root / rel
            if data is None:
                path.mkdir(parents=True, exist_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        (self.root / "work" / "link_to_userdir").symlink_to(self.root / "work" / "userdir")
        self.work = self.root / "work"
        self.home = self.root / "home"
        self.allowed = self.root / "allowed"
        self.output_root = output_root
        self._saved: dict[str, Any] = {}

    def __enter__(self) -> Sandbox:
        self._saved = {"cwd": os.getcwd(), "HOME": os.environ.get("HOME"),
                       "ROOT": os.environ.get("LIVN_OUTPUT_ROOT")}
        os.chdir(self.work)
        os.environ["HOME"] = str(self.home)
        if self.output_root:
            os.environ["LIVN_OUTPUT_ROOT"] = str(self.allowed)
        else:
            os.environ.pop("LIVN_OUTPUT_ROOT", None)
        return self

    def __exit__(self, *exc: Any) -> None:
        os.chdir(self._saved["cwd"])
        for var, key in (("HOME", "HOME"), ("LIVN_OUTPUT_ROOT", "ROOT")):
            if self._saved[key] is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = self._saved[key]
        import shutil

        shutil.rmtree(self.root, ignore_errors=True)

    def snapshot(self) -> dict[str, tuple]:
        """``{relative path: (kind, mode, size, digest)}`` of every entry under the root."""
        return snapshot(self.root)

    def assert_user_files_intact(self) -> None:
        """Every pre-populated user file exists with its original bytes."""
        for rel, data in USER_FILES.items():
            path = self.root / rel
            if data is None:
                assert path.is_dir(), f"user directory {rel} was removed"
            else:
                assert path.is_file() and path.read_bytes() == data, f"user file {rel} changed"


def snapshot(root: Path) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                out[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_size, digest, st.st_mtime_ns)
    return out


def assert_unchanged(before: Mapping[str, tuple], after: Mapping[str, tuple], what: str) -> None:
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    assert not (added or removed or changed), (
        f"{what}: files changed (added {added[:5]}, removed {removed[:5]}, modified "
        f"{changed[:5]})"
    )


def assert_only_added_under(before: Mapping[str, tuple], after: Mapping[str, tuple],
                            prefix: str) -> None:
    """Everything that existed is unchanged; new entries lie under ``prefix`` (relative)."""
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after)
                     if before[k] != after[k] and before[k][0] != "dir")
    assert not removed and not changed, f"removed {removed[:5]}, modified {changed[:5]}"
    prefix = prefix.rstrip("/")
    stray = [k for k in set(after) - set(before)  # the directory, its contents, its parents
             if not (k == prefix or k.startswith(prefix + "/") or prefix.startswith(k + "/"))]
    assert not stray, f"files written outside the output directory {prefix}: {stray[:5]}"


def relative_in(root: Path, path: str | os.PathLike) -> str | None:
    """``path`` (resolved) relative to ``root``, or None if it lies outside."""
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except (ValueError, OSError):
        return None


def silence() -> contextlib.ExitStack:
    """Redirect stdout/stderr (progress lines and warnings) for a Python-surface call."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
    return stack


