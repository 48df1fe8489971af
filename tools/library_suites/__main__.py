"""Runs widely used asyncio libraries' own test suites on asyncio's loop and
on aiouring's and reports the tests that fail only on aiouring:

    python tools/library_suites            (or: tools/go library-suites)

See cli.py for the options and README.md ("Other libraries' test suites").
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from library_suites.cli import main  # noqa: E402

sys.exit(main())
