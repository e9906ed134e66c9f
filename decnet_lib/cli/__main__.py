"""`python -m decnet_lib.cli ...` runs the `decnet` command line."""

import sys

from decnet_lib.cli import main

sys.exit(main())
