"""Sandboxed evaluation of candidate programs on dask workers, retried and then recorded on loss."""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import TimeoutError as FutureTimeout

from qd.evaluation.dask_batch import is_lost_worker
from qd.evaluation.dask_cluster import DaskCluster
from qd.evaluation.program import ProgramEvaluator
from qd.program.types import Evaluation, Status

log = logging.getLogger(__name__)

#: Extra seconds allowed beyond the sandbox timeout for scheduling and transfer.
TIMEOUT_MARGIN_S = 120.0


def evaluate_program(evaluator: ProgramEvaluator, code: str) -> Evaluation:
    """Run on a worker: evaluate `code` in the sandbox, exactly as the local evaluator does.

    The evaluator's files travel inside the pickled `evaluator`.
    """
    return evaluator(code)


class DaskProgramEvaluator:
    """`ProgramEvaluator` whose sandbox runs on a dask worker.

    Blocking like the local evaluator (the engine calls it from worker threads). At most
    `max_in_flight` candidates are on the cluster at once. A candidate whose worker dies, or
    whose result does not come back within the sandbox timeout plus a margin, is resubmitted up
    to `retries` times and then returned as status ERROR with the reason.

    Args:
        evaluator: The local evaluator; it holds the problem, limits and evaluator files.
        cluster: `local:N`, `tcp://HOST:PORT`, or an existing `DaskCluster`.
        max_in_flight: Candidates submitted at once (None: unbounded here; the engine's
            `llm.evaluations_in_flight` still applies).
        retries: Resubmissions after a lost worker or a missing result.
    """

    def __init__(self, evaluator: ProgramEvaluator, cluster: str | DaskCluster,
                 max_in_flight: int | None = None, retries: int = 3) -> None:
        self.local = evaluator
        self.problem = evaluator.problem
        self.limits = evaluator.limits
        self.cluster = cluster if isinstance(cluster, DaskCluster) else DaskCluster(cluster)
        self.retries = retries
        self.timeout_s = float(evaluator.limits.timeout_s) + TIMEOUT_MARGIN_S
        self._slots = threading.BoundedSemaphore(max_in_flight) if max_in_flight else None

    def __call__(self, code: str) -> Evaluation:
        """Evaluate `code` on the cluster (blocking; run it in a worker thread)."""
        if self._slots is None:
            return self._evaluate(code)
        with self._slots:
            return self._evaluate(code)

    def _evaluate(self, code: str) -> Evaluation:
        client = self.cluster.client
        reason = ""
        for attempt in range(self.retries + 1):
            future = client.submit(evaluate_program, self.local, code, pure=False,
                                   key=f"qd-program-{attempt}-{uuid.uuid4().hex}")
            try:
                return future.result(timeout=self.timeout_s)  # type: ignore[no-any-return]
            except (TimeoutError, FutureTimeout):
                future.cancel()
                reason = f"no result from the cluster within {self.timeout_s:g} s"
            except BaseException as error:  # noqa: BLE001 - sorted below
                if not is_lost_worker(error):
                    raise
                reason = f"worker lost ({type(error).__name__}: {error})"
            log.warning("program evaluation retried",
                        extra={"attempt": attempt + 1, "reason": reason})
        reason = f"cluster evaluation failed {self.retries + 1} times: {reason}"
        return Evaluation(Status.ERROR, None, None, {}, reason, reason, 0.0)

    def close(self) -> None:
        """Close the client and any local cluster started for this evaluator."""
        self.cluster.close()
