"""Literal tuning of model-made children, end to end against the scripted loopback LLM: the
tuner improves a child's literals, every variant is an evaluation of the budget recorded with
its provenance, the arm is rewarded once, and the summary credits the operator.
"""

import json
import re
from contextlib import closing

import pytest

import qd
from qd.store import RunStore
from tests.program.conftest import Reply, prompt_text


def _old_tail(prompt: str) -> tuple[str, str]:
    """(prefix, the parent's own rest of the cut line) of an infill prompt."""
    lines = prompt.splitlines()
    prefix = lines[-1]
    old = next(line for line in lines[:-1] if line.startswith(prefix))[len(prefix):]
    return prefix, old


def structural(request) -> Reply:  # noqa: ANN001 - RecordedRequest
    """Add 0.5 to the first number of the cut line's rest: a new expression (a structural
    edit), one better than the parent."""
    _, old = _old_tail(prompt_text(request))
    return Reply(text=re.sub(r"\d+\.\d+", lambda m: f"{m.group()} + 0.5", old, count=1))


def constants_only(request) -> Reply:  # noqa: ANN001
    """Raise the numbers of the cut line's rest: a change of constants only."""
    _, old = _old_tail(prompt_text(request))
    return Reply(text=re.sub(r"\d+\.\d+", lambda m: str(float(m.group()) + 0.5), old))


def _run(server, toy, out, respond, budget=12, tune="{steps = 4, patience = 0}"):  # noqa: ANN001
    server.respond_with(respond)
    model = (f'llm.models=[{{model="text-completion-openai/scripted", '
             f'api_base="{server.api_base}", mode="completion", timeout_s=3.0, '
             f'max_retries=1, backoff_s=0.01}}]')
    result = qd.evolve(toy, out=out, seed=3, overrides=[
        model, 'llm.operators=["infill"]', "llm.proposals_in_flight=1",
        "llm.evaluations_in_flight=1", f"run.budget={budget}", f"llm.tune={tune}"])
    with closing(RunStore.open(out, readonly=True)) as store:
        rows = store.programs.all()
        bandit = store.component_state.get("bandit")[1]
    return result, rows, bandit


def test_tuning_improves_a_structural_child_and_keeps_its_provenance(scripted_llm_server, toy,
                                                                    tmp_path):
    out = tmp_path / "run"
    result, rows, bandit = _run(scripted_llm_server, toy, out, structural)
    by_id = {r.id: r for r in rows}
    children = [r for r in rows if r.operator == "infill" and r.tuned_from is None]
    variants = [r for r in rows if r.tuned_from is not None]
    assert children and variants
    for v in variants:  # a variant: the child's operator, no model call, a tuned child's line
        child = by_id[v.tuned_from]
        assert v.operator == child.operator == "infill" and child.model is not None
        assert v.model is None and v.prompt_tokens == 0
        parent = by_id[v.parents[0]]
        assert parent.id == child.id or parent.tuned_from == child.id
        assert v.reward is None  # the arm is rewarded on the child's row
    # the tuner found better literals than the model's for some child
    improved = [c for c in children
                if any(v.score > c.score for v in variants if v.tuned_from == c.id)]
    assert improved
    for c in improved:  # its arm was rewarded for the best variant, not for the child alone
        best = max(v.score for v in variants if v.tuned_from == c.id)
        assert c.reward >= (best - by_id[c.parents[0]].score) / 30.0 - 1e-12
    # every variant is an evaluation of the budget; the bandit saw one pull per proposal,
    # rewarded with what the child's row says
    assert sum(r.status.evaluated for r in rows) == 12 == result.end.evaluations
    assert sum(bandit["stats"]["pulls"]) == len(children)
    assert sum(bandit["stats"]["reward"]) == pytest.approx(sum(c.reward for c in children))
    # the summary credits the operator that made the structure, and says which were tuned
    summary = json.loads((out / "summary.json").read_text())
    elite_rows = [by_id[int(i)] for i in result.archive.elites()["solution"][:, 0]]
    tuned_elites = sum(r.tuned_from is not None for r in elite_rows)
    assert tuned_elites >= 1
    assert summary["elites_by_operator"]["infill"] == sum(r.operator == "infill"
                                                          for r in elite_rows)
    assert summary["elites_tuned"] == {"infill": tuned_elites}


@pytest.mark.parametrize("respond, tune", [(constants_only, "{steps = 4}"),
                                           (structural, "{steps = 0}"),
                                           (structural, '{operators = ["diff"]}')],
                         ids=["constants-only", "steps-0", "other-operator"])
def test_no_tuning_for_constant_changes_or_when_off(scripted_llm_server, toy, tmp_path,
                                                    respond, tune):
    result, rows, bandit = _run(scripted_llm_server, toy, tmp_path / "run", respond, budget=5,
                                tune=tune)
    assert all(r.tuned_from is None for r in rows)
    assert sum(bandit["stats"]["pulls"]) == sum(r.operator == "infill" for r in rows)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["elites_tuned"] == {}
