"""Seed 001's differentiable simulation, verbatim (predefined S1, built offline on first use).

Gradients flow from a loss on the simulated voltages back through the RCSD dynamics, the
synapses (surrogate gradients at spikes) and the electrodes' extracellular field to the
electrode currents. Requires ``pip install livn[diffrax]`` (JAX, equinox, optax).
"""

import os

os.environ["LIVN_BACKEND"] = "diffrax"

import equinox as eqx
import jax.numpy as jnp
import optax

from livn.env import Env
from livn.system import predefined


@eqx.filter_jit
def systempass(inputs, env, t_end, targets, key):
    # pass through IO and system
    stimulus = env.cell_stimulus(inputs)
    mask, _, gids, v = env.run(t_end, stimulus, unroll="mask")

    return -jnp.mean(v)  # dummy loss: maximize action potentials


@eqx.filter_jit
def make_step(
    env,
    inputs,
    t_end,
    grad_loss,
    optim,
    targets,
    opt_state,
    key,
):
    loss, grads = grad_loss(inputs, env, t_end, targets, key)
    updates, opt_state = optim.update(grads, opt_state)
    new_inputs = eqx.apply_updates(inputs, updates)
    return loss, opt_state, new_inputs


env = Env(predefined("S1")).init()

env.apply_model_defaults()
env.record_spikes()
env.record_voltage()

t_end = 30
inputs = jnp.zeros([t_end, 16])  # zero input
optim = optax.adam(1)
opt_state = optim.init(eqx.filter(inputs, eqx.is_inexact_array))
grad_loss = eqx.filter_value_and_grad(systempass)
targets = []

loss, opt_state, inputs = make_step(
    env,
    inputs,
    t_end,
    grad_loss,
    optim,
    targets,
    opt_state,
    env.run_key,
)

print("Gradient for the electrode input: ", inputs)
