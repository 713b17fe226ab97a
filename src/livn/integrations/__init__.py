"""Bridges from livn to other tools: Gymnasium, neurodata formats (NWB, SpikeInterface)."""
