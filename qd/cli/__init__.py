"""The `qd` command line: one module per command, `main.run` is the entry point."""
