"""IO devices: how an experimenter stimulates and records a culture."""

from livn.io.mea import MEA

__all__ = ["MEA"]
