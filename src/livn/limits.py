"""The input contract: typed values, finite numbers and size bounds, checked before any work.

Every surface (CLI ``key=value``, YAML sweeps, Python configs, ``Env``/``Stimulus``/``set_*``
calls) checks what a user supplies with the helpers here, so that the same rules and the same
messages hold everywhere:

* **Counts are integers**: :func:`integer` refuses floats (``1e12``, ``3.0``), booleans
  (``true`` is not 1) and strings.
* **Numbers are finite**: :func:`number` and :func:`finite_array` refuse NaN and ±inf in
  scalars and in arrays of any array library (NumPy, JAX, PyTorch, …; arrays being traced
  by ``jax.jit``/``jax.grad`` cannot be inspected and pass unchecked).
* **Sizes are bounded by what they cost**, estimated arithmetically before anything runs or
  is written (:func:`check_memory`, :func:`check_disk`, :func:`check_units`). A refusal states
  the estimate, the limit and the override.

Bounds (see docs/limits.md):

=====================  =====================================================================
``LIVN_MAX_MEMORY``    Memory one simulation (or one in-memory result) may take. Default:
                       half of this machine's physical memory. Accepts bytes or ``64GB``,
                       ``512MiB``, … Raising it is the override for ``Env.run``/``run_batch``.
``MAX_UNITS``          Samples per sampling job, stimuli per sweep: 1,000,000 (the controller
                       keeps about 1 KB of bookkeeping per unit, and each is one file).
``MAX_SEED``           Seeds are 0 … 2³² − 1 (JAX keys hold 32 bits: larger seeds would
                       silently repeat the noise of smaller ones).
``MAX_STEPS``          One run is at most 2³¹ − 1 integration steps (e.g. 14.9 h of simulated
                       time at dt = 0.025 ms); hard, not overridable.
Disk                   A job's estimated output must fit in the free space of its output
                       directory's file system.
``batch_size``         Trials the ``batched`` executor runs at once: their recordings must fit
                       ``LIVN_MAX_MEMORY`` together (on a GPU, their state must also fit the
                       GPU's free memory); a refusal names the estimate, the memory available
                       and the largest batch that fits. ``allow_large`` does not skip it.
=====================  =====================================================================

Jobs (``sample``, ``batch``) take ``allow_large`` (``allow_large=true`` on the CLI,
``batch.allow_large: true`` or ``--allow-large`` for sweeps) to skip the overridable bounds
for a job that really is that large.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from livn.errors import ConfigError, SizeLimitError

__all__ = [
    "FLOAT32_MAX",
    "MAX_SEED",
    "MAX_STEPS",
    "MAX_UNITS",
    "MEMORY_VAR",
    "batch_size",
    "check_batch",
    "check_disk",
    "check_memory",
    "check_units",
    "cores",
    "finite_array",
    "float32",
    "free_bytes",
    "human_bytes",
    "integer",
    "memory_budget",
    "number",
    "parse_bytes",
    "processes",
    "run_bytes",
    "seed",
    "steps",
]

#: Environment variable holding the memory budget of one simulation or in-memory result.
MEMORY_VAR = "LIVN_MAX_MEMORY"
#: Largest number of units (samples, stimuli) in one job unless ``allow_large``.
MAX_UNITS = 1_000_000
#: Largest seed: JAX PRNG keys hold 32 bits.
MAX_SEED = 2**32 - 1
#: Largest number of integration steps in one run (int32 step counters).
MAX_STEPS = 2**31 - 1

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
          "gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
          "tib": 2**40}  # fmt: skip


def integer(value: Any, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int, refusing floats, booleans and strings; within [minimum, maximum].

    Raises:
        ConfigError: Naming ``name``, the value and the valid range.
    """
    rng = _range_text(minimum, maximum)
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        hint = ""
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            hint = f" Write it as an integer ({int(value)}), not {value!r}."
        raise ConfigError(
            f"{name} must be an integer{rng}; got {value!r} ({type(value).__name__}).{hint}"
        )
    out = int(value)
    if (minimum is not None and out < minimum) or (maximum is not None and out > maximum):
        raise ConfigError(f"{name} must be an integer{rng}; got {out}.")
    return out


