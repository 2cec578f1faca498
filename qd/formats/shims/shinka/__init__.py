"""qd's stand-in for ShinkaEvolve's package inside the sandbox: `shinka.core.run_shinka_eval`.

Evaluators written for ShinkaEvolve call `run_shinka_eval` to run the program's experiment
function and write `metrics.json` and `correct.json`; every other part of ShinkaEvolve (the
runner, LLM clients, databases) belongs to its own loop, which qd replaces, and importing it
stops with a message naming it.
"""

import qd_peer_guard

qd_peer_guard.install(__name__, __path__)
