"""Detection of foreign folders, their config mapping, the unmapped-key report and errors."""

from __future__ import annotations

import shutil

import pytest

from qd.errors import SpecError
from qd.formats import detect, load_foreign
from qd.spec_loader import load_spec
from tests.formats.conftest import OPENEVOLVE_TOY, SHINKA_TOY, snapshot
from tests.program.conftest import TOY


def test_detect_each_format(tmp_path):
    assert detect(TOY) == "qd"
    assert detect(OPENEVOLVE_TOY) == "openevolve"
    assert detect(SHINKA_TOY) == "shinka"
    with pytest.raises(SpecError, match="folder has no problem.toml"):
        detect(tmp_path)


def test_openevolve_config_is_mapped_and_the_rest_reported(adapter_dir):
    before = snapshot(OPENEVOLVE_TOY)
    data, report = load_foreign(OPENEVOLVE_TOY, "openevolve")
    problem = data["problem"]
    assert problem["initial"].endswith("openevolve_toy/initial_program.py")
    assert problem["evaluator"].startswith(str(adapter_dir))  # never in the user's folder
    assert [m["source"] for m in problem["measures"]] == ["code_length", "evaluator"]
    assert problem["measures"][0]["range"] == [0.0, 2000.0]  # max_code_length
    assert problem["measures"][1]["name"] == "balance"
    assert data["archive"]["cells"] == [4, 5]
    assert data["run"] == {"budget": 7, "seed": 3}
    assert data["sandbox"] == {"timeout_s": 40.0}  # 20 s per cascade stage, two stages
    assert data["llm"]["operators"] == ["diff"]
    assert data["llm"]["selector"] == {"name": "islands", "islands": 2, "migration_interval": 20}
    first, big = data["llm"]["models"]
    assert first["model"] == "openai/toy-model" and first["api_base"] == "http://127.0.0.1:9/v1"
    assert first["api_key_env"] == "TOY_API_KEY" and big["max_tokens"] == 1024
    assert set(report.unmapped) == {
        "checkpoint_interval", "log_level", "llm.evaluator_models", "prompt.num_top_programs",
        "database.population_size", "evaluator.use_llm_feedback", "llm.models[0].weight",
        "llm.models[1].weight"}
    assert any("'balance'" in n and "[0, 1]" in n for n in report.notes)
    assert snapshot(OPENEVOLVE_TOY) == before


def test_shinka_config_is_mapped_and_the_rest_reported():
    data, report = load_foreign(SHINKA_TOY, "shinka")
    llm = data["llm"]
    assert llm["operators"] == ["diff", "rewrite", "crossover"]
    assert [m["model"] for m in llm["models"]] == ["gpt-4.1-mini", "o4-mini"]
    assert llm["models"][0]["temperature"] == 0.0 and llm["models"][0]["max_tokens"] == 2048
    assert llm["selector"]["islands"] == 2 and llm["evaluations_in_flight"] == 1
    assert data["run"] == {"budget": 6}
    assert data["problem"]["task"].startswith("Make solve()")
    assert set(report.unmapped) == {
        "evo_config.patch_type_probs", "evo_config.meta_rec_interval",
        "evo_config.embedding_model", "db_config.archive_size", "db_config.elite_selection_ratio"}


def test_load_spec_detects_and_validates_foreign_folders():
    loaded = load_spec(OPENEVOLVE_TOY)
    assert loaded.foreign["format"] == "openevolve"
    assert loaded.spec.run.budget == 7
    forced = load_spec(SHINKA_TOY, ["run.budget=2"], fmt="shinka")
    assert forced.spec.run.budget == 2 and forced.foreign["format"] == "shinka"
    assert load_spec(TOY).foreign is None


def test_missing_imports_are_named(tmp_path):
    folder = tmp_path / "oe"
    shutil.copytree(OPENEVOLVE_TOY, folder)
    with (folder / "evaluator.py").open("a") as handle:
        handle.write("\nimport qd_no_such_module_xyz  # noqa\n")
    _, report = load_foreign(folder, "openevolve")
    assert report.missing_packages == ["qd_no_such_module_xyz"]
    assert any("pip install qd_no_such_module_xyz" in w for w in report.warnings())


@pytest.mark.parametrize(("case", "message"), [
    ("no_evaluator", "no evaluator.py"),
    ("no_evaluate_function", "defines no function `evaluate"),
    ("bad_yaml", "invalid YAML"),
    ("shinka_no_evaluator", "no evaluate.py"),
])
def test_broken_folders_fail_with_one_clear_message(tmp_path, case, message):
    folder = tmp_path / case
    shutil.copytree(SHINKA_TOY if case.startswith("shinka") else OPENEVOLVE_TOY, folder)
    if case == "no_evaluator":
        (folder / "evaluator.py").unlink()
    elif case == "no_evaluate_function":
        (folder / "evaluator.py").write_text("def score(path):\n    return {}\n")
    elif case == "bad_yaml":
        (folder / "config.yaml").write_text("llm:\n  models: [unclosed\n")
    else:
        (folder / "evaluate.py").unlink()
    with pytest.raises(SpecError, match=message):
        load_spec(folder)
