"""Evaluation on a dask.distributed cluster: same archive as the local backend, worker loss,
program runs, and clear errors for bad or unreachable addresses."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path

import dask
import distributed
import numpy as np
import pytest

import qd
from qd.api import resolve_spec
from qd.errors import SpecError
from qd.evaluation.dask_batch import DaskBatchEvaluator
from qd.evaluation.dask_cluster import ClusterError, DaskCluster, parse_cluster_address
from qd.evaluation.dask_program import DaskProgramEvaluator
from qd.events import EngineListener
from qd.numeric.build import build_components
from qd.sandbox import SandboxLimits
from qd.store import RunStore
from tests.conftest import small_spec
from tests.fixtures.scripted_llm import scripted_llm_server  # noqa: F401  (fixture)
from tests.program.conftest import TOY, Reply, improving_diff, prompt_text, toy_overrides

SLOW_PROBLEM = '''
import time
import numpy as np

def evaluate(x):
    time.sleep(0.01 * x.shape[0])  # ~10 ms per solution: a kill lands inside a chunk
    objective = 10.0 - (x ** 2).sum(axis=1)
    return objective, np.clip(x[:, :2], -1.0, 1.0)
'''


STUCK_PROBLEM = '''
import time

def evaluate(x):
    time.sleep(30)
'''


def _elites(result: qd.RunResult) -> dict[str, np.ndarray]:
    elites = result.archive.elites()
    order = np.argsort(elites["index"])
    return {key: np.asarray(value)[order] for key, value in elites.items()}


def _assert_same_archive(a: qd.RunResult, b: qd.RunResult) -> None:
    ea, eb = _elites(a), _elites(b)
    assert ea.keys() == eb.keys() and len(ea["index"]) > 0
    for key in ea:
        np.testing.assert_array_equal(ea[key], eb[key], err_msg=key)
    assert a.end.evaluations == b.end.evaluations


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_addresses_are_checked():
    assert parse_cluster_address("local:3").local_workers == 3
    assert not parse_cluster_address("tcp://10.0.0.5:8786").is_local
    for bad in ("local:0", "local:x", "tcp://host", "http://h:1", "tcp://h:70000", "h:8786"):
        with pytest.raises(ClusterError):
            parse_cluster_address(bad)
    with pytest.raises(SpecError, match="run.cluster"):
        qd.evolve(small_spec(), write=False, overrides=['run.cluster="scheduler:8786"'])


def test_unreachable_scheduler_fails_fast_with_exit_2(run_cli):
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(ClusterError, match="cannot reach the dask scheduler"):
        with DaskCluster(address, connect_timeout_s=1.0) as cluster:
            cluster.client  # noqa: B018 - connecting is the point
    proc = run_cli("evolve", "sphere_lp", "--budget", "10", "--cluster", address, "--quiet",
                   "--out", "run")
    assert proc.returncode == 2, proc.stderr
    assert "cannot reach the dask scheduler" in proc.stderr and "Traceback" not in proc.stderr


def test_cluster_starts_on_first_evaluation_and_a_stuck_chunk_times_out(tmp_path: Path):
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens: connecting would fail
    components = build_components(resolve_spec(
        small_spec(), [f'run.cluster="{address}"']).spec)  # as resume and export do
    assert isinstance(components.evaluator, DaskBatchEvaluator)
    assert not components.evaluator.cluster.started
    components.evaluator.close()
    (tmp_path / "stuck.py").write_text(STUCK_PROBLEM)
    stuck = resolve_spec(small_spec(problem={
        "name": "python", "file": str(tmp_path / "stuck.py"), "solution_dim": 2,
        "measure_bounds": [[-1, 1], [-1, 1]]}), ['run.cluster="local:1"']).spec
    problem = build_components(stuck).problem
    evaluator = DaskBatchEvaluator(problem, stuck.problem, "local:1", timeout_s=2.0)
    try:
        with pytest.raises(ClusterError, match="no evaluation finished"):
            evaluator(np.zeros((4, 2)))
    finally:
        evaluator.close()
    assert evaluator.cluster.closed and not evaluator.cluster.started


def test_resume_may_switch_to_a_cluster(tmp_path: Path):
    spec = small_spec(run={"budget": 160, "seed": 4})
    whole = qd.evolve(spec, write=False, budget=320)
    qd.evolve(spec, out=tmp_path / "run")
    resumed = qd.resume(tmp_path / "run", budget=320, overrides=['run.cluster="local:1"'])
    assert resumed.spec.run.cluster == "local:1" and resumed.restored is not None
    _assert_same_archive(whole, resumed)


def test_numeric_run_matches_local_backend_exactly():
    spec = small_spec(run={"budget": 320, "seed": 5})
    local = qd.evolve(spec, write=False)
    remote = qd.evolve(spec, write=False, overrides=['run.cluster="local:2"'])
    _assert_same_archive(local, remote)
    chunked = qd.evolve(spec, write=False, overrides=['run.cluster="local:1"',
                                                      "run.chunk_size=7"])
    _assert_same_archive(local, chunked)


class _KillWorker(EngineListener):
    """After iteration `at`, SIGKILLs the first worker process the scheduler shows busy with a
    chunk of the next batch (so the kill lands inside a chunk however loaded the machine is).
    """

    def __init__(self, client, at: int) -> None:  # noqa: ANN001 - distributed.Client
        self.client, self.at = client, at
        self.killed: int | None = None
        self.iterations_after = 0

    def on_iteration(self, metrics) -> None:  # noqa: ANN001
        if self.killed is not None:
            self.iterations_after += 1
        elif metrics.iteration >= self.at:
            pids = self.client.run(os.getpid)
            self.killed = -1
            threading.Thread(target=self._kill_when_busy, args=(pids,), daemon=True).start()

    def _kill_when_busy(self, pids: dict[str, int]) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            busy = [w for w, keys in self.client.processing().items() if keys and w in pids]
            if busy:
                time.sleep(0.02)  # inside the chunk's ~160 ms of work
                self.killed = pids[busy[0]]
                os.kill(self.killed, signal.SIGKILL)
                return
            time.sleep(0.002)


def test_killed_worker_loses_no_evaluation(tmp_path: Path, caplog):
    (tmp_path / "slow.py").write_text(SLOW_PROBLEM)
    spec = small_spec(problem={"name": "python", "file": str(tmp_path / "slow.py"),
                               "solution_dim": 4, "measure_bounds": [[-1, 1], [-1, 1]],
                               "objective_bounds": [0, 10]},
                      run={"budget": 256, "seed": 2})
    local = qd.evolve(spec, write=False)
    # allowed-failures=0: the scheduler gives up on a chunk at its first lost worker, so the
    # evaluator's own resubmission is what saves the evaluation
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        killer = _KillWorker(client, at=2)
        with caplog.at_level(logging.WARNING, logger="qd.evaluation.dask_batch"):
            remote = qd.evolve(spec, write=False, listeners=[killer],
                               overrides=[f'run.cluster="{cluster.scheduler_address}"'])
        assert killer.killed > 0 and killer.iterations_after >= 3  # a worker was killed
        client.wait_for_workers(2, timeout=30)
        assert killer.killed not in client.run(os.getpid).values()  # the nanny restarted it
    assert any("resubmitted" in r.getMessage() for r in caplog.records)
    _assert_same_archive(local, remote)


def test_program_run_on_a_local_cluster_stores_every_outcome(scripted_llm_server, tmp_path):  # noqa: F811
    scripted_llm_server.respond_with(lambda request: Reply(text=improving_diff(
        prompt_text(request))))
    out = tmp_path / "run"
    result = qd.evolve(TOY, out=out, overrides=[*toy_overrides(scripted_llm_server),
                                                'run.cluster="local:1"'])
    assert result.end.reason == "budget" and result.end.evaluations == 6
    evaluator = result.programs.s.evaluator
    assert isinstance(evaluator, DaskProgramEvaluator) and evaluator.cluster.closed
    store = RunStore.open(out, create=False)
    try:
        rows = store.programs.all()
        assert [r.status for r in rows].count("ok") == 6
        assert rows[0].operator == "initial" and rows[0].score == 3.0
        assert max(r.score for r in rows if r.score is not None) >= 7.0
        assert store.metrics.all()[-1].evaluations == 6
    finally:
        store.close()


class _DyingEvaluator:
    """Stands in for a `ProgramEvaluator` whose worker process dies during every evaluation."""

    problem = None
    limits = SandboxLimits(timeout_s=5)

    def __call__(self, code: str) -> None:
        os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.slow  # 10-55 s (two worker restarts); test_killed_worker_loses_no_evaluation stays
def test_lost_program_worker_is_retried_then_recorded_as_error():
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        evaluator = DaskProgramEvaluator(_DyingEvaluator(), "local:1", max_in_flight=1,
                                         retries=1)
        try:
            outcome = evaluator("def solve():\n    return [1, 1, 1]\n")
        finally:
            evaluator.close()
    assert outcome.status == "error" and outcome.score is None
    assert "failed 2 times" in outcome.reason and "KilledWorker" in outcome.reason
