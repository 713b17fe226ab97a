"""Gymnasium ids for culture envs: ``gym.make("livn/…")`` and ``gym.make_vec("livn/…")``.

Registered when :mod:`livn.integrations.gym` is imported (or named in the id, as
``gym.make("livn.integrations.gym:livn/Pendulum-EI2-v0")``):

* ``livn/Culture-v0``: any task and system, ``task=`` and ``system=`` as keywords;
* ``livn/Pendulum-EI1-v0``, ``livn/Pendulum-EI2-v0``, ``livn/CartPole-EI1-v0``,
  ``livn/CartPole-EI2-v0``: those pairings.

``gym.make`` builds :func:`make_env` (a :class:`~livn.integrations.gym.LivnGym` on its own
Env), ``gym.make_vec`` builds :func:`make_vector_env` (a
:class:`~livn.integrations.gym.LivnVectorEnv`: the cultures advanced together by batched runs).
"""

from __future__ import annotations

from typing import Any

__all__ = ["IDS", "make_env", "make_vector_env", "register_envs"]

#: Preset ids and their task/system.
IDS: dict[str, dict[str, str]] = {
    "livn/Culture-v0": {},
    "livn/Pendulum-EI1-v0": {"task": "Pendulum-v1", "system": "EI1"},
    "livn/Pendulum-EI2-v0": {"task": "Pendulum-v1", "system": "EI2"},
    "livn/CartPole-EI1-v0": {"task": "CartPole-v1", "system": "EI1"},
    "livn/CartPole-EI2-v0": {"task": "CartPole-v1", "system": "EI2"},
}


def _culture(system: Any, seed: int, backend: str | None, defaults: bool) -> Any:
    from livn.env import Env

    env = Env(system, seed=seed, backend=backend).init()
    if defaults:
        env.apply_model_defaults()
    return env


def make_env(task: Any = "Pendulum-v1", system: Any = "EI2", *, role: str = "actuator",
             step_ms: float = 20.0, seed: int = 0, backend: str | None = None,
             render_mode: str | None = None, model_defaults: bool = True) -> Any:  # fmt: skip
    """A :class:`~livn.integrations.gym.LivnGym` with default codecs on a new Env.

    Args:
        task: Gymnasium id (or env, or callable) of the task.
        system: The culture: a predefined name, a path or a System.
        role: ``"actuator"`` or ``"sensor"``.
        step_ms: Culture time per agent step, ms.
        seed: The Env's seed (noise seeds then come from ``reset(seed=…)``).
        backend: The Env's backend (default: ``LIVN_BACKEND``).
        render_mode: None or ``"rgb_array"``.
        model_defaults: Apply the system's tuned weights and noise.
    """
    from livn.integrations.gym.codecs import RateDecoding
    from livn.integrations.gym.env import LivnGym, check_role, make_task

    check_role(role)
    t = make_task(task, render_mode)
    env = _culture(system, seed, backend, model_defaults)
    space = t.action_space if role == "actuator" else None
    wrapped = LivnGym(t, env, decoding=RateDecoding(duration=step_ms, space=space), role=role,
                      render_mode=render_mode)  # fmt: skip
    wrapped._owns_culture = True
    return wrapped


def make_vector_env(num_envs: int = 1, task: Any = "Pendulum-v1", system: Any = "EI2", *,
                    role: str = "actuator", step_ms: float = 20.0, seed: int = 0,
                    batch_size: int | None = None, model_defaults: bool = True,
                    max_episode_steps: int | None = None,
                    backend: str | None = None) -> Any:  # fmt: skip
    """A :class:`~livn.integrations.gym.LivnVectorEnv` of ``num_envs`` cultures.

    Args: as :func:`make_env` (``backend``: default ``LIVN_BACKEND``, i.e. ``native`` on a
    CPU and ``jax`` with a GPU), and ``num_envs`` cultures, ``batch_size`` cultures per
    batched call (see :class:`~livn.integrations.gym.LivnVectorEnv`); ``max_episode_steps``
    is accepted for ``gym.make_vec`` and must be None (the task's own limit applies).
    """
    from livn.errors import ConfigError
    from livn.integrations.gym.codecs import RateDecoding
    from livn.integrations.gym.env import check_role
    from livn.integrations.gym.vector import LivnVectorEnv

    check_role(role)
    if max_episode_steps is not None:
        raise ConfigError(
            f"max_episode_steps={max_episode_steps!r}: the task's own time limit applies; make "
            "the task with gym.make(id, max_episode_steps=...) and pass it as task=."
        )
    env = _culture(system, seed, backend, model_defaults)
    probe = task() if callable(task) and not isinstance(task, str) else None
    from livn.integrations.gym.env import make_task

    space_task = make_task(probe if probe is not None else task)
    space = space_task.action_space if role == "actuator" else None
    space_task.close()
    vec = LivnVectorEnv(task, env, num_envs, decoding=RateDecoding(duration=step_ms, space=space),
                        role=role, batch_size=batch_size)  # fmt: skip
    vec._owns_culture = True
    return vec


def register_envs() -> None:
    """Register :data:`IDS` with Gymnasium (ids already registered are left as they are)."""
    import gymnasium as gym

    for env_id, kwargs in IDS.items():
        if env_id in gym.registry:
            continue
        gym.register(env_id, entry_point="livn.integrations.gym.registration:make_env",
                     vector_entry_point="livn.integrations.gym.registration:make_vector_env",
                     kwargs=dict(kwargs), disable_env_checker=False)  # fmt: skip
