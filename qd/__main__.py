"""`python -m qd` runs the CLI."""

from qd.cli.main import main

main()
