"""The NEURON backend (``pip install 'livn[neuron]'``): see :mod:`livn.backends.neuron.engine`."""
