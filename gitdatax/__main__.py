from __future__ import annotations

import sys

from gitdatax.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
