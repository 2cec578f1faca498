"""Peer-folder support without the LLM: config keys mapped or reported, what travels into the
sandbox, and the refusals (non-Python programs, peer-package parts qd does not provide, size).
"""

from __future__ import annotations

import shutil
import textwrap

import pytest

from qd.cli.main import run as cli
from qd.errors import SpecError
from qd.evaluation.program import ProgramEvaluator
from qd.formats import detect, load_foreign
from qd.sandbox import SandboxLimits
from qd.spec_loader import load_spec
from tests.formats.conftest import OPENEVOLVE_FULL, OPENEVOLVE_TOY, SHINKA_FULL, SHINKA_TOY


def test_openevolve_example_config_keys_are_mapped_or_reported():
    data, report = load_foreign(OPENEVOLVE_FULL, "openevolve")
    assert data["sandbox"] == {"timeout_s": 45.0, "memory_mb": 1024}  # 15 s x 3 stages
    assert data["problem"]["task"] == "Make solve() return the three target numbers."
    assert data["llm"]["models"][0]["model"] == "openai/toy-model"
    assert set(report.unmapped) == {"checkpoint_interval", "log_level", "llm.top_p",
                                    "prompt.num_top_programs", "database.population_size",
                                    "evaluator.max_retries"}
    assert report.missing_packages == []  # openevolve is provided by qd's stand-in
    names = sorted(p.rsplit("/", 1)[-1] for p in data["problem"]["files"])
    assert names == ["_qd_shims", "config.yaml", "data", "evaluator.py", "initial_program.py",
                     "scoring"]


def test_shinka_example_config_keys_are_mapped_or_reported():
    data, report = load_foreign(SHINKA_FULL, "shinka")
    llm = data["llm"]
    assert llm["selector"] == {"name": "shinka_weighted", "sharpness": 5.0}
    assert llm["evaluations_in_flight"] == 1 and llm["proposals_in_flight"] == 1
    assert data["run"] == {"budget": 5, "max_cost_usd": 2.5}
    assert data["sandbox"] == {"timeout_s": 30.0}  # job_config.time 00:00:30
    assert set(report.unmapped) == {"max_db_workers", "db_config.archive_size",
                                    "evo_config.embedding_model"}


def test_every_file_travels_but_outputs_and_caches(tmp_path):
    folder = tmp_path / "oe"
    shutil.copytree(OPENEVOLVE_FULL, folder)
    for junk in ("openevolve_output/checkpoints", "__pycache__", ".git"):
        (folder / junk).mkdir(parents=True)
        (folder / junk / "x.bin").write_bytes(b"x")
    (folder / "scoring" / "tables").mkdir()
    (folder / "scoring" / "tables" / "weights.csv").write_text("1,2\n")
    loaded = load_spec(folder)
    assert any("openevolve_output (OpenEvolve's output folder)" in n
               for n in loaded.foreign["notes"])
    files = ProgramEvaluator(loaded.spec.problem, SandboxLimits())._files
    assert "scoring/tables/weights.csv" in files and "data/targets.json" in files
    assert "_qd_shims/openevolve/evaluation_result.py" in files
    assert not any(n.startswith(("openevolve_output", "__pycache__", ".git")) for n in files)
    assert files["evaluate.py"].startswith(b'"""Adapter evaluator')


def test_shinka_results_folders_stay_behind(tmp_path):
    folder = tmp_path / "sk"
    shutil.copytree(SHINKA_FULL, folder)
    (folder / "results").mkdir()
    (folder / "results" / "metrics.json").write_text("{}")
    data, report = load_foreign(folder, "shinka")
    assert not any(p.endswith("/results") for p in data["problem"]["files"])
    assert any("results (ShinkaEvolve's results folder)" in n for n in report.notes)


def test_files_over_the_size_limit_stop_with_one_message(tmp_path):
    folder = tmp_path / "oe"
    shutil.copytree(OPENEVOLVE_FULL, folder)
    (folder / "data" / "big.bin").write_bytes(b"\0" * 300_000)
    with pytest.raises(SpecError, match=r"largest: data/big\.bin, 0\.3 MB\); the limit is "
                                        r"problem\.files_limit_mb = 0\.2"):
        load_spec(folder, ["problem.files_limit_mb=0.2"])
    assert load_spec(folder).spec.problem.files_limit_mb == 100.0


