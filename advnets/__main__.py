"""`python -m advnets ...`, the same as the `advnets` command; what `torchrun -m advnets`
runs in each process."""

import sys

from advnets.cli import main

if __name__ == "__main__":
    sys.exit(main())
