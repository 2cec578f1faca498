"""GBNF grammars for infill answers: what they require, that llama.cpp parses them, and that
they reach the server in the request body only for models that take grammars."""

import asyncio
from contextlib import closing

import pytest

import qd
from mutators.program.grammar import closers_needed, line_grammar
from qd.llm import LLMClient, ModelConfig
from qd.store import RunStore
from tests.program.conftest import TOY, Reply, prompt_text


def test_closers_are_those_the_original_rest_used_for_earlier_brackets():
    assert closers_needed("    x = f(a, ", "b) + 1") == [")"]
    assert closers_needed("    r = np.minimum.reduce([a, ", "b[0], c])") == ["]", ")"]
    assert closers_needed("        ", "1 - centers[:, 1]]") == ["]"]  # a bracket of an earlier line
    assert closers_needed("    x = g('(', ", "y)  # (") == [")"]  # strings and comments ignored
    assert closers_needed("    return ", "[1.0, 2.0]") == []


def test_grammar_text():
    text = line_grammar("    x = f(a, ", "b) + 1")
    assert text.splitlines()[0] == 'root ::= seg ")" seg "\\n"'
    assert line_grammar("    return ", "3").splitlines()[0] == 'root ::= seg "\\n"'


def test_llama_cpp_parses_the_grammars():
    llama_cpp = pytest.importorskip("llama_cpp", reason='pip install "llama-cpp-python[server]"')
    for prefix, rest in [("    x = f(a, ", "b) + 1"), ("    return [1.0, ", "1.0, 1.0]"),
                         ("    r = np.minimum.reduce([a, ", "b[0], c])"), ('    s = "', 'x"')]:
        assert llama_cpp.LlamaGrammar.from_string(line_grammar(prefix, rest), verbose=False)


def _run(server, tmp_path, grammar: bool):  # noqa: ANN001
    def respond(request):
        lines = prompt_text(request).splitlines()
        old = next(line for line in lines[:-1] if line.startswith(lines[-1]))[len(lines[-1]):]
        return Reply(text=old.replace("1.0", "2.0", 1))

    server.reset()
    server.respond_with(respond)
    model = (f'llm.models=[{{model="text-completion-openai/scripted", '
             f'api_base="{server.api_base}", mode="completion", timeout_s=3.0, '
             f'max_retries=1, backoff_s=0.01, grammar={str(grammar).lower()}}}]')
    qd.evolve(TOY, out=tmp_path / f"run-{grammar}", overrides=[
        model, 'llm.operators=["infill"]', "llm.proposals_in_flight=1",
        "llm.evaluations_in_flight=1", "run.budget=3"])
    with closing(RunStore.open(tmp_path / f"run-{grammar}", readonly=True)) as store:
        assert any(p.operator == "infill" and p.status == "ok" for p in store.programs.all())
    return server.completion_requests()


def test_the_infill_grammar_reaches_a_grammar_model_only(scripted_llm_server, tmp_path):
    requests = _run(scripted_llm_server, tmp_path, grammar=True)
    assert requests
    for request in requests:
        body = request.body
        lines = body["prompt"].splitlines()
        old = next(line for line in lines[:-1] if line.startswith(lines[-1]))[len(lines[-1]):]
        assert body["grammar"] == line_grammar(lines[-1], old)
        assert body["stop"] == ["\n"]
    assert all("grammar" not in r.body for r in _run(scripted_llm_server, tmp_path, False))


def test_a_grammar_for_a_model_without_grammars_is_refused(scripted_llm_server):
    scripted_llm_server.push(Reply(text="1"))
    base = dict(model="text-completion-openai/scripted", api_base=scripted_llm_server.api_base,
                mode="completion", max_retries=0)
    with pytest.raises(ValueError, match="does not take grammars"):
        asyncio.run(LLMClient().complete(ModelConfig(**base), "x", grammar='root ::= "1"'))
    answer = asyncio.run(LLMClient().complete(ModelConfig(**base, grammar=True), "x",
                                              grammar='root ::= "1"'))
    assert answer.text == "1"
    assert scripted_llm_server.completion_requests()[-1].body["grammar"] == 'root ::= "1"'
