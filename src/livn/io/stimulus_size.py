"""livn 2.0.0's bound on the size of a stimulus: ``LIVN_MAX_STIMULUS_GB``.

livn 2.0.0 refuses (``MemoryError``) a stimulus whose array would exceed
``$LIVN_MAX_STIMULUS_GB`` GiB (default 5; a value ``<= 0`` means no limit). It is a separate
bound from our ``LIVN_MAX_MEMORY`` (:mod:`livn.limits`), which bounds what one run allocates
for its recordings and spike buffer, in bytes with units, and has no "no limit" value; so
``LIVN_MAX_STIMULUS_GB`` is its own variable here, not an alias: :func:`check_stimulus_bytes`
checks the size of a stimulus array before it is built. The refusal is a
:class:`StimulusTooLargeError`: a :class:`livn.errors.SizeLimitError` (so a ``ConfigError``)
and also a ``MemoryError``, as 2.0.0 scripts catch.
"""

from __future__ import annotations

import math
import os

from livn.errors import ConfigError, SizeLimitError

__all__ = ["DEFAULT_MAX_STIMULUS_GB", "MAX_STIMULUS_GB_ENV", "StimulusTooLargeError",
           "check_stimulus_bytes", "max_stimulus_bytes"]  # fmt: skip

#: Environment variable: the largest stimulus array, GiB (``<= 0``: no limit).
MAX_STIMULUS_GB_ENV = "LIVN_MAX_STIMULUS_GB"
#: Its default, GiB.
DEFAULT_MAX_STIMULUS_GB = 5.0


class StimulusTooLargeError(SizeLimitError, MemoryError):
    """A stimulus array above ``$LIVN_MAX_STIMULUS_GB``."""

    __str__ = SizeLimitError.__str__


def max_stimulus_bytes() -> float:
    """The bound in bytes from ``$LIVN_MAX_STIMULUS_GB`` (GiB; default 5); ``inf`` for a value
    ``<= 0``.

    Raises:
        ConfigError: The variable is not a number.
    """
    text = os.environ.get(MAX_STIMULUS_GB_ENV, "").strip()
    try:
        gb = float(text) if text else DEFAULT_MAX_STIMULUS_GB
    except ValueError:
        gb = math.nan
    if math.isnan(gb):
        raise ConfigError(
            f"{MAX_STIMULUS_GB_ENV}={text!r} is not a number of GiB; e.g. 5, or 0 for no limit."
        )
    return math.inf if gb <= 0 else gb * 2**30


def check_stimulus_bytes(nbytes: float, what: str = "the stimulus") -> None:
    """Refuse a stimulus array of ``nbytes`` above :func:`max_stimulus_bytes`.

    Raises:
        StimulusTooLargeError: With the size, the bound and how to raise it.
    """
    limit = max_stimulus_bytes()
    if nbytes > limit:
        raise StimulusTooLargeError(
            f"{what} needs {nbytes / 2**30:.2f} GiB, above the limit of {limit / 2**30:g} GiB "
            f"({MAX_STIMULUS_GB_ENV}). Use a coarser stimulus dt or a shorter run; or raise "
            f"the limit (e.g. {MAX_STIMULUS_GB_ENV}={math.ceil(nbytes / 2**30)}, 0 for none)."
        )
