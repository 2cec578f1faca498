"""qd's stand-in for OpenEvolve's package inside the sandbox: `openevolve.evaluation_result`.

Evaluators written for OpenEvolve import `EvaluationResult` from here; every other part of
OpenEvolve (the controller, LLM clients, configs) belongs to OpenEvolve's own loop, which qd
replaces, and importing it stops with a message naming it.
"""

import qd_peer_guard

qd_peer_guard.install(__name__, __path__)
