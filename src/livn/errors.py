"""Exceptions raised by livn.

Every error a user can trigger with bad input is a :class:`LivnError`; its message names the
bad value, the valid choices and the fix. The CLI prints these messages without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LivnError(Exception):
    """Base class of all errors livn raises for bad input or bad files."""


class ConfigError(LivnError, ValueError):
    """A configuration value is unknown, of the wrong type, or out of range."""


class SystemFormatError(LivnError):
    """A system directory is missing a file, or a file is corrupt or of another format."""


class UnknownSystemError(LivnError, ValueError):
    """A system name is neither predefined nor a path to an existing system directory."""


class NotAvailableError(LivnError):
    """A feature exists in the product but is not available in this installation/version."""


class MissingDependencyError(LivnError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class ConnectivityWarning(UserWarning):
    """A requested connectivity cannot be fully realised (e.g. too few candidate partners)."""


def positive_ms(value, name: str) -> float:
    """``value`` as a positive, finite float (ms), else ConfigError naming ``name``.

    Booleans and strings are refused (see :func:`livn.limits.number`).
    """
    from livn.limits import number

    return number(value, name, minimum=0.0, exclusive_minimum=True, unit="ms")


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or ``""`` if none is close."""
    matches = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.5)
    return f" Did you mean '{matches[0]}'?" if matches else ""


def require(module: str, extra: str):
    """Import an optional dependency or raise :class:`MissingDependencyError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            f"This feature needs the optional dependency '{module}', which is not installed. "
            f"Install it with: pip install 'livn[{extra}]'"
        ) from e


class SizeLimitError(ConfigError):
    """A job or call is larger than a documented bound (memory, disk, units); the message gives
    the estimate, the limit and the override (see :mod:`livn.limits`)."""
