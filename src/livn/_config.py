"""Turning pydantic validation errors into clear :class:`ConfigError` messages."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from livn.errors import ConfigError, did_you_mean

M = TypeVar("M", bound=BaseModel)


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel class inside an annotation (``X``, ``X | None``, ``dict[str, X]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _valid_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (sub)model that holds the key at ``loc``."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if current is None:
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            continue  # a dict key (e.g. a population name): stay on the value's model
        current = _submodel(field.annotation)
    return list(current.model_fields) if current is not None else []


def validate(model: type[M], data: Mapping[str, Any] | M | None, what: str = "config") -> M:
    """Validate ``data`` against ``model``; errors name the key, the value and the fix."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(dict(data or {}))
    except ValidationError as e:
        raise ConfigError(format_errors(model, e, what)) from None


def format_errors(model: type[BaseModel], error: ValidationError, what: str) -> str:
    """One line per problem, e.g. ``unknown key 'totl_cells' … Did you mean 'total_cells'?``."""
    lines = []
    for err in error.errors():
        loc = tuple(p for p in err["loc"] if not str(p).startswith("function-"))
        key = ".".join(str(p) for p in loc) or "<config>"
        if err["type"] == "extra_forbidden":
            valid = _valid_keys(model, loc)
            lines.append(
                f"unknown key '{key}'. Valid keys here: {', '.join(valid)}."
                f"{did_you_mean(str(loc[-1]), valid)}"
            )
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "value_error" and not loc:
                lines.append(msg)
            else:
                lines.append(f"invalid value for '{key}': {err.get('input')!r} ({msg}).")
    return f"Invalid {what}:\n  " + "\n  ".join(lines)
