"""The records of a program run: a proposal's `Status`, the `Evaluation` of a program and the
`Program` itself (one row of the run store's programs table, and what operators see).

A bottom-layer module: the store, the evaluators, the operators and the engine all share these
types, so it imports only the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

#: A value the evaluator may report as a metric.
JSONScalar = str | int | float | bool | None


class Status(StrEnum):
    """What became of a proposal. Members equal their strings ("ok" == Status.OK), which is
    how the run store keeps them.
    """

    #: Written (with code) but not evaluated yet; a resumed run evaluates it.
    PROPOSED = "proposed"
    #: Evaluated, and the evaluator's result is valid: the program has a score.
    OK = "ok"
    #: Evaluated, but the result breaks the contract or the evaluator marked it invalid.
    INVALID = "invalid"
    #: The sandbox stopped the evaluation at its wall-clock limit.
    TIMEOUT = "timeout"
    #: The evaluation exited non-zero or died by a signal.
    CRASHED = "crashed"
    #: The evaluation exceeded the sandbox's memory limit.
    OOM = "oom"
    #: The evaluation was killed (CPU or file-size limit, or from outside).
    KILLED = "killed"
    #: The evaluation could not run (sandbox setup, a lost cluster worker, ...).
    ERROR = "error"
    #: The code (near-)duplicates an earlier proposal; never evaluated.
    DUPLICATE = "duplicate"
    #: The operator gave no program, or the judge found it not new; never evaluated.
    REJECTED = "rejected"
    #: The model call failed; never evaluated.
    LLM_ERROR = "llm_error"
    #: The proposal failed inside qd itself (a bug); counted in progress, never stored.
    INTERNAL_ERROR = "internal_error"

    @property
    def evaluated(self) -> bool:
        """True when the sandbox ran the program (the proposal used an evaluation)."""
        return self in _SANDBOX_RAN

    @property
    def final(self) -> bool:
        """True when nothing more happens to the proposal (every status but "proposed")."""
        return self is not Status.PROPOSED

    @property
    def failed(self) -> bool:
        """True for a final status without a valid program."""
        return self.final and self is not Status.OK

    @classmethod
    def evaluated_statuses(cls) -> frozenset[Status]:
        """The statuses that mean the sandbox ran: ok, invalid and the sandbox's failures."""
        return _SANDBOX_RAN


_SANDBOX_RAN = frozenset({Status.OK, Status.INVALID, Status.TIMEOUT, Status.CRASHED, Status.OOM,
                        Status.KILLED, Status.ERROR})


@dataclass(frozen=True)
class Evaluation:
    """What evaluating a program gave (the validated evaluator result, then the archive
    measures).

    Attributes:
        status: OK, INVALID (bad or missing result, valid=false), or the sandbox's failure
            status (TIMEOUT, CRASHED, OOM, KILLED, ERROR). A string is converted.
        score: The objective to maximise (finite); None unless the evaluator gave one.
        measures: Behaviour descriptors (archive measures once the evaluator computed them),
            None when not given or not valid.
        metrics: Extra named JSON scalars reported by the evaluator (read-only).
        feedback: Text for the next prompt (the evaluator's, or what went wrong), capped.
        reason: One sentence explaining the status, or None.
        eval_s: Wall-clock seconds of the evaluation.
        feedback_truncated: True when `feedback` was cut.
    """

    status: Status
    score: float | None = None
    measures: tuple[float, ...] | None = None
    metrics: Mapping[str, JSONScalar] = field(default_factory=dict)
    feedback: str = ""
    reason: str | None = None
    eval_s: float = 0.0
    feedback_truncated: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        object.__setattr__(self, "metrics", MappingProxyType(dict(self.metrics)))

    def __reduce__(self) -> tuple[Any, ...]:  # a mapping proxy does not pickle (dask workers)
        return (Evaluation, (self.status, self.score, self.measures, dict(self.metrics),
                             self.feedback, self.reason, self.eval_s, self.feedback_truncated))

    @property
    def ok(self) -> bool:
        """True when `status` is OK."""
        return self.status is Status.OK


@dataclass(frozen=True)
class Program:
    """One proposal of a program run and, once evaluated, its evaluation: a row of the run
    store's programs table, and the program record operators vary.

    Only `id` and `code` are needed to build one (e.g. for an operator); the rest defaults.

    Attributes:
        id: Identifier in the run store (ids start at 1).
        code: Full source, EVOLVE-BLOCK markers included; None when the proposal has none.
        parents: Ids of the programs it was varied from.
        code_hash: Hash of the normalised code, None without code.
        generation: 0 for the initial program, else one more than its oldest parent's.
        island: Island of the run it belongs to.
        operator: Name of the operator that proposed it ("initial" for the initial program).
        model: The model that proposed it, None for local operators.
        status: What became of it (a string is converted).
        reason: Why it has this status, one sentence, or None.
        score: Objective (higher is better), None when not evaluated (yet) or not valid.
        measures: Behaviour descriptor, shape (measure_dim,), None when unknown.
        metrics: Named values from the evaluator.
        feedback: The evaluator's text about it (what failed, how good it is).
        cost_usd: What its model call cost.
        prompt_tokens: Prompt tokens of its model call.
        completion_tokens: Completion tokens of its model call.
        llm_latency_s: Seconds its model call took.
        eval_s: Seconds its evaluation took, None when not evaluated.
        reward: Reward the bandit got for it, None when no arm proposed it.
        tuned_from: For a literal-tuning variant (`qd.program.tuning`): the id of the child
            whose structure `operator` made and whose numeric literals this program tunes;
            None for every other proposal.
    """

    id: int
    code: str | None
    parents: tuple[int, ...] = ()
    code_hash: str | None = None
    generation: int = 0
    island: int = 0
    operator: str = ""
    model: str | None = None
    status: Status = Status.PROPOSED
    reason: str | None = None
    score: float | None = None
    measures: tuple[float, ...] | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    feedback: str = ""
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_latency_s: float = 0.0
    eval_s: float | None = None
    reward: float | None = None
    tuned_from: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
