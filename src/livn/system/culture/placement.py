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

from livn.errors import ConfigError, did_you_mean

PlacementFn = Callable[..., tuple[np.ndarray, np.ndarray]]


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
    if not radius > 0:
        raise ConfigError(f"area_kwargs.radius must be > 0 µm; got {radius!r}.")
    if not 0 <= inner_radius < radius:
        raise ConfigError(
            f"area_kwargs.inner_radius must satisfy 0 <= inner_radius < radius ({radius}); "
            f"got {inner_radius!r}."
        )
    cx, cy = (float(c) for c in center)
    r = np.sqrt(rng.uniform(inner_radius**2, radius**2, size=count))
    theta = rng.uniform(0.0, 2 * np.pi, size=count)
    return cx + r * np.cos(theta), cy + r * np.sin(theta)


def _range(name: str, value: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"area_kwargs.{name} must be [min, max] in µm; got {value!r}.") from None
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
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    valid = [p for p in list(params)[2:]]
    for key in kwargs:
        if key not in valid:
            raise ConfigError(
                f"area_kwargs.{key} is not accepted by area {name!r}. Valid keys: "
                f"{', '.join(valid) or '(none)'}.{did_you_mean(key, valid)}"
            )


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
    out = fn(count, rng, **kwargs)
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
