"""``Stimulus``: a time-discretised input to the cells of a system (seed 004).

A stimulus is an array ``[T, n]`` of values held constant for ``dt`` ms each: for direct current
injection the values are currents in nA into ``n`` cells (all cells in gid order unless ``gids``
names them). Arrays may be NumPy arrays or JAX arrays (so gradients can flow through them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from livn import limits
from livn.errors import ConfigError, positive_ms


class Stimulus:
    """Time-discretised input.

    Args:
        array: ``[T, n]`` values (nA for current injection); each row lasts ``dt`` ms.
        dt: Duration of one row, ms (> 0).
        gids: ``[n]`` gids the columns refer to; default: all cells in gid order.
        space: ``"cells"`` (columns are cells, values nA into the soma) or ``"channels"``
            (columns are MEA electrodes, values µA; see ``Env.cell_stimulus``).

    Raises:
        ConfigError: For arrays that are not 2D, non-finite values, a non-positive ``dt`` or
            ``gids`` whose length does not match the columns.
    """

    def __init__(self, array: Any, dt: float = 1.0, gids: Any | None = None,
                 space: str = "cells") -> None:  # fmt: skip
        if space not in ("cells", "channels"):
            raise ConfigError(f"Stimulus space must be 'cells' or 'channels'; got {space!r}.")
        from_list = not hasattr(array, "ndim")
        if from_list:
            try:
                array = np.asarray(array)  # not yet float32: '0.5' strings must not parse
            except (TypeError, ValueError) as e:
                raise ConfigError(
                    f"Stimulus array must be numeric [timesteps, cells]; got {e}."
                ) from None
        if array.ndim == 1:
            raise ConfigError(
                f"Stimulus array must be 2D [timesteps, cells]; got shape {tuple(array.shape)}. "
                "For a single cell use array[:, None]."
            )
        if array.ndim != 2:
            raise ConfigError(
                f"Stimulus array must be 2D [timesteps, cells]; got shape {tuple(array.shape)}."
            )
        if isinstance(array, np.ndarray) and not np.issubdtype(array.dtype, np.number):
            raise ConfigError(f"Stimulus array must be numeric; got dtype {array.dtype}.")
        kind = str(getattr(array, "dtype", ""))
        if "complex" in kind or "bool" in kind:  # any array library
            raise ConfigError(
                f"Stimulus array must hold real numbers (currents); got dtype {kind}."
            )
        # NumPy, JAX, torch, … (not traced values); the engine computes in float32
        limits.finite_array(array, "Stimulus array", float32=True)
        if from_list:
            array = array.astype(np.float32)
        elif type(array).__module__.split(".")[0] == "torch":
            # JAX reads tensors through NumPy, which refuses one that requires grad; gradients
            # do not flow from JAX back into torch anyway
            array = array.detach().cpu().numpy()
        dt = positive_ms(dt, "Stimulus dt")
        if gids is not None:
            raw = np.asarray(gids).reshape(-1)
            if raw.dtype == bool or not np.issubdtype(raw.dtype, np.integer):
                raise ConfigError(
                    f"Stimulus gids must be integers (cell ids); got dtype {raw.dtype}."
                )
            gids = raw.astype(np.int64)
            if len(gids) != array.shape[1]:
                raise ConfigError(
                    f"Stimulus gids has {len(gids)} entries but the array has {array.shape[1]} columns."
                )
            if len(np.unique(gids)) != len(gids) or np.any(gids < 0):
                raise ConfigError("Stimulus gids must be unique non-negative integers.")
        self.array = array
        self.dt = dt
        self.gids = gids
        self.space = space

    @classmethod
    def from_arg(cls, stimulus: Stimulus | Any | None, dt: float = 1.0) -> Stimulus | None:
        """Accept ``None``, a :class:`Stimulus`, or a bare ``[T, n]`` array (with ``dt``)."""
        if stimulus is None or isinstance(stimulus, Stimulus):
            return stimulus
        return cls(stimulus, dt=dt)

    @property
    def num_steps(self) -> int:
        """Number of rows ``T``."""
        return int(self.array.shape[0])

    @property
    def num_inputs(self) -> int:
        """Number of columns ``n``."""
        return int(self.array.shape[1])

    @property
    def duration(self) -> float:
        """Covered time ``T · dt`` in ms."""
        return self.num_steps * self.dt

    def check_cells(self, num_neurons: int) -> None:
        """Raise ConfigError unless the stimulus fits a system of ``num_neurons`` cells."""
        if self.space != "cells":
            return
        if self.gids is None and self.num_inputs != num_neurons:
            raise ConfigError(
                f"Stimulus has {self.num_inputs} columns but the system has {num_neurons} cells; "
                "pass one column per cell, or name the target cells with gids=[...]."
            )
        if self.gids is not None and len(self.gids) and int(self.gids.max()) >= num_neurons:
            raise ConfigError(
                f"Stimulus gid {int(self.gids.max())} is out of range for {num_neurons} cells."
            )

    def __repr__(self) -> str:
        return f"Stimulus(shape={tuple(self.array.shape)}, dt={self.dt} ms, duration={self.duration} ms)"