def number(
    value: Any,
    name: str,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    unit: str = "",
) -> float:
    """``value`` as a finite float within the bounds (booleans and strings refused).

    Args:
        value: The user's value.
        name: The field's name for the message.
        minimum, maximum: Inclusive bounds (``minimum`` exclusive with ``exclusive_minimum``).
        exclusive_minimum: Whether ``minimum`` itself is refused.
        unit: Unit shown in the message (``ms``, ``µS``, …).
    """
    of = f" of {unit}" if unit else ""
    if minimum == 0 and maximum is None:
        what = f"a {'positive' if exclusive_minimum else 'non-negative'} number{of} (finite)"
    else:
        low = (
            ""
            if minimum is None
            else (f"> {minimum:g}" if exclusive_minimum else f">= {minimum:g}")
        )
        high = "" if maximum is None else f"<= {maximum:g}"
        rng = " and ".join(x for x in (low, high) if x)
        what = f"a finite number{of}{' ' + rng if rng else ''}"
    if not _real_scalar(value):
        raise ConfigError(f"{name} must be {what}; got {value!r} ({type(value).__name__}).")
    try:
        out = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{name} must be {what}; got {value!r}.") from None
    if not math.isfinite(out):
        raise ConfigError(f"{name} must be {what}; got {value!r}.")
    if minimum is not None and (out <= minimum if exclusive_minimum else out < minimum):
        raise ConfigError(f"{name} must be {what}; got {value!r}.")
    if maximum is not None and out > maximum:
        raise ConfigError(f"{name} must be {what}; got {value!r}.")
    return out


def float32(value: float, name: str) -> float:
    """``value`` if it fits the engine's float32 (``|value| <= 3.4e38``), else ConfigError: a
    larger finite number would become infinite in the simulation."""
    if abs(value) > FLOAT32_MAX:
        raise ConfigError(
            f"{name} {value:g} is beyond float32's range (±3.4e38): the engine computes in float32, "
            "where it would be infinite."
        )
    return value


def _real_scalar(value: Any) -> bool:
    """An int or float scalar of Python, NumPy, JAX or PyTorch (0-d arrays included); not a
    boolean, complex, string or object."""
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, int | float | np.integer | np.floating):
        return True
    dtype, ndim = getattr(value, "dtype", None), getattr(value, "ndim", None)
    if dtype is None or ndim != 0 or _is_traced(value):
        return False
    try:  # NumPy and JAX dtypes are NumPy's; torch's print as "torch.float32"
        kind = np.dtype(str(dtype).removeprefix("torch.")).kind
    except TypeError:
        kind = ""
    if "float" in str(dtype):  # bfloat16 and other ml_dtypes floats have kind "V"
        kind = "f"
    return kind != "" and kind in "iuf"


def seed(value: Any, name: str = "seed") -> int:
    """A seed: an integer in 0 … :data:`MAX_SEED`."""
    return integer(value, name, 0, MAX_SEED)


def _is_traced(array: Any) -> bool:
    """True for a JAX tracer (inside ``jit``/``grad``/``vmap``): its values are unknown."""
    return any(c.__name__.endswith("Tracer") for c in type(array).__mro__)


#: Largest float32 magnitude: values beyond it become infinite in the engine's float32 state.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def finite_array(array: Any, name: str, float32: bool = False) -> None:
    """Raise :class:`ConfigError` if ``array`` holds NaN or ±inf (any array library).

    NumPy, JAX (concrete), PyTorch (CPU or GPU) and anything ``numpy.asarray`` can read are
    checked; traced JAX values pass (they are checked where they become concrete).

    Args:
        array: The values.
        name: The field's name for the message.
        float32: Also refuse finite values beyond the float32 range (±3.4e38), which the
            engine would turn into infinities.
    """
    if _is_traced(array):
        return
    mod = type(array).__module__.split(".")[0]
    limit = FLOAT32_MAX if float32 else math.inf
    if mod == "torch":
        import torch

        a = array.detach()
        bad = int(((~torch.isfinite(a)) | (a.abs() > limit)).sum()) if (
            a.is_floating_point() or a.is_complex()) else 0  # fmt: skip
    elif mod in ("jax", "jaxlib"):
        import jax.numpy as jnp

        bad = int(((~jnp.isfinite(array)) | (jnp.abs(array) > limit)).sum()) if jnp.issubdtype(
            array.dtype, jnp.inexact) else 0  # fmt: skip
    else:
        try:
            arr = np.asarray(array)
        except Exception as e:  # any unreadable array is reported the same way
            raise ConfigError(
                f"{name} must be a numeric array; got {type(array).__name__} ({e})."
            ) from None
        if arr.dtype == object or not (
            np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
        ):
            raise ConfigError(f"{name} must be a numeric array; got dtype {arr.dtype}.")
        if np.issubdtype(arr.dtype, np.inexact):
            with np.errstate(invalid="ignore"):
                bad = int(((~np.isfinite(arr)) | (np.abs(arr) > limit)).sum())
        else:
            bad = 0
    if bad:
        beyond = " (or beyond float32's range, ±3.4e38)" if float32 else ""
        raise ConfigError(
            f"{name} contains {bad} NaN or infinite value(s){beyond}; every value must be "
            f"finite{' in float32' if float32 else ''}."
        )


