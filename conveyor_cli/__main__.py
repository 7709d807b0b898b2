"""``python -m conveyor_cli``: the same as the ``conveyor`` console script."""

import sys

from conveyor_cli.main import main

sys.exit(main())
