"""``ComposedIO``: one device stimulates, another records (livn 2.0.0's ``ComposedIO``).

Which side answers what, exactly as implemented:

* **inputs** (stimulation): ``num_channels`` (the columns of electrode inputs ``[T, C]``),
  ``electrode_coordinates``, ``input_space``, ``input_radius``, ``max_input_current``,
  ``scale_inputs``, ``field``, ``potential``, ``input_neurons``, ``distances``.
* **outputs** (recording): ``channel_ids``, ``output_radius``, ``channel_recording``,
  ``lfp``, ``observed_neurons``.

Code that reads both sides electrode by electrode (the Gymnasium codecs' per-electrode rates,
:class:`livn.decoding.ChannelRecording`'s counts next to inputs) assumes one layout: give such
code inputs and outputs with the same electrodes. Setting ``input_radius`` or
``max_input_current`` changes the inputs, ``output_radius`` the outputs (so ``Env.set_params``'s
``io-`` keys work).
"""

from __future__ import annotations

from typing import Any

from livn.errors import ConfigError, did_you_mean

__all__ = ["ComposedIO"]

_INPUT = ("num_channels", "electrode_coordinates", "input_space", "input_radius",
          "max_input_current", "scale_inputs", "field", "potential", "input_neurons",
          "distances")  # fmt: skip
_OUTPUT = ("channel_ids", "output_radius", "channel_recording", "lfp", "observed_neurons")
_SETTABLE = {"input_radius": "inputs", "max_input_current": "inputs", "output_radius": "outputs"}


class ComposedIO:
    """An IO device whose stimulation is ``inputs``'s and whose recording is ``outputs``'s.

    Args:
        inputs: The stimulating device (e.g. an :class:`livn.io.MEA`).
        outputs: The recording device (e.g. an :class:`livn.io.MEA`).

    Raises:
        ConfigError: A side that lacks what it must answer (the message names it).
    """

    def __init__(self, inputs: Any, outputs: Any) -> None:
        for side, device, names in (("inputs", inputs, ("num_channels", "field")),
                                    ("outputs", outputs, ("channel_recording", "channel_ids"))):  # fmt: skip
            missing = [n for n in names if not hasattr(device, n)]
            if missing:
                raise ConfigError(
                    f"ComposedIO {side} must be an IO device with {', '.join(names)} (e.g. "
                    f"livn.io.MEA(...)); {type(device).__name__} lacks {', '.join(missing)}."
                )
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "outputs", outputs)

    def __getattr__(self, name: str) -> Any:
        if name in _INPUT:
            return getattr(self.__dict__["inputs"], name)
        if name in _OUTPUT:
            return getattr(self.__dict__["outputs"], name)
        raise AttributeError(f"ComposedIO has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SETTABLE:
            setattr(getattr(self, _SETTABLE[name]), name, value)
        else:
            object.__setattr__(self, name, value)

    def set_params(self, params: dict[str, Any]) -> ComposedIO:
        """``inputs-<name>``/``outputs-<name>`` keys go to that side's ``set_params``; a bare
        ``input_radius``/``max_input_current``/``output_radius`` to the side it belongs to.
        All or nothing per side. Returns ``self``."""
        if not isinstance(params, dict):
            raise ConfigError(f"ComposedIO.set_params takes a dict; got {type(params).__name__}.")
        per_side: dict[str, dict[str, Any]] = {"inputs": {}, "outputs": {}}
        for key, value in params.items():
            side, _, rest = str(key).partition("-")
            if side in per_side and rest:
                per_side[side][rest] = value
            elif key in _SETTABLE:
                per_side[_SETTABLE[key]][key] = value
            else:
                valid = [*_SETTABLE, "inputs-<name>", "outputs-<name>"]
                raise ConfigError(
                    f"unknown ComposedIO parameter {key!r}. Valid: {', '.join(valid)}."
                    f"{did_you_mean(str(key), list(_SETTABLE))}"
                )
        for side, values in per_side.items():
            if values:
                device = getattr(self, side)
                if not hasattr(device, "set_params"):
                    raise ConfigError(f"ComposedIO {side} ({type(device).__name__}) has no "
                                      "set_params.")  # fmt: skip
                device.set_params(values)
        return self

    def __repr__(self) -> str:
        return f"ComposedIO(inputs={self.inputs!r}, outputs={self.outputs!r})"
