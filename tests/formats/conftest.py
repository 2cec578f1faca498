"""Fixtures of the foreign-format tests: the toy folders and a private adapter cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.scripted_llm import scripted_llm_server  # noqa: F401  (fixture)
from tests.program.conftest import Reply, improving_diff, prompt_text

FOREIGN = Path(__file__).resolve().parent.parent / "fixtures" / "foreign"
OPENEVOLVE_TOY = FOREIGN / "openevolve_toy"
SHINKA_TOY = FOREIGN / "shinka_toy"
OPENEVOLVE_FULL = FOREIGN / "openevolve_full"  # the features OpenEvolve's examples use
SHINKA_FULL = FOREIGN / "shinka_full"  # the features ShinkaEvolve's examples use
OPENEVOLVE_C = FOREIGN / "openevolve_c"  # a program in C, as rust_adaptive_sort's is in Rust


@pytest.fixture(autouse=True)
def adapter_dir(tmp_path_factory, monkeypatch) -> Path:  # noqa: ANN001
    """Generated adapters go to a test folder, not the user's cache."""
    folder = tmp_path_factory.mktemp("adapters")
    monkeypatch.setenv("QD_ADAPTER_DIR", str(folder))
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes (to prove a run leaves it unchanged)."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def llm(scripted_llm_server):  # noqa: ANN001, F811
    """The scripted server answering every prompt with an improving diff of its parent."""
    scripted_llm_server.respond_with(lambda r: Reply(text=improving_diff(prompt_text(r))))
    return scripted_llm_server

