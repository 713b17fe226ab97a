"""The curated public API imports, and ``import livn`` stays light."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import livn

PUBLIC = {
    "livn": livn.__all__,
    "livn.system": ["System", "Projection", "ParallelSystem", "make", "predefined", "PREDEFINED",
                    "cache_dir"],
    "livn.io": ["MEA", "ComposedIO", "electrode_array_coordinates",
                "electrode_array_coordinates_for_area", "MAX_STIMULUS_GB_ENV"],
    "livn.stimulus": ["Stimulus", "INPUT_MODES", "SUPPORTED_MODES", "CANONICAL_UNITS"],
    "livn.run": ["Run", "Events", "Series"],
    "livn.result": ["RunResult", "Events", "Series", "CHANNELS"],
    "livn.batch": ["BatchState"],
    "livn.backend": ["backend", "UPSTREAM_NAMES"],
    "livn.types": ["Capability", "SynapticParam", "System", "Model", "IO", "Encoding", "Decoding",
                   "capabilities", "backends_with"],
    "livn.utils": ["P", "merge", "import_instance", "load_file", "Jsonable"],
    "livn.policy": ["ElectrodePolicy", "BiphasicPulsePolicy", "MonophasicPulsePolicy",
                    "PulseSweepPolicy"],
    "livn.legacy_decoding": ["LFP", "Pipe", "Slice", "ActiveFraction", "ISICV", "BurstRate",
                             "PeriStimulusHistogram", "StimulusResponse", "stimulus_response",
                             "RecruitmentCurve", "ExtracellularRecruitment"],
    "livn.models": ["ReducedCalciumSomaDendrite", "LIF", "Izhikevich"],
    "livn.decoding": ["Decoding", "Raw", "MeanFiringRate", "ChannelRecording", "CultureStatistics",
                      "LFP", "Pipe", "Slice", "ActiveFraction", "ISICV", "BurstRate",
                      "PeriStimulusHistogram", "StimulusResponse", "stimulus_response",
                      "RecruitmentCurve", "ExtracellularRecruitment"],
    "livn.encoding": ["Encoding", "NoInput", "ElectrodePulses"],
    "livn.workflows": ["get", "WORKFLOWS"],
    "livn.workflows.generate_2d": ["Generate2D", "CultureConfig", "rectangle", "disk"],
    "livn.workflows.sample": ["Sample", "SampleConfig", "run_sample", "resolve_class",
                              "resolve_system"],
    "livn.limits": ["integer", "number", "seed", "finite_array", "steps", "run_bytes",
                    "check_memory", "check_disk", "check_units", "memory_budget", "MAX_UNITS",
                    "MAX_SEED", "MAX_STEPS", "MEMORY_VAR"],
    "livn.mpi": ["comm", "rank", "size", "root_then_bcast"],
    "livn.workflows.estimates": ["run_seconds", "recording_bytes", "human_time"],
    "livn.workflows.executors": ["run_units", "Report", "EXECUTORS", "resolve_executor"],
    "livn.workflows.shards": ["write_shard", "read_shard", "read_meta", "shard_indices"],
    "livn.workflows.dataset": ["merge", "publish"],
    "livn.distributed": ["DistributedEnv"],
    "livn.backends": ["BACKENDS", "REGISTRY", "auto_backend", "default_backend", "load", "resolve"],
    "livn.trial": ["Trial", "load_trials"],
    "livn.plot": ["raster", "electrode_rates", "population_rates", "voltage_traces", "summary",
                  "save_plots"],
    "livn.integrations.gym": ["LivnGym", "LivnVectorEnv", "SpaceEncoding", "RateDecoding"],
    "livn.integrations.nwb": ["to_nwbfile", "write_nwb", "export"],
    "livn.integrations.spikeinterface": ["to_recording", "to_sorting", "to_probe", "export"],
    "livn.integrations.replay": ["StepPulses", "dataset_transitions", "load_dataset",
                                 "REQUIRED_COLUMNS"],
    "livn.workflows.sweeps": ["Batch", "BatchConfig", "expand", "count", "get_pattern", "PATTERNS",
                              "iter_stimuli"],
    "livn.errors": [
        "LivnError",
        "ConfigError",
        "SystemFormatError",
        "UnknownSystemError",
        "NotAvailableError",
        "MissingDependencyError",
        "ConnectivityWarning",
        "SizeLimitError",
    ],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_every_public_name_imports(module):
    mod = importlib.import_module(module)
    for name in PUBLIC[module]:
        assert getattr(mod, name) is not None, f"{module}.{name}"
    if hasattr(mod, "__all__") and module != "livn":
        assert set(PUBLIC[module]) <= set(mod.__all__)


def test_unknown_attribute_raises():
    with pytest.raises(AttributeError):
        livn.does_not_exist  # noqa: B018


def test_import_livn_is_light():
    heavy = [
        "jax",
        "torch",
        "brian2",
        "neuron",
        "mpi4py",
        "datasets",
        "matplotlib",
        "h5py",
        "scipy",
        "pydantic",
        "gymnasium",
    ]
    code = f"import sys, json, livn; print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_version_is_a_string():
    assert isinstance(livn.__version__, str) and livn.__version__.count(".") == 2
