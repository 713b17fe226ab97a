"""``python -m livn``: the ``livn`` command."""

import sys

from livn.cli.main import main

sys.exit(main())
