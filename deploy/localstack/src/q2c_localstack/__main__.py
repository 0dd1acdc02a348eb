"""`python -m q2c_localstack ...`: the `q2c` command (q2c_localstack.cli), under its old name."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
