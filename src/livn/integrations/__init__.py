"""Bridges from livn to other tools.

* :mod:`livn.integrations.gym`: the culture between an agent and a Gymnasium task
  (:class:`~livn.integrations.gym.LivnGym`, :class:`~livn.integrations.gym.LivnVectorEnv`;
  ``pip install 'livn[gym]'``).

Nothing is imported here: ``import livn`` and ``import livn.integrations`` load no optional
dependency; each integration imports its library when it is imported itself.
"""
