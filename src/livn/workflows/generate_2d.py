"""``generate_2d``: build a 2D culture, give it an MEA, and plot it (seed 002).

The same configuration dict drives the Python API and the CLI::

    from livn.workflows import get

    generated = get("generate_2d", {"total_cells": 50, "output_directory": "./my_system"})
    generated.launch()             # builds ./my_system (graph.json, cells.h5, connections.h5)
    generated.mea(pitch=1000)      # writes ./my_system/mea.json
    generated.plot(show_connections=True, show_mea=True, max_edges=5000)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from livn._config import validate
from livn.errors import ConfigError
from livn.system.culture import CultureConfig, disk, rectangle, write_culture
from livn.system.graph import GRAPH_FILE, read_graph
from livn.system.system import System

__all__ = ["CultureConfig", "Generate2D", "disk", "rectangle"]


class Generate2D:
    """A 2D culture generation job.

    Args:
        config: A dict (or :class:`CultureConfig`) with the keys of :class:`CultureConfig`;
            ``output_directory`` is where the system is written.
        **overrides: Keys that override ``config``.
    """

    name = "generate_2d"

    def __init__(self, config: Mapping[str, Any] | CultureConfig | None = None, **overrides: Any):
        if isinstance(config, CultureConfig):
            config = config.model_dump(exclude_unset=True)
        self.config: CultureConfig = validate(
            CultureConfig, {**(config or {}), **overrides}, "generate_2d config"
        )

    @property
    def output_directory(self) -> str:
        """Absolute path of the system directory."""
        if self.config.output_directory is None:
            raise ConfigError("output_directory is required: where the system directory lives.")
        return os.path.abspath(os.path.expanduser(self.config.output_directory))

    def launch(self, overwrite: bool = False) -> System:
        """Build the system (a no-op if the directory already holds this exact config).

        The output directory is checked first like every job's
        (:func:`livn.workflows.outputs.check_location`: inside ``LIVN_OUTPUT_ROOT``, not in
        livn's package or cache or inside another system, creatable).
        """
        from livn.workflows.outputs import check_location

        out = check_location(self.output_directory, system=True)
        self.config.check_memory()
        return System(write_culture(self.config, out, overwrite=overwrite))

    @property
    def system(self) -> System:
        """The generated system; raises if :meth:`launch` has not run."""
        path = self.output_directory
        if not os.path.exists(os.path.join(path, GRAPH_FILE)):
            raise ConfigError(
                f"no system at {path}; generate it first (`livn systems generate_2d "
                f"output_directory={path} --launch` or .launch())."
            )
        return System(path)

    def mea(
        self,
        pitch: float = 1000.0,
        z: float = 0.0,
        radius: float | None = None,
        overwrite: bool = False,
    ):
        """Write ``mea.json``: a square grid of the given pitch (µm) fitted to the area.

        Per axis the grid has the largest power of two of electrodes that fits; ``radius``
        (default ``pitch / 4``) is the input and output radius. An existing, different
        ``mea.json`` is kept unless ``overwrite=True``.
        """
        from livn.io.mea import MEA

        system = self.system
        bounds = read_graph(system.uri).area.get("bounds")
        if bounds is None:
            lo, hi = system.bounding_box
            bounds = [lo[:2].tolist(), hi[:2].tolist()]
        mea = MEA.fitted(bounds[0], bounds[1], pitch=pitch, z=z, radius=radius)
        if system.has_mea:
            old = MEA.from_directory(system.uri)
            if old.to_dict() == mea.to_dict():
                return old
            if not overwrite:
                raise ConfigError(
                    f"{system.uri}/mea.json already exists with a different layout "
                    f"({old.describe()}). Pass overwrite=True (--overwrite) to replace it."
                )
        mea.save(system.uri)
        return mea

    def check_mea(self, pitch: float = 1000.0, z: float = 0.0, radius: float | None = None):
        """Check the arguments of :meth:`mea` before the system exists.

        For the built-in areas the grid is fitted to the area's bounds from the configuration
        (the same bounds :meth:`mea` reads from the generated system), so a pitch that gives
        too many electrodes is refused too; for a custom area only the numbers are checked.

        Raises:
            ConfigError: Naming the bad argument.
        """
        from livn.io.mea import MEA
        from livn.system.culture.placement import area_bounds, resolve_area

        bounds = area_bounds(resolve_area(self.config.area)[0], self.config.area_kwargs)
        if bounds is None:
            bounds = ([0.0, 0.0], [0.0, 0.0])
        return MEA.fitted(bounds[0], bounds[1], pitch=pitch, z=z, radius=radius)

    def plot(
        self,
        show_connections: bool = True,
        show_mea: bool = True,
        max_edges: int = 5000,
        ax: Any | None = None,
        path: str | os.PathLike | None = None,
    ):
        """Plot the culture (see :func:`livn.system.plot.plot_system`); save to ``path`` if given."""
        from livn.system.plot import plot_system

        fig = plot_system(
            self.system,
            show_connections=show_connections,
            show_mea=show_mea,
            max_edges=max_edges,
            ax=ax,
        )
        if path is not None:
            fig.savefig(os.fspath(path), dpi=150, bbox_inches="tight")
        return fig

    def inspect(self) -> str:
        """The generated system's summary."""
        return self.system.summary()
