"""Spec sections of program runs: `[llm]` (models, operators, bandit, selector, concurrency),
`[sandbox]` (limits of evaluated code) and `[novelty]` (duplicate filter).

```toml
[llm]
proposals_in_flight = 4      # K concurrent proposals (LLM calls)
evaluations_in_flight = 2    # M concurrent sandboxed evaluations (default: cores)
operators = ["infill", "perturb_literals", "splice"]   # base models' default; or "completion"
bandit = { name = "thompson_gaussian", discount = 0.95, cost_mode = "per_cost" }
selector = { name = "uniform" }

[[llm.models]]
model = "local"              # the embedded Gemma 3 270M base model (no API key)
# model = "openai/gpt-4o-mini"; api_key_env = "OPENAI_API_KEY"; mode = "chat"
```
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from qd.components import StrictModel
from qd.errors import QDError
from qd.llm.models import ModelConfig

#: The `model` value that stands for the embedded local model.
LOCAL_MODEL = "local"
#: Operators of base models (mode "completion": the embedded model; they cannot follow chat
#: instructions). `infill`, not `completion`: on circle packing `completion` made 0 of 12 valid
#: new children, `infill` 84% (with `[llm.tune]` and the bandit's `min_share`, which the
#: built-in circle_packing spec sets: model-made elites in every seed, QD score +30%, but at
#: equal evaluations a lower best score; docs/operators.md, "Making a base model count";
#: benchmarks/circle_packing.py --variants default completion).
LOCAL_OPERATORS = ("infill", "perturb_literals", "splice")
#: Operators for instruction-tuned chat models.
CHAT_OPERATORS = ("diff", "rewrite", "crossover", "perturb_literals", "splice")


class TuneSection(StrictModel):
    """`[llm.tune]`: tune the numeric literals of a model-made child that changed the program's
    structure, before its operator is rewarded (`qd/program/tuning.py`, docs/operators.md).
    """

    steps: int = Field(8, ge=0, le=64, description="Most literal variants evaluated per tuned "
                       "child (0: off); each is one evaluation of run.budget.")
    operators: list[str] | None = Field(
        None, description="Operators whose valid children are tuned; default: the model "
        "operators in completion mode (base models, whose edits are small and whose constants "
        "are the parent's).")
    gap: float = Field(0.1, ge=0.0, description="Tune only a child that scored within this "
                       "fraction of the objective range below the archive's best (a child far "
                       "below, e.g. a degenerate program alone in its cell, is not worth "
                       "evaluations; 1: every valid child).")
    patience: int = Field(3, ge=0, description="Stop after this many variants in a row that "
                          "are not better (0: use every step).")
    max_count: int = Field(2, ge=1, le=50, description="Most literals changed per variant.")
    sigma: float = Field(0.1, gt=0.0, le=5.0, description="Relative size of a change.")
    focus: float = Field(0.5, ge=0.0, le=1.0, description="Chance that a variant changes only "
                         "literals on the lines the operator edited (when those have any).")
    include_ints: bool = Field(False, description="Whether int literals are tuned too.")

    @field_validator("operators")
    @classmethod
    def _operators(cls, value: list[str] | None) -> list[str] | None:
        return _known_operators(value, allow_empty=True)


def _known_operators(value: list[str] | None, allow_empty: bool = False) -> list[str] | None:
    if value is None:
        return value
    from mutators.program import operator_registry

    for name in value:
        if name not in operator_registry:
            raise ValueError(f"unknown operator {name!r}; choose from: "
                             f"{', '.join(operator_registry.names())}")
    if not value and not allow_empty:
        raise ValueError("needs at least one operator")
    return value


def _default_bandit() -> dict[str, Any]:
    from qd.bandits import DEFAULT_BANDIT

    return DEFAULT_BANDIT.model_dump(mode="json")


class LLMSection(StrictModel):
    """The `[llm]` section: which models and operators propose programs, and how many at once."""

    models: list[ModelConfig] = Field(
        default_factory=lambda: [ModelConfig(model=LOCAL_MODEL, mode="completion")],
        min_length=1,
    )
    operators: list[str | dict[str, Any]] | None = Field(
        None, description="Operators: names, or tables with a name and options (e.g. "
        '{name = "infill", samples = 6}); default: by the models\' modes.'
    )
    bandit: dict[str, Any] = Field(default_factory=_default_bandit)
    arms: str = Field("pairs", pattern="^(pairs|factorised)$")
    selector: dict[str, Any] = Field(default_factory=lambda: {"name": "uniform"})
    proposals_in_flight: int = Field(4, ge=1, le=1024)
    evaluations_in_flight: int | None = Field(None, ge=1, le=1024)
    inspirations: int = Field(2, ge=0, le=16)
    retries: int = Field(1, ge=0, le=5, description="Retries of a rejected LLM answer.")
    generation_size: int = Field(10, ge=1, description="Evaluations per selector generation.")
    stagnation_limit: int = Field(
        80, ge=0, description="Stop, saying why, after this many proposals in a row without a "
        "valid program (0: never)."
    )
    reward_new_cell: float = Field(0.1, ge=0, description="Bandit reward for filling a new cell.")
    tune: TuneSection = Field(default_factory=TuneSection, description="Literal tuning of "
                              "model-made children ([llm.tune]).")
    usd_per_second: float = Field(
        1e-4, gt=0, description="Exchange rate of the bandit's cost between time and money: "
        "a proposal costs its dollars + its seconds (model call + evaluation) x this rate "
        "when any model is priced, else its seconds + its dollars / this rate. Default "
        "$0.36 an hour, so free arms (local operators, $0 models, failed calls) cost their "
        "time, never nothing."
    )

    @field_validator("bandit")
    @classmethod
    def _bandit(cls, value: dict[str, Any]) -> dict[str, Any]:
        from qd.bandits import bandit_config

        return _validated(bandit_config, value)

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: dict[str, Any]) -> dict[str, Any]:
        from qd.selection import selector_config

        return _validated(selector_config, value)

    @field_validator("operators")
    @classmethod
    def _operators(cls, value: list[str | dict[str, Any]] | None
                   ) -> list[str | dict[str, Any]] | None:
        if value is None:
            return value
        from mutators.program import operator_config

        for entry in value:
            if isinstance(entry, dict):  # a name with options: validated by its config model
                _validated(operator_config, entry)
        _known_operators([e if isinstance(e, str) else str(e.get("name")) for e in value])
        return value


def _validated(factory: Any, value: dict[str, Any]) -> dict[str, Any]:
    try:
        return factory(value).model_dump(mode="json")
    except QDError as err:
        raise ValueError(str(err)) from None


#: Default near-duplicate thresholds per embedder.
DEFAULT_THRESHOLDS = {"ngram": 0.995, "minilm": 0.9999}


class NoveltySection(StrictModel):
    """The `[novelty]` section: reject (near-)duplicate programs before evaluating them."""

    enabled: bool = True
    threshold: float | None = Field(
        None, gt=0, le=1, description="Cosine similarity of code embeddings that counts as a "
        "near duplicate; 1.0 rejects exact (normalised) duplicates only. Default: 0.995 for "
        "ngram, 0.9999 for minilm (whose cosines between variants are much higher)."
    )
    exact_only: list[str] = Field(
        default_factory=lambda: ["perturb_literals", "infill"],
        description="Operators whose children are only checked for exact duplicates: a changed "
        "constant (or one line's tail, `infill`) is a small edit but can be a large change in "
        "behaviour.",
    )
    embedder: str = Field(
        "ngram", description="Code embedder of the near-duplicate stage: ngram (hashed "
        "character n-grams, no model) or minilm (all-MiniLM-L6-v2 sentence encoder)."
    )

    @property
    def effective_threshold(self) -> float:
        """`threshold`, or the embedder's default (measured on circle-packing variants: one
        changed constant scores 0.9998 under MiniLM, a renamed variable 0.988; n-gram cosines
        spread much wider).
        """
        if self.threshold is not None:
            return self.threshold
        return DEFAULT_THRESHOLDS.get(self.embedder, DEFAULT_THRESHOLDS["ngram"])
