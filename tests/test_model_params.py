"""Model default parameters come from the model (``model.default_params(system)``) for every
model: a tuned ``params/<MODEL>.json`` loads for LIF and Izhikevich too, not only for RCSD."""

from __future__ import annotations

import json
import shutil

import pytest

from livn.env import Env
from livn.models import LIF, Izhikevich
from livn.models.params import template_params, tuned_params
from livn.models.rcsd import ReducedCalciumSomaDendrite
from livn.models.rcsd.defaults import derived_params
from livn.system import System, predefined


@pytest.fixture
def ei1_copy(tmp_path):
    out = tmp_path / "ei1"
    shutil.copytree(predefined("EI1"), out)
    return out


def test_point_models_use_templates_and_their_own_noise(ei1_copy):
    system = System(str(ei1_copy))
    for model in (LIF(), Izhikevich()):
        expected = template_params(system, model.noise)
        assert model.default_params(system) == expected
        assert Env(system, model=model).model_defaults() == expected
        assert set(expected["weights"]) == set(system.weight_names)


def test_a_tuned_file_loads_for_every_model(ei1_copy):
    system = System(str(ei1_copy))
    lif = template_params(system, LIF().noise)
    lif["weights"] = {k: 2.5 * v for k, v in lif["weights"].items()}
    (ei1_copy / "params" / "LIF.json").write_text(json.dumps(lif))
    assert tuned_params(system, "LIF") == lif
    env = Env(system, model=LIF()).init().apply_model_defaults()
    assert env.model_defaults() == lif
    # the RCSD file stays RCSD's; Izhikevich has none, so it gets its templates
    rcsd = json.loads((ei1_copy / "params" / "RCSD.json").read_text())
    assert Env(system).model_defaults() == rcsd
    assert Env(system, model=Izhikevich()).model_defaults() == template_params(
        system, Izhikevich().noise
    )


def test_rcsd_without_a_file_derives_and_a_plain_model_falls_back(ei1_copy):
    (ei1_copy / "params" / "RCSD.json").unlink()
    (ei1_copy / "params" / "default.json").unlink(missing_ok=True)  # its 2.0.0 copy
    system = System(str(ei1_copy))
    model = ReducedCalciumSomaDendrite()
    assert tuned_params(system, "RCSD") is None
    assert model.default_params(system) == derived_params(system, model.noise)

    class Plain:  # a user model without default_params: tuned file, else the templates
        name, noise = "PLAIN", {"g_e0": 0.0}

    env = Env(system)
    env.model = Plain()
    assert env.model_defaults() == template_params(system, Plain.noise)
    (ei1_copy / "params" / "PLAIN.json").write_text(json.dumps({"weights": {}, "noise": {}}))
    assert env.model_defaults() == {"weights": {}, "noise": {}}
