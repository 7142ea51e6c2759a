"""``python -m data_prep`` = ``reencoder-data``."""
import sys

from .cli import main

sys.exit(main())
