"""Stand-ins for the helper packages that peer evaluators import (`openevolve`, `shinka`).

The files under this folder are never imported by qd itself: `qd.formats.common.shim_files`
copies them next to the generated adapter, and the adapter puts that copy first on the
evaluator's import path inside the sandbox, where they are the top-level packages `openevolve`
and `shinka`. They use the standard library only, and provide just the parts that evaluators
import (docs/formats.md lists them); importing any other part stops with a message that names
it (`qd_peer_guard.py`).
"""
