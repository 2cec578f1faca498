"""The run store's SQLite schema, as a list of migrations (see `qd.store`).

The database's `PRAGMA user_version` says how many migrations it has had; opening a store applies
the missing ones in order, each in its own transaction.
"""

from __future__ import annotations

# Migration i brings the schema from version i to i + 1; append, never edit, to change it.
MIGRATIONS: list[str] = [
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    iteration INTEGER PRIMARY KEY,
    size INTEGER NOT NULL,
    solution_dim INTEGER NOT NULL,
    measure_dim INTEGER NOT NULL,
    solutions_offset INTEGER NOT NULL,
    objectives BLOB NOT NULL,
    measures BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS metrics (
    iteration INTEGER PRIMARY KEY,
    evaluations INTEGER NOT NULL,
    num_elites INTEGER NOT NULL,
    coverage REAL NOT NULL,
    qd_score REAL NOT NULL,
    norm_qd_score REAL NOT NULL,
    best REAL,
    elapsed_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    iteration INTEGER PRIMARY KEY,
    file TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS component_state (
    key TEXT PRIMARY KEY,
    iteration INTEGER NOT NULL,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    t REAL NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
);
""",
    """
CREATE TABLE IF NOT EXISTS programs (
    id INTEGER PRIMARY KEY,
    parents TEXT NOT NULL,
    code TEXT,
    code_hash TEXT,
    generation INTEGER NOT NULL,
    island INTEGER NOT NULL DEFAULT 0,
    operator TEXT NOT NULL,
    model TEXT,
    cost_usd REAL NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    llm_latency_s REAL NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    reason TEXT,
    score REAL,
    measures TEXT,
    metrics TEXT,
    feedback TEXT,
    eval_s REAL,
    created REAL NOT NULL,
    evaluated REAL
);
CREATE INDEX IF NOT EXISTS programs_status ON programs(status);
CREATE INDEX IF NOT EXISTS programs_hash ON programs(code_hash);
""",
    """
ALTER TABLE programs ADD COLUMN reward REAL;
""",
    """
CREATE TABLE IF NOT EXISTS judge_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    model TEXT NOT NULL,
    kind TEXT NOT NULL,
    prompt TEXT NOT NULL,
    answer TEXT,
    parsed TEXT,
    cached INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    latency_s REAL NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS judge_calls_key ON judge_calls(key);
""",
    """
-- code embeddings by sha256(embedder name, embedded text); see qd.embeddings.cache
CREATE TABLE IF NOT EXISTS embeddings (
    key TEXT PRIMARY KEY,
    embedder TEXT NOT NULL,
    dim INTEGER NOT NULL,
    dtype TEXT NOT NULL,
    vector BLOB NOT NULL,
    created REAL NOT NULL
);
""",
    """
-- a literal-tuning variant names the child whose structure its operator made
ALTER TABLE programs ADD COLUMN tuned_from INTEGER;
""",
]
SCHEMA_VERSION = len(MIGRATIONS)
