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
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from livn._config import validate
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
    duration: float = Field(1000.0, gt=0, description="ms per stimulus")
    noise: bool = True
    seed: int = Field(0, ge=0, description="default base_seed of sweeps that give none")
    device: Literal["cpu", "cuda"] = "cpu"


class SweepSpec(BaseModel):
    """One sweep: a pattern type, parameter lists (Cartesian product) and repetitions."""

    model_config = ConfigDict(extra="forbid")
    type: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    repetitions: int = Field(1, ge=1)
    base_seed: int | None = Field(None, ge=0)

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
    save_intermediates: bool = False
    stimuli: list[SweepSpec] = Field(min_length=1)


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
    if not path.is_file():
        raise ConfigError(f"batch config {path} does not exist; pass the path of a YAML file.")
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping with metadata, base_config and batch; got "
            f"{type(data).__name__}."
        )
    return validate(BatchConfig, data, f"batch config {path}")
