"""``python -m pipeline.cli``: the same entry point as the ``newswatch`` command."""

import sys

from pipeline.cli import main

sys.exit(main())
