"""``python -m prompt_sync_pipeline``: the ``prompt-sync`` command line (the seed task's
spellings ``--all``, ``--pull-all``, ``--performance`` included)."""

import sys

from .cli import main

sys.exit(main())