@pytest.mark.parametrize(("source", "change", "language"), [
    (OPENEVOLVE_TOY, "rust", "rust"),       # initial_program.rs, as rust_adaptive_sort
    (SHINKA_TOY, "fortran", "fortran"),     # evo_config.language, as fortran_heat_diffusion
    (SHINKA_TOY, "golang", "go"),           # ShinkaEvolve's alias
])
def test_other_languages_map_to_qds_language_setting(tmp_path, source, change, language):
    folder = _with_language(tmp_path, source, change)
    data, _ = load_foreign(folder, detect(folder))
    assert data["problem"]["language"] == language


@pytest.mark.parametrize(("source", "change", "message"), [
    (SHINKA_TOY, "cuda", "initial.py is in a language qd does not run (language: cuda); qd runs "
                         "ShinkaEvolve folders whose programs are in: "),
    (OPENEVOLVE_TOY, "txt", "initial_program.txt is in a language qd does not run (a .txt "
                            "file); qd runs OpenEvolve folders whose programs are in: "),
])
def test_languages_qd_does_not_run_are_refused(tmp_path, capsys, source, change, message):
    folder = _with_language(tmp_path, source, change)
    assert cli(["evolve", str(folder)]) == 2
    err = capsys.readouterr().err
    assert message in err and "python" in err and "Traceback" not in err


def _with_language(tmp_path, source, change):
    folder = tmp_path / change
    shutil.copytree(source, folder)
    if source == OPENEVOLVE_TOY:
        suffix = {"rust": "rs"}.get(change, change)
        (folder / "initial_program.py").rename(folder / f"initial_program.{suffix}")
    else:
        cfg = folder / "shinka.yaml"
        cfg.write_text(cfg.read_text().replace('language: "python"', f'language: "{change}"'))
    return folder


def test_a_module_level_import_qd_does_not_provide_is_refused(tmp_path, capsys):
    folder = tmp_path / "sk"
    shutil.copytree(SHINKA_FULL, folder)
    evaluator = folder / "evaluate.py"
    evaluator.write_text("from shinka.core import EvolutionConfig\n" + evaluator.read_text())
    assert cli(["evolve", str(folder)]) == 2
    err = capsys.readouterr().err
    assert ("evaluate.py:1: shinka.core.EvolutionConfig is not available under qd: qd runs "
            "ShinkaEvolve evaluators with a small stand-in for the `shinka` package that "
            "provides only shinka, shinka.core, shinka.core.wrap_eval") in err


def test_a_nested_unprovided_import_is_a_note_and_a_clear_failure(tmp_path):
    folder = tmp_path / "oe"
    shutil.copytree(OPENEVOLVE_FULL, folder)
    evaluator = folder / "evaluator.py"
    evaluator.write_text(evaluator.read_text() + textwrap.dedent("""
        def evaluate_stage1(program_path):
            from openevolve.utils.code_utils import parse_evolve_blocks
            return {"shape_ok": 1.0}
        """))
    loaded = load_spec(folder)
    assert any("openevolve.utils.code_utils is not available under qd" in n
               for n in loaded.foreign["notes"])
    problem = loaded.spec.problem
    result = ProgramEvaluator(problem, SandboxLimits(timeout_s=30))(
        problem.initial.read_text())
    assert result.status.value == "invalid"
    assert ("cascade stage 1 raised ModuleNotFoundError: openevolve.utils is not available "
            "under qd") in result.reason


def test_a_launcher_script_beside_the_evaluator_is_not_evaluated_code(tmp_path):
    folder = tmp_path / "sk"
    shutil.copytree(SHINKA_FULL, folder)
    (folder / "run_evo.py").write_text("from shinka.core import EvolutionConfig, "
                                       "ShinkaEvolveRunner\n")
    _, report = load_foreign(folder, "shinka")  # only the evaluator and what it imports count
    assert not any("not available" in n for n in report.notes)


def test_score_without_combined_score_leaves_out_feature_dimensions(tmp_path):
    folder = tmp_path / "oe"
    shutil.copytree(OPENEVOLVE_TOY, folder)
    (folder / "evaluator.py").write_text(
        "def evaluate(program_path):\n"
        "    return {'a': 1.0, 'b': 3.0, 'balance': 0.5, 'flag': True}\n")
    problem = load_spec(folder).spec.problem
    result = ProgramEvaluator(problem, SandboxLimits(timeout_s=30))(problem.initial.read_text())
    assert result.status.value == "ok" and result.score == 2.0  # mean of a and b, as OpenEvolve
    assert result.measures[1] == 0.5 and "flag" not in result.metrics
