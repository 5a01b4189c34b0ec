"""Entry script of the bundled app: the same `vfxcopy` command that `pip install` gives."""

import multiprocessing
import sys

from vfxcopy.cli import main

if __name__ == "__main__":
    # A frozen app re-executes itself for multiprocessing children; this makes them run the child, not the CLI.
    multiprocessing.freeze_support()
    sys.exit(main())
