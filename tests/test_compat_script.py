"""A script in livn 2.0.0's style, using the names of every group of issue 14 at once, runs
unchanged here (each group is tested in depth in the other test_compat_* files)."""

from __future__ import annotations

import numpy as np
import pytest


def test_a_2_0_0_script_runs_unchanged():
    import livn
    from livn.backend import backend
    from livn.decoding import ISICV, LFP, MeanFiringRate, Pipe, Slice
    from livn.env import Env
    from livn.io import electrode_array_coordinates
    from livn.policy import BiphasicPulsePolicy
    from livn.run import Run
    from livn.stimulus import Stimulus
    from livn.types import Capability
    from livn.utils import P

    assert backend() in ("native", "jax", "neuron", "brian2")

    # one unconnected cell pair, the usual 2.0.0 way to test cells
    env = Env({"EXC": 1, "INH": 1}, seed=123).init()
    env.set_noise({"g_e0": 0.0, "g_i0": 0.0, "std_e": 0.0, "std_i": 0.0})
    env.record_spikes()
    env.record_voltage(dt=0.1)
    env.record_membrane_current()
    stim = Stimulus.from_current(np.full((200, 2), 0.6, np.float32), dt=0.1)
    assert len(stim) == 2 and stim.duration == pytest.approx(20.0)
    run = env.run(20, stimulus=stim, dt=0.025)
    spike_ids, spike_times, voltage_ids, voltage, current_ids, current = run
    assert isinstance(run, Run) and run.t0 == 0.0 and run.t1 == pytest.approx(20.0)
    assert set(np.unique(spike_ids)) == {0, 1}  # 0.6 nA drives both cells
    assert np.all(np.diff(spike_times) >= 0) and spike_times.max() < 20.0
    assert voltage.shape == (2, 200) and current.shape[0] == 2
    assert voltage_ids.tolist() == [0, 1] and current_ids.tolist() == [0, 1]
    rates = MeanFiringRate(duration=20)(run, env)  # 2.0.0's dict form
    assert rates["n_units"] == 2 and rates["total_spikes"] == len(spike_ids)
    late = run.slice(10, 20)
    assert late.t0 == pytest.approx(10.0) and np.all(late.spike_times < 10.0)
    env.clear(reseed=True)
    assert env.t == 0.0

    # a culture with an MEA: 2.0.0 weight keys, a pulse policy, decodings in a pipe
    env = livn.make(system="EI1")
    env.set_params({"EXC_EXC-dend-AMPA-weight": 0.5, "noise-g_e0": 0.0, "noise-std_e": 0.0,
                    "io-output_radius": 200.0})  # fmt: skip
    assert Capability.SIMULATION in env.capabilities
    env.record_spikes()
    env.record_membrane_current()
    policy = BiphasicPulsePolicy(env.io.num_channels, [0, 1, 2, 3], amplitude=50.0,
                                 pulse_times=[5.0, 25.0])  # fmt: skip
    run = env.run(40, stimulus=policy)
    assert len(run.spike_ids) > 0 and run.spike_times.min() >= 5.0
    out = Pipe([Slice(20, 40), ISICV(duration=20)])(run, env)
    direct = ISICV(duration=20)(run.slice(20, 40), env)
    assert set(out) >= {"isi_cv", "n_units"} and out["n_units"] == direct["n_units"]
    lfp = LFP(duration=40, downsample_hz=None)(run, env)
    assert lfp["lfp"].shape == (env.io.num_channels, 400)
    coords = electrode_array_coordinates()
    assert coords.shape[0] == 16
    assert P.is_root() and P.gather(1) == [1]
