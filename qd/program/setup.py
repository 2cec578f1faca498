"""Build everything a program run needs from its spec: archive, evaluator, models, operators,
arms, bandit, selector, novelty filter; and start the embedded model when a spec asks for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mutators.program import ProgramTemplate, TemplateError, make_operator
from mutators.program.operators import language_refusal
from problems.program import ProgramProblemConfig
from qd.bandits import bandit_from_state, make_bandit
from qd.embeddings.cache import EmbeddingCache
from qd.embeddings.embedders import make_embedder
from qd.embeddings.projection import EmbeddingProjection, embedding_projection
from qd.errors import SpecError
from qd.evaluation.backends import Evaluator, evaluator_backend
from qd.judge.build import judge_measure_axes
from qd.languages import PYTHON, Language
from qd.llm import LLMClient, ModelConfig
from qd.llm.client import prices_per_1k
from qd.program.archive import ProgramArchive, program_archive
from qd.program.config import (
    CHAT_OPERATORS,
    LOCAL_MODEL,
    LOCAL_OPERATORS,
    LLMSection,
    NoveltySection,
)
from qd.program.novelty import NoveltyFilter
from qd.program.proposer import Proposer
from qd.program.tuning import LiteralTuner, tuned_operators
from qd.sandbox import SandboxLimits
from qd.seeds import derive_seeds
from qd.selection import make_selector, selector_from_state
from qd.spec import RunOptions, SpecBase

log = logging.getLogger(__name__)

#: The component-state key of the LLM usage ledger.
USAGE_STATE = "llm_usage"


@dataclass
class ProgramSetup:
    """The parts of a program run (see `build_program_setup`)."""

    problem: ProgramProblemConfig
    settings: LLMSection
    limits: RunOptions
    seed: int
    initial_code: str
    task: str
    archive: ProgramArchive
    evaluator: Evaluator
    client: LLMClient
    proposer: Proposer
    arms: list[tuple[ModelConfig | None, Any]]
    bandit: Any
    selector: Any
    novelty: NoveltyFilter
    eval_slots: asyncio.Semaphore
    worst: float
    scale: float
    priced: bool = False  # a model has a price (spec or litellm's table): costs in dollars
    exact_only: frozenset[str] = frozenset()
    extra_state: dict[str, Any] = field(default_factory=dict)
    projection: EmbeddingProjection | None = None  # set when a measure has source = "embedding"
    judge: Any = None  # a qd.judge.Judge, set by the session when the spec has [judge]
    tuner: LiteralTuner | None = None  # literal tuning of model-made children ([llm.tune])
    language: Language = PYTHON  # the programs' language, its syntax check in the run's sandbox

    def keep_embeddings_in(self, store: Any) -> None:
        """Read and write code embeddings (embedding measures, a model-backed duplicate filter)
        through the run store's `embeddings` table instead of recomputing them.
        """
        cache = EmbeddingCache.of_store(store, writable=True)
        if self.projection is not None:
            self.projection.cache = cache
        self.novelty.store_vectors(cache)

    def arm(self, index: int) -> tuple[ModelConfig | None, Any]:
        """(model or None for a local operator, operator) of an arm."""
        return self.arms[index]

    def cost_of(self, cost_usd: float, seconds: float) -> float:
        """Bandit cost of a proposal that spent `cost_usd` and `seconds` (model call +
        evaluation): one unit for every arm, so a free arm costs its time, never ~0.

        When any model is priced (by the spec or by litellm's price table) the unit is
        dollars, `cost_usd + seconds × usd_per_second`; else seconds,
        `seconds + cost_usd / usd_per_second`. Seconds count at least 1 ms.
        """
        rate = self.settings.usd_per_second
        seconds = max(seconds, 1e-3)
        return cost_usd + seconds * rate if self.priced else seconds + cost_usd / rate

    def reward(self, child: float, parent: float, new_cell: bool) -> float:
        """Improvement over the parent (scaled by the objective range) plus a new-cell bonus."""
        gain = max(child - parent, 0.0) / self.scale
        return gain + (self.settings.reward_new_cell if new_cell else 0.0)

    def state_dicts(self) -> dict[str, Any]:
        """JSON states persisted after every evaluation."""
        return {"bandit": self.bandit.state_dict(), "selector": self.selector.state_dict(),
                **self.usage_state()}

    def usage_state(self) -> dict[str, Any]:
        """The LLM usage (calls, tokens, cost) as a component state: stored with every
        proposal row that made calls, so the run's LLM budget survives a kill.
        """
        return {USAGE_STATE: self.client.ledger.state_dict()}

    def load_state(self, key: str, state: Any) -> None:
        """Restore one component's state (resume)."""
        if key == "bandit":
            self.bandit = bandit_from_state(state)
        elif key == "selector":
            self.selector = selector_from_state(state)
        elif key == USAGE_STATE:
            self.client.ledger.load_state_dict(state)


def _operators_for(settings: LLMSection, language: Language = PYTHON,
                   warn: bool = True) -> list[Any]:
    """The run's operators: `llm.operators`, or the defaults of the models' modes without
    those that cannot vary programs in `language` (e.g. completion, for C).

    Raises:
        SpecError: `llm.operators` names an operator that does not work on `language`.
    """
    if settings.operators is not None:
        operators = [make_operator(n) for n in settings.operators]
        for op in operators:
            refusal = language_refusal(op, language)
            if refusal:
                raise SpecError(f"llm.operators: {refusal}")
        return operators
    names: list[str] = []
    for model in settings.models:
        pool = LOCAL_OPERATORS if model.mode == "completion" else CHAT_OPERATORS
        names += [n for n in pool if n not in names]
    operators = [make_operator(n) for n in names]
    for op in operators:
        refusal = language_refusal(op, language)
        if refusal and warn:
            log.warning("%s; left out of this run's default operators", refusal)
    return [op for op in operators if language_refusal(op, language) is None]


def _program_language(problem: ProgramProblemConfig, limits: SandboxLimits,
                      initial_code: str) -> Language:
    """The problem's language, its syntax check bound to the run's sandbox limits.

    Raises:
        SpecError: The initial program's EVOLVE-BLOCK markers are another language's comments.
    """
    language = problem.program_language
    try:
        ProgramTemplate.parse(initial_code, language)
    except TemplateError as err:
        try:
            ProgramTemplate.parse(initial_code)
        except TemplateError:
            pass  # no usable markers at all: the operators say so on every proposal
        else:
            raise SpecError(f"problem.initial: {err} ({language.title} comments; or set "
                            f"problem.language)") from None
    return language.in_sandbox(limits)


def _arms(models: list[ModelConfig], operators: list[Any]) -> list[tuple[ModelConfig | None, Any]]:
    arms: list[tuple[ModelConfig | None, Any]] = []
    for op in operators:
        if not op.needs_llm:
            arms.append((None, op))
            continue
        for model in models:
            if model.allows(op.name) and model.mode == op.mode:
                arms.append((model, op))
    if not arms:
        raise SpecError("llm.operators: no operator can run with the configured models "
                        "(completion operators need mode = \"completion\" models, chat "
                        "operators mode = \"chat\")")
    return arms


def build_program_setup(spec: SpecBase, models: list[ModelConfig]) -> ProgramSetup:
    """Assemble a program run; `models` are the spec's models with the local one resolved."""
    problem: ProgramProblemConfig = spec.problem  # type: ignore[attr-defined]
    judge_measure_axes(spec)  # a judge measure needs [judge] with enough axes
    settings = spec.llm or LLMSection()
    limits = spec.sandbox or SandboxLimits()
    novelty = spec.novelty or NoveltySection()
    seeds = derive_seeds(spec.run.seed, 4)
    worst, best = problem.objective_bounds
    initial_code = Path(problem.initial).read_text(encoding="utf-8")
    language = _program_language(problem, limits, initial_code)
    operators = _operators_for(settings, language)
    arms = _arms(models, operators)
    client = LLMClient(seed=seeds[1])
    slots = settings.evaluations_in_flight or os.cpu_count() or 1
    return ProgramSetup(
        problem=problem,
        settings=settings,
        limits=spec.run,
        seed=spec.run.seed,
        initial_code=initial_code,
        task=problem.task or spec.description,
        archive=program_archive(spec),
        evaluator=evaluator_backend(spec.run).program(problem, limits, spec.run),
        client=client,
        proposer=Proposer(client, settings.retries),
        arms=arms,
        bandit=make_bandit(settings.bandit, len(arms), seeds[2]),
        selector=make_selector(settings.selector, seeds[3]),
        novelty=NoveltyFilter(novelty.effective_threshold if novelty.enabled else 1.0,
                              make_embedder(novelty.embedder, language=language),
                              novelty.embedder, language),
        eval_slots=asyncio.Semaphore(slots),
        worst=worst,
        scale=max(best - worst, 1e-12),
        priced=any(any(prices_per_1k(m)) for m in {m for m, _ in arms if m is not None}),
        exact_only=frozenset(novelty.exact_only),
        projection=embedding_projection(problem),
        language=language,
        tuner=LiteralTuner(settings.tune, tuned_operators(settings.tune, operators), language,
                           max(best - worst, 1e-12)) if settings.tune.steps else None,
    )


@contextlib.contextmanager
def resolved_models(settings: LLMSection | None,
                    language: Language = PYTHON) -> Iterator[list[ModelConfig]]:
    """The spec's models, with `model = "local"` replaced by a running embedded server; none
    is started when no operator of the run needs a model (e.g. a C program with the default
    operators: the embedded model's completion operator is Python-only).
    """
    settings = settings or LLMSection()
    needed = any(op.needs_llm for op in _operators_for(settings, language, warn=False))
    if not needed or not any(m.model == LOCAL_MODEL for m in settings.models):
        yield list(settings.models)
        return
    from qd.llm.local_server import LocalModelServer

    with LocalModelServer() as server:
        out = []
        for m in settings.models:
            if m.model != LOCAL_MODEL:
                out.append(m)
                continue
            fields = m.model_dump(exclude={"model", "api_base", "name", "mode"},
                                  exclude_defaults=True)
            out.append(server.model_config(**fields))
        yield out
