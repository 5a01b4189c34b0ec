"""Entry script of the bundled app: the same `vfxcopy` command that `pip install` gives."""

import multiprocessing
import sys

from vfxcopy.cli import main

if __name__ == "__main__":
    # A frozen app re-executes itself for multiprocessing children; this makes them run the child, not the CLI.
    multiprocessing.freeze_support()
    from vfxcopy.core.pdf_child import CHILD_FLAG

    if sys.argv[1:] == [CHILD_FLAG]:  # a job's handover PDF is laid out in a child (vfxcopy.core.pdf_child)
        from vfxcopy.core.pdf_child import main as lay_out_pdf

        sys.exit(lay_out_pdf())
    sys.exit(main())
