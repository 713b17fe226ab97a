"""IO devices: how an experimenter stimulates and records a culture.

:class:`MEA` is the device. livn 2.0.0's names are here too (docs/migrating.md):
:func:`electrode_array_coordinates`, :func:`electrode_array_coordinates_for_area` (2.0.0's grid
sizing), :class:`ComposedIO` and ``MAX_STIMULUS_GB_ENV``.
"""

from livn.io.composed import ComposedIO
from livn.io.mea import MEA, electrode_array_coordinates, electrode_array_coordinates_for_area
from livn.io.stimulus_size import MAX_STIMULUS_GB_ENV

__all__ = ["MAX_STIMULUS_GB_ENV", "MEA", "ComposedIO", "electrode_array_coordinates",
           "electrode_array_coordinates_for_area"]  # fmt: skip
