"""Cartesian expansion of sweeps into stimuli, with canonical ids and seeds.

The order is the seed's: sweeps in file order; within a sweep the product of the parameter
lists in declaration order with the **last** parameter varying fastest, and repetitions
innermost (``a=10,s=0.5,rep0``, ``rep1``, ``rep2``, then ``s=1.0`` …). A stimulus's seed is
derived from its canonical content — pattern type, resolved parameters (sorted), repetition
and base seed — by SHA-256, so the same stimulus gets the same noise in any batch, process or
resumed run.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from livn.workflows.sweeps.config import BatchConfig
from livn.workflows.sweeps.patterns import get_pattern

__all__ = ["StimulusSpec", "count", "expand", "iter_stimuli", "stimulus_seed"]


@dataclass(frozen=True)
class StimulusSpec:
    """One stimulus of a batch.

    Attributes:
        index: Position in the batch (0-based).
        key: ``stim_0000``-style key (zero-padded to at least 4 digits).
        stimulus_id: Descriptive unique id from the swept parameters (those with more than one
            value) and the repetition, e.g. ``gaussian_a10.0_s0.3_rep0``; a repeat gets ``_1``.
        type: Pattern name.
        params: Resolved parameters (defaults filled in).
        swept: The parameters given in the sweep (for ids and indexes).
        rep: Repetition number.
        base_seed: The sweep's base seed.
        seed: Noise seed derived from the canonical content.
    """

    index: int
    key: str
    stimulus_id: str
    type: str
    params: dict[str, Any]
    swept: dict[str, Any] = field(default_factory=dict)
    rep: int = 0
    base_seed: int = 0
    seed: int = 0

    def config(self) -> dict[str, Any]:
        """The entry of ``stimulus_index.json``."""
        return {"stimulus_key": self.key, "stimulus_id": self.stimulus_id, "type": self.type,
                **self.params, "rep": self.rep, "base_seed": self.base_seed, "seed": self.seed}  # fmt: skip


def stimulus_seed(type_: str, params: dict[str, Any], rep: int, base_seed: int) -> int:
    """Seed (0 … 2³¹−1) from the canonical JSON of a stimulus's content."""
    text = json.dumps({"type": type_, "params": params, "rep": rep, "base_seed": base_seed},
                      sort_keys=True, separators=(",", ":"))  # fmt: skip
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


def _fmt(v: Any) -> str:
    if isinstance(v, float | int) and not isinstance(v, bool):
        return repr(float(v))
    if isinstance(v, list):
        return "-".join(_fmt(x) for x in v)
    return str(v)


def count(config: BatchConfig) -> int:
    """Number of stimuli, computed arithmetically (nothing is enumerated: a sweep of 10⁹
    stimuli is counted in microseconds)."""
    total = 0
    for sweep in config.batch.stimuli:
        n = sweep.repetitions
        for values in sweep.parameters.values():
            n *= len(values)
        total += n
    return total


def iter_stimuli(config: BatchConfig) -> Iterator[StimulusSpec]:
    """Every stimulus of the batch, in order, one at a time (parameters validated against
    their pattern as they are produced); ``itertools.islice`` it to look at the first few."""
    n_total = count(config)
    width = max(4, len(str(n_total - 1)))
    seen: dict[str, int] = {}
    i = 0
    for sweep in config.batch.stimuli:
        pattern = get_pattern(sweep.type)
        base = config.base_config.seed if sweep.base_seed is None else sweep.base_seed
        names = list(sweep.parameters)
        for combo in itertools.product(*(sweep.parameters[n] for n in names)):
            swept = dict(zip(names, combo, strict=True))
            params = pattern.resolve(swept)
            for rep in range(sweep.repetitions):
                abbr = "_".join(
                    f"{pattern.abbreviations.get(n, n)}{_fmt(v)}"
                    for n, v in swept.items()
                    if len(sweep.parameters[n]) > 1
                )
                sid = f"{pattern.name}_{abbr}_rep{rep}" if abbr else f"{pattern.name}_rep{rep}"
                if sid in seen:
                    seen[sid] += 1
                    sid = f"{sid}_{seen[sid]}"
                else:
                    seen[sid] = 0
                yield StimulusSpec(
                    index=i, key=f"stim_{i:0{width}d}", stimulus_id=sid, type=pattern.name,
                    params=params, swept=swept, rep=rep, base_seed=base,
                    seed=stimulus_seed(pattern.name, params, rep, base),
                )  # fmt: skip
                i += 1


def expand(config: BatchConfig) -> list[StimulusSpec]:
    """Every stimulus of the batch, in order (see :func:`iter_stimuli`)."""
    return list(iter_stimuli(config))
