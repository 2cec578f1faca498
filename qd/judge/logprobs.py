"""QDAIF-style scores from next-token log-probabilities instead of one sampled answer.

A rating is the expected value of the answer under the model's distribution over the digit
tokens it lists among its top-N first tokens (renormalised over those digits); a yes/no verdict
is P(yes) / (P(yes) + P(no)). Both are continuous and deterministic, so even a weak model whose
sampled answer is always the same can order programs.

"10" takes two tokens in most tokenizers ("1" then "0"): the probability of the first token
"1" is split into 1 and 10 by P("0" | "1"), read at the second generated position when the
model's first token was "1", else asked with one more request (see `Judge`). A tokenizer with
a single "10" token counts it as 10 directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

TopLogprobs = Sequence[Mapping[str, float]]

#: Least probability the answer tokens (digits, or yes + no) must hold at the first position;
#: below it the model is not answering the question and the score would be noise (the judge
#: then parses the sampled text instead).
MIN_MASS = 0.05
#: Probability share of "1" below which the 1-vs-10 split is not worth another request.
TEN_SPLIT_MIN = 0.05


def _clean(token: str) -> str:
    return token.replace("\u2581", " ").replace("\u0120", " ").strip().lower()


def _probs(position: Mapping[str, float]) -> dict[str, float]:
    """Probability of each cleaned token text at one position (variants summed)."""
    out: dict[str, float] = {}
    for token, logprob in position.items():
        if logprob is None or not math.isfinite(logprob):
            continue
        key = _clean(token)
        out[key] = out.get(key, 0.0) + math.exp(logprob)
    return out


@dataclass(frozen=True)
class RatingDistribution:
    """Renormalised probabilities of the ratings 0-10 at the answer's first token.

    Attributes:
        probs: {rating: probability}, summing to 1 (the "1" token split as set).
        mass: Probability the model put on digit tokens at all (before renormalising).
        p_one: Share of the first token "1" (ambiguous between 1 and 10).
        ten_split: P("0" | "1") used to split `p_one`, or None when not split (counted as 1).
    """

    probs: dict[int, float]
    mass: float
    p_one: float
    ten_split: float | None

    @property
    def expected(self) -> float:
        """The expected rating, in [0, 10]."""
        return sum(r * p for r, p in self.probs.items())


def rating_distribution(top: TopLogprobs, ten_split: float | None = None
                        ) -> RatingDistribution | None:
    """The rating distribution of the first answer token, or None when digit tokens hold less
    than `MIN_MASS` of the probability.

    Args:
        top: Top log-probabilities per generated token (`LLMResponse.top_logprobs`).
        ten_split: P("0" | "1") to split the "1" token into 1 and 10; None: read it from
            the second position when the first generated token was "1", else count "1" as 1.
    """
    if not top:
        return None
    first = _probs(top[0])
    probs = {int(t): p for t, p in first.items() if t.isdigit() and int(t) <= 10}
    mass = sum(probs.values())
    if mass < MIN_MASS:
        return None
    probs = {r: p / mass for r, p in probs.items()}
    p_one = probs.get(1, 0.0)
    if ten_split is None and len(top) > 1 and max(top[0], key=top[0].__getitem__) \
            .strip() == "1":
        ten_split = zero_after_one(top[1])
    if ten_split is not None and p_one > 0.0:
        probs[10] = probs.get(10, 0.0) + p_one * ten_split
        probs[1] = p_one * (1.0 - ten_split)
    return RatingDistribution(probs, mass, p_one, ten_split)


def zero_after_one(position: Mapping[str, float]) -> float:
    """P(the next token is "0") at the position after a "1", among the listed tokens."""
    probs = _probs(position)
    total = sum(probs.values())
    return probs.get("0", 0.0) / total if total > 0.0 else 0.0


def needs_ten_split(dist: RatingDistribution) -> bool:
    """Whether the "1" share is large enough and unsplit, so one more request should split it."""
    return dist.ten_split is None and dist.p_one >= TEN_SPLIT_MIN


def yes_probability(top: TopLogprobs) -> float | None:
    """P(yes) / (P(yes) + P(no)) at the answer's first token, or None when they hold less
    than `MIN_MASS`.
    """
    if not top:
        return None
    first = _probs(top[0])
    yes, no = first.get("yes", 0.0), first.get("no", 0.0)
    if yes + no < MIN_MASS:
        return None
    return yes / (yes + no)


def summary(top: TopLogprobs, digits: bool) -> str:
    """A short record of the answer tokens' probabilities (the `answer` of a judge call)."""
    if not top:
        return ""
    first = _probs(top[0])
    keep = ([t for t in first if t.isdigit()] if digits
            else [t for t in first if t in ("yes", "no")])
    return " ".join(f"{t}:{first[t]:.3f}" for t in sorted(keep, key=lambda t: -first[t]))
