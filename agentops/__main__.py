"""`python -m agentops`: the command-line client of a running host."""

import sys

from agentops.cli.main import main

sys.exit(main())
