"""The JAX engine (default backend): compiled, batched and differentiable."""
