"""Spec sections of program runs: `[llm]` (models, operators, bandit, selector, concurrency),
`[sandbox]` (limits of evaluated code) and `[novelty]` (duplicate filter).

```toml
[llm]
proposals_in_flight = 4      # K concurrent proposals (LLM calls)
evaluations_in_flight = 2    # M concurrent sandboxed evaluations (default: cores)
operators = ["completion", "perturb_literals", "splice"]   # or "infill" for "completion"
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
#: Operators the embedded base model can use by default (it cannot follow chat instructions).
#: `infill` makes far more valid new proposals than `completion` on circle packing, but its
#: runs ended with lower QD scores at equal evaluations, so it is opt-in (README, "Small local
#: models"; benchmarks/circle_packing.py --operators infill perturb_literals splice).
LOCAL_OPERATORS = ("completion", "perturb_literals", "splice")
#: Operators for instruction-tuned chat models.
CHAT_OPERATORS = ("diff", "rewrite", "crossover", "perturb_literals", "splice")


def _default_bandit() -> dict[str, Any]:
    from qd.bandits import DEFAULT_BANDIT

    return DEFAULT_BANDIT.model_dump(mode="json")


class LLMSection(StrictModel):
    """The `[llm]` section: which models and operators propose programs, and how many at once."""

    models: list[ModelConfig] = Field(
        default_factory=lambda: [ModelConfig(model=LOCAL_MODEL, mode="completion")],
        min_length=1,
    )
    operators: list[str] | None = Field(
        None, description="Operator names; default: by the models' modes."
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
    def _operators(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        from mutators.program import operator_registry

        for name in value:
            if name not in operator_registry:
                raise ValueError(f"unknown operator {name!r}; choose from: "
                                 f"{', '.join(operator_registry.names())}")
        if not value:
            raise ValueError("needs at least one operator")
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
