"""Cell placement for 2D cultures: built-in areas and custom placement callables.

A placement function has the signature ``f(count, rng, **kwargs) -> (xs, ys)`` and returns
``count`` x and y positions in µm. ``rng`` is a :class:`numpy.random.Generator`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from livn.errors import ConfigError, LivnError, did_you_mean

PlacementFn = Callable[..., tuple[np.ndarray, np.ndarray]]

#: Largest coordinate (absolute value, µm) of a built-in area: positions are stored as float32,
#: and a culture larger than a kilometre is a typo.
MAX_COORDINATE = 1e9


def rectangle(
    count: int,
    rng: np.random.Generator,
    x_range: tuple[float, float] = (0.0, 4000.0),
    y_range: tuple[float, float] = (0.0, 4000.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform positions in ``x_range × y_range`` (µm)."""
    (x0, x1), (y0, y1) = _range("x_range", x_range), _range("y_range", y_range)
    return rng.uniform(x0, x1, size=count), rng.uniform(y0, y1, size=count)


def disk(
    count: int,
    rng: np.random.Generator,
    center: tuple[float, float] = (0.0, 0.0),
    radius: float = 500.0,
    inner_radius: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform positions in a disk, or an annulus if ``inner_radius > 0`` (µm)."""
    (cx, cy), radius, inner_radius = _disk(center, radius, inner_radius)
    r = np.sqrt(rng.uniform(inner_radius**2, radius**2, size=count))
    theta = rng.uniform(0.0, 2 * np.pi, size=count)
    return cx + r * np.cos(theta), cy + r * np.sin(theta)


def _disk(center: Any, radius: Any, inner_radius: Any) -> tuple[tuple[float, float], float, float]:
    """The disk's ``(center, radius, inner_radius)`` as finite floats, else ConfigError."""
    from livn.limits import number

    radius = number(radius, "area_kwargs.radius", 0.0, MAX_COORDINATE, exclusive_minimum=True,
                    unit="µm")  # fmt: skip
    inner_radius = number(inner_radius, "area_kwargs.inner_radius", 0.0, unit="µm")
    if not inner_radius < radius:
        raise ConfigError(
            f"area_kwargs.inner_radius must satisfy 0 <= inner_radius < radius ({radius:g}); "
            f"got {inner_radius!r}."
        )
    return _pair("center", center), radius, inner_radius


def _pair(name: str, value: Any) -> tuple[float, float]:
    from livn.limits import number

    if isinstance(value, str | bytes) or not hasattr(value, "__len__") or len(value) != 2:
        raise ConfigError(f"area_kwargs.{name} must be two numbers [a, b] in µm; got {value!r}.")
    return tuple(number(v, f"area_kwargs.{name}", -MAX_COORDINATE, MAX_COORDINATE, unit="µm")
                 for v in value)  # type: ignore[return-value]


def _range(name: str, value: Any) -> tuple[float, float]:
    lo, hi = _pair(name, value)
    if not lo < hi:
        raise ConfigError(f"area_kwargs.{name} must have min < max; got {value!r}.")
    return lo, hi


BUILTIN_AREAS: dict[str, PlacementFn] = {"rectangle": rectangle, "disk": disk}
_ALIAS_PREFIXES = ("systems.generate_2d.", "livn.workflows.generate_2d.", "livn.system.culture.")


def resolve_area(area: str | PlacementFn) -> tuple[str, PlacementFn]:
    """Resolve an area name, dotted path or callable to ``(canonical name, function)``.

    Built-ins are ``rectangle`` and ``disk``; ``systems.generate_2d.rectangle`` (the seed's
    path) and ``livn.workflows.generate_2d.rectangle`` are accepted as aliases.
    """
    if callable(area):
        return f"{area.__module__}.{area.__qualname__}", area
    name = str(area)
    short = name
    for prefix in _ALIAS_PREFIXES:
        if name.startswith(prefix):
            short = name[len(prefix) :]
    if short in BUILTIN_AREAS:
        return short, BUILTIN_AREAS[short]
    if "." in name:
        module, _, attr = name.rpartition(".")
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise ConfigError(
                f"area {name!r} cannot be imported ({e}). Use 'rectangle', 'disk', or the dotted "
                "path of a function f(count, rng, **kwargs) -> (xs, ys)."
            ) from None
        if not callable(fn):
            raise ConfigError(f"area {name!r} is not callable.")
        return name, fn
    raise ConfigError(
        f"unknown area {name!r}. Valid: 'rectangle', 'disk', or the dotted path of a placement "
        f"function.{did_you_mean(short, BUILTIN_AREAS)}"
    )


def check_area_kwargs(name: str, fn: PlacementFn, kwargs: dict[str, Any]) -> None:
    """Raise ConfigError if ``kwargs`` has keys the placement function does not accept."""
    if not isinstance(kwargs, dict):
        raise ConfigError(f"area_kwargs must be a mapping; got {kwargs!r}.")
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have none: checked when called
        return
    params = signature.parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        valid = [p for p in list(params)[2:]]
        for key in kwargs:
            if key not in valid:
                raise ConfigError(
                    f"area_kwargs.{key} is not accepted by area {name!r}. Valid keys: "
                    f"{', '.join(valid) or '(none)'}.{did_you_mean(key, valid)}"
                )
    try:
        signature.bind(0, None, **kwargs)
    except TypeError as e:
        raise ConfigError(
            f"area {name!r} cannot be called as f(count, rng, **area_kwargs) ({e}); an area "
            "function takes the number of cells and a numpy Generator."
        ) from None
    if fn is rectangle:  # the built-ins' values are checked before anything is built
        for key in ("x_range", "y_range"):
            if key in kwargs:
                _range(key, kwargs[key])
    elif fn is disk:
        _disk(kwargs.get("center", (0.0, 0.0)), kwargs.get("radius", 500.0),
              kwargs.get("inner_radius", 0.0))  # fmt: skip


def area_size(name: str, kwargs: dict[str, Any]) -> float | None:
    """Surface (µm²) of a built-in area, or None for custom areas."""
    if name == "rectangle":
        (x0, x1), (y0, y1) = (kwargs.get(k, (0.0, 4000.0)) for k in ("x_range", "y_range"))
        return (float(x1) - float(x0)) * (float(y1) - float(y0))
    if name == "disk":
        r, ir = float(kwargs.get("radius", 500.0)), float(kwargs.get("inner_radius", 0.0))
        return float(np.pi * (r * r - ir * ir))
    return None


def area_bounds(name: str, kwargs: dict[str, Any]) -> tuple[list[float], list[float]] | None:
    """``(lower, upper)`` xy corners of a built-in area, or None for custom areas."""
    if name == "rectangle":
        merged = {"x_range": (0.0, 4000.0), "y_range": (0.0, 4000.0), **kwargs}
        (x0, x1), (y0, y1) = merged["x_range"], merged["y_range"]
        return [float(x0), float(y0)], [float(x1), float(y1)]
    if name == "disk":
        merged = {"center": (0.0, 0.0), "radius": 500.0, **kwargs}
        (cx, cy), r = merged["center"], float(merged["radius"])
        return [cx - r, cy - r], [cx + r, cy + r]
    return None


def place(
    fn: PlacementFn, count: int, rng: np.random.Generator, kwargs: dict[str, Any], label: str
) -> np.ndarray:
    """Call a placement function and check its output; returns ``[count, 2]`` float64."""
    try:
        out = fn(count, rng, **kwargs)
    except LivnError:
        raise
    except Exception as e:  # a user's placement function: name it, not a traceback
        raise ConfigError(
            f"area function for {label} failed ({type(e).__name__}: {e}); it must be "
            "f(count, rng, **area_kwargs) -> (xs, ys)."
        ) from None
    try:
        xs, ys = out
        xy = np.column_stack([np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)])
    except (TypeError, ValueError) as e:
        raise ConfigError(f"area function for {label} must return (xs, ys) arrays ({e}).") from None
    if xy.shape != (count, 2) or not np.all(np.isfinite(xy)):
        raise ConfigError(
            f"area function for {label} returned positions of shape {xy.shape} (or non-finite "
            f"values); expected two arrays of {count} finite values."
        )
    return xy
