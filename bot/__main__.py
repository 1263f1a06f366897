"""`python -m bot` runs the `approvalbot` command line."""

import sys

from bot.cli import main

sys.exit(main())
