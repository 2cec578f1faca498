"""A run's folder: effective config, metrics per iteration, structured log, final archive, summary.

```
runs/2026-11-28-sphere_lp-130501/
  config.toml     the effective spec (defaults filled in); `qd evolve config.toml` reruns it
  run.json        provenance: qd/torch/ribs versions, origin of the spec, command, start time
  metrics.jsonl   one JSON object per iteration (iteration, evaluations, qd_score, coverage, ...)
  run.log         structured log, one JSON object per line
  archive.npz     final elites (solution, objective, measures, index), written atomically
  summary.json    final statistics, written atomically at the end
```
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import platform
import sys
import time
from pathlib import Path
from typing import IO, Any

import numpy as np
import tomli_w

from qd.atomic import write_bytes_atomic, write_text_atomic
from qd.errors import RunDirError
from qd.events import EngineListener, RunEnd, RunStart
from qd.types import IterationMetrics

log = logging.getLogger(__name__)
#: Seconds between heartbeat lines in `run.log` (with the current metrics).
HEARTBEAT_S = 30.0
CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.jsonl"


def default_run_path(root: Path, problem: str, now: dt.datetime | None = None) -> Path:
    """`root/<date>-<problem>-<time>`, with a numeric suffix if that folder exists."""
    now = now or dt.datetime.now()
    base = root / f"{now:%Y-%m-%d}-{problem}-{now:%H%M%S}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and any `extra` fields."""

    _skip = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message"}

    def format(self, record: logging.LogRecord) -> str:
        """Serialise a record."""
        payload: dict[str, Any] = {
            "t": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update({k: v for k, v in vars(record).items() if k not in self._skip})
        return json.dumps(payload, default=str)


class RunDir(EngineListener):
    """Writes everything a run produces into its folder; an `EngineListener` for metrics."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._metrics: IO[str] | None = None
        self._log_handler: logging.Handler | None = None
        self._last_heartbeat = time.monotonic()

    @classmethod
    def create(cls, path: Path) -> RunDir:
        """Create a fresh run folder; refuse one that already holds a run."""
        path = Path(path)
        if (path / CONFIG_FILE).exists():
            raise RunDirError(
                f"{path} already holds a run ({CONFIG_FILE} exists); continue it with "
                f"`qd evolve {path} --resume`, or choose another --out folder"
            )
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunDirError(f"{path}: cannot create run folder: {exc.strerror}") from None
        return cls(path)

    @classmethod
    def existing(cls, path: Path) -> RunDir:
        """Open the folder of an earlier run (for resume, export, report)."""
        path = Path(path)
        if not (path / CONFIG_FILE).is_file():
            raise RunDirError(f"{path}: not a qd run folder (no {CONFIG_FILE})")
        return cls(path)

    def write_spec(self, spec_data: dict[str, Any]) -> None:
        """Write the effective spec as TOML (atomically); TOML has no null, so None is left out."""
        write_text_atomic(self.path / CONFIG_FILE, tomli_w.dumps(_drop_none(spec_data)))

    def write_config(self, spec_data: dict[str, Any], provenance: dict[str, Any]) -> None:
        """Write the effective spec as TOML and the provenance as JSON (both atomically)."""
        self.write_spec(spec_data)
        meta = {**provenance, **_versions(), "created": dt.datetime.now(dt.UTC).isoformat()}
        write_text_atomic(self.path / "run.json", json.dumps(meta, indent=2, default=str) + "\n")

    def start_logging(self, logger_name: str = "qd") -> None:
        """Send the `qd` loggers' records to `run.log` as JSON lines until `close`."""
        handler = logging.FileHandler(self.path / "run.log", encoding="utf-8")
        handler.setFormatter(JsonLogFormatter())
        handler.setLevel(logging.INFO)
        logger = logging.getLogger(logger_name)
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
        self._log_handler = handler

    def rewrite_metrics(self, rows: list[IterationMetrics]) -> None:
        """Replace `metrics.jsonl` with the given rows (resume: the store is the truth)."""
        text = "".join(json.dumps(m.as_dict()) + "\n" for m in rows)
        write_text_atomic(self.path / METRICS_FILE, text)

    def on_start(self, event: RunStart) -> None:
        """Open the metrics file."""
        self._metrics = (self.path / METRICS_FILE).open("a", encoding="utf-8")

    def on_iteration(self, metrics: IterationMetrics) -> None:
        """Append one JSON line per iteration (buffered: the run store is the durable copy, and
        resume rewrites this file from it); log a heartbeat every `HEARTBEAT_S` seconds.
        """
        assert self._metrics is not None
        self._metrics.write(json.dumps(metrics.as_dict()) + "\n")
        now = time.monotonic()
        if now - self._last_heartbeat >= HEARTBEAT_S:
            self._last_heartbeat = now
            self._metrics.flush()
            log.info("heartbeat", extra={"event": "heartbeat", **metrics.as_dict()})

    def on_end(self, event: RunEnd) -> None:
        """Write `summary.json` and close the metrics file."""
        summary = {
            "iterations": event.iterations,
            "evaluations": event.evaluations,
            "elapsed_s": round(event.elapsed_s, 6),
            "reason": event.reason,
            **{k: v for k, v in vars(event.stats).items()},
            **event.details,
        }
        write_text_atomic(self.path / "summary.json", json.dumps(summary, indent=2) + "\n")
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None

    def write_archive(self, elites: dict[str, np.ndarray], iteration: int) -> Path:
        """Save the elites as of `iteration` as `archive.npz` (atomic)."""
        buffer = io.BytesIO()
        np.savez(buffer, iteration=np.int64(iteration), **elites)
        target = self.path / "archive.npz"
        write_bytes_atomic(target, buffer.getvalue())
        return target

    def close(self) -> None:
        """Detach the log handler and close open files."""
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None
        if self._log_handler is not None:
            logging.getLogger("qd").removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_drop_none(v) for v in value if v is not None]
    return value


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Read a run's `metrics.jsonl` (a truncated last line is ignored)."""
    rows = []
    for line in (Path(path) / METRICS_FILE).read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return rows


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("qd", "ribs", "torch", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out
