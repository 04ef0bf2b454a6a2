"""``python -m slamseg`` (also what ``torchrun -m slamseg train ...`` runs)."""

import sys

from slamseg.cli import main

if __name__ == "__main__":
    sys.exit(main())