def cores() -> int:
    """Cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)  # pragma: no cover - not Linux


def processes(value: Any, name: str = "processes") -> int | None:
    """Local worker processes: ``None`` (all cores) or an integer in 1 … 4 per core."""
    if value is None:
        return None
    most = 4 * cores()
    n = integer(value, name, 1)
    if n > most:
        raise ConfigError(
            f"{name} must be at most {most} (4 per core on this machine); got {n}. More local "
            "worker processes only oversubscribe the cores and multiply memory use."
        )
    return n


def steps(duration: float, dt: float, name: str = "duration", fix: str | None = None) -> int:
    """Integration steps for ``duration`` ms at ``dt`` ms: at least 1, at most MAX_STEPS.

    Args:
        duration: ms.
        dt: The model's integration step, ms.
        name: The field's name for the message.
        fix: What to do about a too-long duration (default: split it into several runs).
    """
    ratio = duration / dt
    n = round(ratio) if math.isfinite(ratio) else MAX_STEPS + 1  # 1e308 / 0.025 overflows
    if n < 1:
        raise ConfigError(
            f"{name} {duration!r} ms is shorter than one integration step (dt = {dt:g} ms); "
            f"give at least {dt:g} ms."
        )
    if n > MAX_STEPS:
        fix = fix or "Split it into several runs (the Env keeps its state between runs)"
        steps_text = f"{n:,}" if math.isfinite(ratio) else "more than 10³⁰⁸"
        raise ConfigError(
            f"{name} {duration:g} ms is {steps_text} integration steps of {dt:g} ms; one run is at most "
            f"{MAX_STEPS:,} steps ({MAX_STEPS * dt / 3.6e6:.1f} h simulated). {fix}."
        )
    return n


# ---------------------------------------------------------------------------- sizes
def parse_bytes(text: str | int) -> int:
    """``"64GB"``, ``"512MiB"``, ``"1e9"`` or an int → bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    m = re.fullmatch(r"\s*([0-9.eE+]+)\s*([A-Za-z]*)\s*", str(text))
    if m is None or m.group(2).lower() not in _UNITS:
        raise ConfigError(
            f"{MEMORY_VAR}={text!r} is not a size; use bytes or a unit, e.g. 64GB or 512MiB."
        )
    try:
        value = float(m.group(1))
    except ValueError:
        raise ConfigError(f"{MEMORY_VAR}={text!r} is not a size; e.g. 64GB.") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{MEMORY_VAR}={text!r} must be a positive size, e.g. 64GB.")
    return int(value * _UNITS[m.group(2).lower()])


def physical_memory() -> int:
    """Bytes of physical memory of this machine (8 GiB if it cannot be read)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 * 2**30


def memory_budget() -> int:
    """Bytes one simulation or in-memory result may take: ``$LIVN_MAX_MEMORY``, else half of
    the physical memory."""
    text = os.environ.get(MEMORY_VAR)
    return parse_bytes(text) if text else physical_memory() // 2


def human_bytes(n: float) -> str:
    """``1536`` → ``"1.5 KiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def spike_capacity(n_cells: int, n_steps: int, dt: float) -> int:
    """Spike-buffer entries the engine allocates for a run: every cell at 200 Hz, rounded up
    to a power of two (at least 1,024)."""
    need = max(1024, int(n_cells * n_steps * dt / 1000.0 * 200.0))
    return 1 << (need - 1).bit_length()


def run_bytes(n_cells: int, n_steps: int, dt: float, record_dt: float, record_v: bool = False,
              record_im: bool = False, batch: int = 1) -> int:  # fmt: skip
    """Estimated peak bytes of one ``Env.run`` (``batch`` trials for ``run_batch``).

    The engine allocates a spike buffer (8 bytes per entry, :func:`spike_capacity`) and, when
    recorded, voltage and membrane current of every cell every ``record_dt`` (4 bytes each);
    results are copied to the host once (× 2).
    """
    blocks = n_steps * dt / record_dt
    per = spike_capacity(n_cells, n_steps, dt) * 8 + blocks * n_cells * 4 * (
        int(record_v) + int(record_im)
    )
    return int(2 * batch * per)


def batch_size(value: Any, name: str = "batch_size") -> int | str:
    """A batch size of the ``batched`` executor: an integer >= 1, or ``"auto"``.

    Raises:
        ConfigError: Naming ``name``, the value and the valid choices.
    """
    if isinstance(value, str):
        if value == "auto":
            return value
        hint = " (lower case)" if value.strip().lower() == "auto" else ""
        raise ConfigError(
            f"{name} must be an integer >= 1 or 'auto'{hint}; got {value!r}. Give the trials "
            f"to run at once, e.g. {name}=8, or {name}=auto to pick by memory and device."
        )
    try:
        return integer(value, name, 1)
    except ConfigError as e:
        raise ConfigError(f"{e} Or give {name}=auto to pick by memory and device.") from None


