"""Gymnasium integration: a simulated culture between an agent and a task (seed 001).

    import gymnasium as gym
    from livn.env import Env
    from livn.integrations.gym import LivnGym

    rl_env = LivnGym(gym.make("Pendulum-v1"), Env("EI2").init())

* :class:`LivnGym` — one culture, any backend; ``role="actuator"`` (the agent acts on the
  task through the culture) or ``role="sensor"`` (it observes the task through the culture).
* :class:`LivnVectorEnv` — ``num_envs`` cultures advanced together by ``Env.run_batch``
  (one vmapped program on the JAX engine, e.g. on a GPU; one simulator per core on the
  native engine); ``gym.make_vec("livn/Pendulum-EI2-v0", num_envs=8)``.
* :class:`SpaceEncoding`, :class:`RateDecoding` — the default codecs for Box (and Discrete)
  spaces.

Importing this module imports gymnasium (``pip install 'livn[gym]'``) and registers the
``livn/…`` ids (:mod:`livn.integrations.gym.registration`). See docs/rl.md.
"""

from __future__ import annotations

from livn.errors import require

require("gymnasium", "gym")

from livn.integrations.gym.codecs import RateDecoding, SpaceEncoding  # noqa: E402
from livn.integrations.gym.env import ROLES, LivnGym  # noqa: E402
from livn.integrations.gym.registration import (  # noqa: E402
    IDS,
    make_env,
    make_vector_env,
    register_envs,
)
from livn.integrations.gym.vector import LivnVectorEnv  # noqa: E402

__all__ = [
    "IDS",
    "ROLES",
    "LivnGym",
    "LivnVectorEnv",
    "RateDecoding",
    "SpaceEncoding",
    "make_env",
    "make_vector_env",
]

register_envs()
