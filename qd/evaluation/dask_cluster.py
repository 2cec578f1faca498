"""Connect to a dask.distributed scheduler (`tcp://HOST:PORT`) or start a local one (`local:N`)."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

from qd.errors import QDError

log = logging.getLogger(__name__)

#: Seconds to wait for a remote scheduler to answer before giving up.
CONNECT_TIMEOUT_S = 5.0
#: Seconds to wait for the first worker to join the cluster.
WORKER_TIMEOUT_S = 60.0

#: dask settings of the worker processes of a `local:N` cluster.
LOCAL_WORKER_CONFIG = {"distributed.worker.profile.enabled": False}

_LOCAL = re.compile(r"^local:(\d+)$")
_TCP = re.compile(r"^tcp://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")
MAX_LOCAL_WORKERS = 1024


class ClusterError(QDError):
    """The cluster address is malformed, or the scheduler cannot be reached."""

    exit_code = 2


@dataclass(frozen=True)
class ClusterAddress:
    """A parsed `run.cluster` value.

    Attributes:
        text: The address as given.
        local_workers: Worker processes to start for `local:N`, None for a remote scheduler.
    """

    text: str
    local_workers: int | None = None

    @property
    def is_local(self) -> bool:
        """Whether qd starts (and later closes) the cluster itself."""
        return self.local_workers is not None


def parse_cluster_address(text: str) -> ClusterAddress:
    """Check a `run.cluster` value: `local:N` (1 ≤ N ≤ 1024) or `tcp://HOST:PORT`.

    Raises:
        ClusterError: The value matches neither form; the message shows both.
    """
    local = _LOCAL.match(text)
    if local:
        n = int(local.group(1))
        if not 1 <= n <= MAX_LOCAL_WORKERS:
            raise ClusterError(f"cluster {text!r}: local:N needs 1 ≤ N ≤ {MAX_LOCAL_WORKERS}")
        return ClusterAddress(text, n)
    tcp = _TCP.match(text)
    if tcp:
        port = int(tcp.group(2))
        if not 1 <= port <= 65535:
            raise ClusterError(f"cluster {text!r}: port {port} is not in 1..65535")
        return ClusterAddress(text)
    raise ClusterError(
        f"cluster {text!r} is not an address; use local:N (start N worker processes here) "
        "or tcp://HOST:PORT (a running `dask scheduler`, e.g. tcp://10.0.0.5:8786)"
    )


class DaskCluster:
    """A lazily opened dask client; `close()` also stops a local cluster this object started.

    Nothing is started or contacted until `client` is first used, so building a run's components
    (resume, export) never touches the cluster. Usable as a context manager.

    Args:
        address: `local:N` or `tcp://HOST:PORT`.
        connect_timeout_s: How long to wait for a remote scheduler.
        worker_timeout_s: How long to wait for at least one worker.
    """

    def __init__(self, address: str, connect_timeout_s: float = CONNECT_TIMEOUT_S,
                 worker_timeout_s: float = WORKER_TIMEOUT_S) -> None:
        self.address = parse_cluster_address(address)
        self.connect_timeout_s = connect_timeout_s
        self.worker_timeout_s = worker_timeout_s
        self._client: Any = None
        self._cluster: Any = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def started(self) -> bool:
        """Whether a client is open."""
        return self._client is not None

    @property
    def closed(self) -> bool:
        """Whether `close()` was called."""
        return self._closed

    @property
    def client(self) -> Any:
        """The `distributed.Client`, connected (and the local cluster started) on first use."""
        with self._lock:
            if self._closed:
                raise ClusterError(f"cluster {self.address.text}: already closed")
            if self._client is None:
                self._client = self._open()
            return self._client

    def slots(self) -> int:
        """Tasks the cluster runs at once: worker threads summed over workers (at least 1)."""
        return max(1, sum(self.client.nthreads().values()))

    def _open(self) -> Any:
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ClusterError(
                'run.cluster needs dask.distributed: pip install "dask[distributed]>=2024.1"'
            ) from exc
        if self.address.is_local:
            log.info("starting local dask cluster", extra={"workers": self.address.local_workers})
            # no dashboard, so no use for the workers' statistical profiler: it samples the
            # evaluating thread every 10 ms and costs CPU-bound Python problems several percent
            with dask.config.set(LOCAL_WORKER_CONFIG):
                self._cluster = LocalCluster(
                    n_workers=self.address.local_workers, threads_per_worker=1,
                    processes=True, host="127.0.0.1", dashboard_address=None,
                )
            try:
                client = Client(self._cluster, timeout=max(self.connect_timeout_s, 30.0))
            except BaseException:
                self._cluster.close()
                self._cluster = None
                raise
        else:
            try:
                client = Client(self.address.text, timeout=self.connect_timeout_s)
            except (OSError, TimeoutError) as exc:
                raise ClusterError(
                    f"cannot reach the dask scheduler at {self.address.text} within "
                    f"{self.connect_timeout_s:g} s ({exc}); is `dask scheduler` running there "
                    "and the port open?"
                ) from None
        try:
            client.wait_for_workers(1, timeout=self.worker_timeout_s)
        except (TimeoutError, OSError):
            self._shutdown(client)
            raise ClusterError(
                f"no dask worker joined {self.address.text} within {self.worker_timeout_s:g} s; "
                f"start one with `dask worker {self.address.text}`"
            ) from None
        log.info("dask client connected",
                 extra={"cluster": self.address.text, "scheduler": client.scheduler.address})
        return client

    def _shutdown(self, client: Any) -> None:
        try:
            client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()
                self._cluster = None

    def close(self) -> None:
        """Close the client and stop a local cluster started here; safe to call twice."""
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
        if client is not None:
            self._shutdown(client)

    def __enter__(self) -> DaskCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
