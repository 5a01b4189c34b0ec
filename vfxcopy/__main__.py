"""`python -m vfxcopy` runs the command line."""

import sys

from vfxcopy.cli import main

sys.exit(main())
