"""The Brian2 backend (``Env(..., backend="brian2")``; ``pip install 'livn[brian2]'``).

:mod:`livn.backends.brian2.engine` imports Brian2; this package does not.
"""
