"""`python -m bench [--short] [--only ...]`: every benchmark and the summary table (see bench/run.py)."""

import sys

from bench.run import main

sys.exit(main())
