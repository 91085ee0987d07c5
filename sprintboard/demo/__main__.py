"""`python -m sprintboard.demo`."""

import sys

from sprintboard.demo.run import cli

sys.exit(cli(sys.argv[1:]))
