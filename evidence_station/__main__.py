"""`python -m evidence_station` runs the CLI (used by tests to start the daemon)."""

import sys

from evidence_station.cli import main

sys.exit(main())