def check_batch(batch: int, per_trial: float, what: str, available: float, where: str,
                fix: str) -> None:  # fmt: skip
    """Refuse a batch of ``batch`` trials of ``per_trial`` bytes each above ``available``.

    Args:
        batch: Trials run at once.
        per_trial: Estimated bytes of one trial.
        what: One trial (``"5000 ms samples of 100 cells recording spikes+voltage"``).
        available: Bytes available (``memory_budget()``, or a GPU's free memory).
        where: Which memory, and where its size comes from.
        fix: How else to make one trial smaller.

    Raises:
        SizeLimitError: Naming the estimate, the memory available and the largest batch that
            fits (with the fix).
    """
    need = batch * per_trial
    if need <= available:
        return
    fits = int(available // per_trial) if per_trial > 0 else batch
    if fits >= 1:
        advice = f"The largest batch that fits is {fits:,}: pass batch_size={fits} or lower"
    else:
        advice = f"Not even one trial fits: {fix}"
    raise SizeLimitError(
        f"batch_size={batch:,}: {batch:,} {what} need about {human_bytes(need)} of {where} at "
        f"once (~{human_bytes(per_trial)} each), but {human_bytes(available)} is available. "
        f"{advice}, or batch_size=auto to pick by memory."
    )


def check_memory(estimate: float, what: str, fix: str, allow_large: bool | None = None,
                 override: str = "allow_large=true") -> None:  # fmt: skip
    """Refuse ``estimate`` bytes above :func:`memory_budget`.

    Args:
        estimate: Estimated bytes.
        what: What needs it (``"a 1e+09 ms run of 100 cells"``).
        fix: How to make it smaller (``"Shorten duration"``).
        allow_large: The job's explicit override (``None``: the caller has no such option,
            only ``LIVN_MAX_MEMORY`` is offered).
        override: How the user spells ``allow_large`` on this surface.
    """
    limit = memory_budget()
    if estimate > limit and not allow_large:
        job = f" or {override}" if allow_large is not None else ""
        raise SizeLimitError(
            f"{what} needs about {human_bytes(estimate)} of memory, above the limit of "
            f"{human_bytes(limit)} ({MEMORY_VAR}; default half of this machine's memory). "
            f"{fix}; or, if you mean it, raise the limit (e.g. {MEMORY_VAR}="
            f"{_suggest(estimate)}){job}."
        )


def free_bytes(path: str | os.PathLike) -> int:
    """Free bytes on the file system of ``path`` (or its nearest existing parent)."""
    p = Path(path).resolve()
    while not p.exists() and p != p.parent:
        p = p.parent
    return int(shutil.disk_usage(p).free)


def check_disk(estimate: float, path: str | os.PathLike, what: str, fix: str,
               allow_large: bool = False, override: str = "allow_large=true") -> None:  # fmt: skip
    """Refuse a job whose estimated output exceeds the free space at ``path``."""
    free = free_bytes(path)
    if estimate > free and not allow_large:
        raise SizeLimitError(
            f"{what} would write about {human_bytes(estimate)}, but {path} has only "
            f"{human_bytes(free)} free. {fix}, or choose another output directory; "
            f"{override} skips this check."
        )


def check_units(n: int, what: str, units: str, fix: str, allow_large: bool = False,
                override: str = "allow_large=true") -> None:  # fmt: skip
    """Refuse more than :data:`MAX_UNITS` units (samples, stimuli) in one job.

    Args:
        n: The job's count.
        what: The job (``"sampling job 'd'"``).
        units: What is counted (``"samples"``).
        fix: How to make it smaller.
        allow_large: The job's explicit override.
        override: How the user spells ``allow_large`` on this surface.
    """
    if n > MAX_UNITS and not allow_large:
        raise SizeLimitError(
            f"{what} has {n:,} {units}, above the limit of {MAX_UNITS:,} per job (each is one "
            f"file and about 1 KB of bookkeeping). {fix}; or {override} if you mean it."
        )


def _suggest(estimate: float) -> str:
    gb = max(1, math.ceil(estimate * 1.25 / 1e9))
    return f"{gb}GB"


def _range_text(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in {minimum:,} … {maximum:,}"
    if minimum is not None:
        return f" >= {minimum:,}"
    if maximum is not None:
        return f" <= {maximum:,}"
    return ""
