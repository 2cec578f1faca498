"""`shinka.core` of qd's stand-in: only `run_shinka_eval` (from `shinka.core.wrap_eval`)."""

from .wrap_eval import run_shinka_eval

__all__ = ["run_shinka_eval"]
