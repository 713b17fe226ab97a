"""The YAML configuration of a batch of stimulus sweeps (seed 003, adapted to livn).

```yaml
metadata: {batch_name: my_sweep, version: "1.0", description: ..., author: ..., date: ...}
base_config: {system: EI2, model: null, duration: 1000, noise: true, seed: 0, device: cpu}
batch:
  output_dir: ./batch_results/my_sweep
  save_format: pytorch          # pytorch | hdf5 | dataset
  save_intermediates: false     # also voltages, membrane currents and the stimulus
  stimuli:
    - type: gaussian_sweep
      base_seed: 42
      parameters: {amplitude: [10, 20], sigma: [0.5, 1.0]}
      repetitions: 3
```
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from livn import limits
from livn._config import Count, Flag, Real, validate
from livn._yaml import MAX_DEPTH, MAX_NODES, expanded_size, loader
from livn.errors import ConfigError

__all__ = ["BaseConfig", "BatchConfig", "BatchSection", "Metadata", "SweepSpec", "load_config"]

SAVE_FORMATS = ("pytorch", "hdf5", "dataset")


class Metadata(BaseModel):
    """Descriptive metadata; ``batch_name`` prefixes the batch id."""

    model_config = ConfigDict(extra="forbid")
    batch_name: str = "batch"
    version: str | None = None
    description: str | None = None
    author: str | None = None
    date: str | datetime.date | None = None

    @field_validator("batch_name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v or any(c in v for c in "/\\\n"):
            raise ValueError("batch_name must be non-empty, without slashes or newlines")
        return v


class BaseConfig(BaseModel):
    """What every stimulus of the batch runs on."""

    model_config = ConfigDict(extra="forbid")
    system: str = "EI2"
    model: str | None = None
    duration: Real = Field(1000.0, gt=0, description="ms per stimulus")
    noise: Flag = True
    seed: Count = Field(
        0, ge=0, le=limits.MAX_SEED, description="default base_seed of sweeps that give none"
    )
    device: Literal["cpu", "cuda"] = "cpu"

    @field_validator("system")
    @classmethod
    def _system(cls, v: str) -> str:
        if not v.strip() or "\x00" in v:
            raise ValueError("must be a predefined system name or a system directory path")
        return v


class SweepSpec(BaseModel):
    """One sweep: a pattern type, parameter lists (Cartesian product) and repetitions."""

    model_config = ConfigDict(extra="forbid")
    type: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    repetitions: Count = Field(1, ge=1)
    base_seed: Count | None = Field(None, ge=0, le=limits.MAX_SEED)

    @field_validator("parameters")
    @classmethod
    def _lists(cls, value: dict[str, Any]) -> dict[str, list[Any]]:
        out = {}
        for k, v in value.items():
            values = v if isinstance(v, list) else [v]
            if not values:
                raise ValueError(f"parameter {k!r} has an empty list of values")
            out[str(k)] = values
        return out


class BatchSection(BaseModel):
    """Where and how results are saved, and the sweeps."""

    model_config = ConfigDict(extra="forbid")
    output_dir: str
    save_format: Literal["pytorch", "hdf5", "dataset"] = "pytorch"
    save_intermediates: Flag = False
    allow_large: Flag = Field(
        False, description="skip the overridable size bounds (stimuli, memory, disk)"
    )
    stimuli: list[SweepSpec] = Field(min_length=1)

    @field_validator("output_dir")
    @classmethod
    def _output(cls, v: str) -> str:
        if not v.strip() or "\x00" in v:
            raise ValueError("must be a directory path, e.g. ./batch_results/my_sweep")
        return v


class BatchConfig(BaseModel):
    """A whole batch file."""

    model_config = ConfigDict(extra="forbid")
    metadata: Metadata = Field(default_factory=Metadata)
    base_config: BaseConfig = Field(default_factory=BaseConfig)
    batch: BatchSection


def load_config(path: str | Path) -> BatchConfig:
    """Read and validate a batch YAML file; errors name the file, key and fix."""
    import yaml

    path = Path(path)
    try:
        exists = path.is_file()
    except (OSError, ValueError) as e:  # a name too long, a NUL byte
        raise ConfigError(f"batch config {str(path)!r} cannot be read: {e}.") from None
    if not exists:
        what = "is not a regular file" if path.exists() else "does not exist"
        raise ConfigError(f"batch config {path} {what}; pass the path of a YAML file.")
    try:
        data = yaml.load(path.read_text("utf-8"), Loader=_loader())  # a SafeLoader
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not a UTF-8 text file ({e}).") from None
    except RecursionError:
        raise ConfigError(
            f"{path}: the YAML is nested too deeply to read; a batch file needs a few levels."
        ) from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot be read ({e.strerror or e}).") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping with metadata, base_config and batch; got "
            f"{type(data).__name__}."
        )
    size, depth = _expanded_size(data)
    if depth == math.inf:
        raise ConfigError(f"{path}: the YAML has an alias inside itself (a recursive value).")
    if depth > MAX_DEPTH:
        raise ConfigError(
            f"{path}: the YAML is nested {depth} levels deep, above {MAX_DEPTH}; a batch file "
            "needs a few levels."
        )
    if size > MAX_NODES:
        raise ConfigError(
            f"{path}: the YAML expands to {size:,} values (YAML aliases repeat whole subtrees), "
            f"above {MAX_NODES:,}; write the sweep without nested aliases."
        )
    return validate(BatchConfig, data, f"batch config {path}")


# The safe loader and size bounds are shared with the other YAML surfaces (livn._yaml).
_loader = loader
_expanded_size = expanded_size
