import sys

from .cli import seed_main

sys.exit(seed_main())
