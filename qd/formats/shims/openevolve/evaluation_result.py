"""`EvaluationResult`: metrics plus artifacts, as OpenEvolve evaluators return them.

Written for qd from OpenEvolve's documented behaviour: `metrics` maps names to numbers (the
fitness is `combined_score`), and `artifacts` maps names to text or bytes that are shown to the
model in the next prompts about this program (qd puts them in the program's feedback).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class EvaluationResult:
    """What an OpenEvolve evaluator (or one cascade stage) returns.

    Attributes:
        metrics: Metric name to value; `combined_score` is the fitness when present.
        artifacts: Name to text or bytes (stderr, failing cases, hints) fed back to the model.
    """

    metrics: dict[str, Any]
    artifacts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, metrics: dict[str, Any]) -> EvaluationResult:
        """Wrap a plain metrics dict (what older evaluators return)."""
        return cls(metrics=metrics)

    def to_dict(self) -> dict[str, Any]:
        """Return the metrics alone."""
        return self.metrics

    def has_artifacts(self) -> bool:
        """Whether any artifact was given."""
        return bool(self.artifacts)

    def get_artifact_keys(self) -> list[str]:
        """Names of the artifacts."""
        return list(self.artifacts)

    def get_artifact_size(self, key: str) -> int:
        """Size in bytes of artifact `key` (text counted as UTF-8; 0 when absent)."""
        if key not in self.artifacts:
            return 0
        value = self.artifacts[key]
        if isinstance(value, bytes | bytearray):
            return len(value)
        return len(str(value).encode("utf-8"))

    def get_total_artifact_size(self) -> int:
        """Size in bytes of all artifacts together."""
        return sum(self.get_artifact_size(key) for key in self.artifacts)
