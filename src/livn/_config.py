"""Turning pydantic validation errors into clear :class:`ConfigError` messages."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from livn.errors import ConfigError, did_you_mean

M = TypeVar("M", bound=BaseModel)



def _plain(value: Any) -> Any:
    """NumPy scalars as the Python values they hold (``np.int64(3)`` → ``3``), so a config
    built from arrays passes the same strict checks as one typed by hand; a NumPy integer is
    still not a float and a NumPy bool still not a count."""
    import numpy as np

    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


#: A count: an int, never a float (``1e12``, ``3.0``), a boolean or a string.
Count = Annotated[int, BeforeValidator(_plain), Field(strict=True)]
#: A finite real number: an int or a float, never NaN/±inf, a boolean or a string.
Real = Annotated[float, BeforeValidator(_plain), Field(strict=True, allow_inf_nan=False)]
#: A boolean: ``true``/``false`` only (not 0/1, not ``"yes"``).
Flag = Annotated[bool, BeforeValidator(_plain), Field(strict=True)]

#: Clearer wording for pydantic's type errors (the input contract of :mod:`livn.limits`).
_MESSAGES = {
    "int_type": "must be an integer; floats such as 1e3 or 3.0, booleans and strings are refused",
    "int_from_float": "must be an integer, not a float",
    "float_type": "must be a number (int or float); booleans and strings are refused",
    "finite_number": "must be a finite number, not NaN or infinity",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "dict_type": "must be a mapping (a JSON object)",
    "list_type": "must be a list",
}


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel class inside an annotation (``X``, ``X | None``, ``dict[str, X]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _field(model: type[BaseModel], key: str) -> Any:
    """The field of ``model`` spelled ``key`` (its name or its alias), else None."""
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _valid_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Keys (aliases where a field has one: as users write them) of the (sub)model that holds
    the key at ``loc``."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if current is None:
            return []
        field = _field(current, str(part))
        if field is None:
            continue  # a dict key (e.g. a population name): stay on the value's model
        current = _submodel(field.annotation)
    if current is None:
        return []
    return [f.alias or name for name, f in current.model_fields.items()]


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
        key = ".".join(str(p) for p in loc) if loc else "<config>"  # an empty key shows as ''
        if err["type"] == "extra_forbidden":
            valid = _valid_keys(model, loc)
            lines.append(
                f"unknown key '{key}'. Valid keys here: {', '.join(valid)}."
                f"{did_you_mean(str(loc[-1]), valid)}"
            )
        else:
            msg = _MESSAGES.get(err["type"], err["msg"].removeprefix("Value error, "))
            value = err.get("input")
            if isinstance(value, float) and value != value:  # NaN fails every comparison
                msg = _MESSAGES["finite_number"]
            if err["type"] == "value_error" and not loc:
                lines.append(msg)
            else:
                lines.append(f"invalid value for '{key}': {_short(err.get('input'))} ({msg}).")
    return f"Invalid {what}:\n  " + "\n  ".join(lines)


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " …" + text[-3:]
