import pytest

from qd.errors import SpecError
from qd.spec_loader import apply_overrides, load_spec, parse_override, validate_spec


def validate(data, tmp_path):
    return validate_spec(data, tmp_path, "problem.toml")


def error_lines(data, tmp_path):
    with pytest.raises(SpecError) as info:
        validate(data, tmp_path)
    return str(info.value).splitlines()


def test_defaults_fill_everything_optional(tmp_path):
    spec = validate({"problem": {"name": "sphere_lp"}}, tmp_path)
    assert spec.problem.dim == 100
    assert spec.archive.name == "grid"
    assert [e.name for e in spec.emitters] == ["gaussian"]
    assert spec.run.budget == 10_000 and spec.run.seed == 0 and spec.run.device == "cpu"


def test_misspelt_key_names_field_and_suggests(tmp_path):
    lines = error_lines({"problem": {"name": "sphere_lp", "dimm": 3}}, tmp_path)
    assert lines == [
        "problem.toml: unknown key 'dimm' in [problem] (did you mean 'dim'?); "
        "allowed keys: dim, name, shift"
    ]


def test_misspelt_key_in_archive_without_name(tmp_path):
    (line,) = error_lines({"problem": {"name": "sphere_lp"}, "archive": {"cels": [2, 2]}}, tmp_path)
    assert "unknown key 'cels' in [archive] (did you mean 'cells'?)" in line


def test_misspelt_top_level_section(tmp_path):
    (line,) = error_lines({"problem": {"name": "sphere_lp"}, "runn": {}}, tmp_path)
    assert "unknown key 'runn' in [(top level)] (did you mean 'run'?)" in line


def test_wrong_type_names_field(tmp_path):
    (line,) = error_lines({"problem": {"name": "sphere_lp", "dim": "ten"}}, tmp_path)
    assert line.startswith("problem.toml: problem.dim: Input should be a valid integer")
    assert "'ten'" in line


def test_out_of_range(tmp_path):
    (line,) = error_lines({"problem": {"name": "sphere_lp"}, "run": {"budget": 0}}, tmp_path)
    assert "run.budget: Input should be greater than or equal to 1 (got 0)" in line


def test_unknown_registry_name_lists_allowed(tmp_path):
    (line,) = error_lines(
        {"problem": {"name": "sphere_lp"}, "emitters": [{"name": "cma_mee"}]}, tmp_path
    )
    assert "emitters[0].name: unknown emitter 'cma_mee' (did you mean 'cma_me'?)" in line
    from mutators import emitter_registry

    assert f"choose one of: {', '.join(emitter_registry.names())}" in line


def test_missing_problem(tmp_path):
    (line,) = error_lines({}, tmp_path)
    assert line == "problem.toml: problem: required but missing"


def test_missing_problem_name(tmp_path):
    (line,) = error_lines({"problem": {"dim": 3}}, tmp_path)
    assert "problem.name: missing; set name = one of:" in line


def test_every_error_is_reported(tmp_path):
    lines = error_lines(
        {"problem": {"name": "sphere_lp", "dim": -1}, "run": {"seed": "x", "budgt": 1}}, tmp_path
    )
    assert len(lines) == 3


def test_missing_file(tmp_path):
    (line,) = error_lines(
        {"problem": {"name": "python", "file": "nope.py", "solution_dim": 2,
                     "measure_bounds": [[0, 1]]}},
        tmp_path,
    )
    assert f"problem.file: file not found: {tmp_path / 'nope.py'}" in line


def test_spec_is_frozen(tmp_path):
    spec = validate({"problem": {"name": "sphere_lp"}}, tmp_path)
    with pytest.raises(Exception, match="frozen"):
        spec.run.budget = 3


def test_parse_override_values():
    assert parse_override("run.budget=30") == (["run", "budget"], 30)
    assert parse_override("archive.cells=[5, 6]") == (["archive", "cells"], [5, 6])
    assert parse_override("run.device=cuda") == (["run", "device"], "cuda")
    assert parse_override("emitters.0.sigma=0.1") == (["emitters", 0, "sigma"], 0.1)
    with pytest.raises(SpecError, match="expected KEY=VALUE"):
        parse_override("run.budget")


def test_apply_overrides_creates_tables_and_indexes_lists():
    data = {"emitters": [{"name": "gaussian"}]}
    out = apply_overrides(data, ["run.seed=4", "emitters.0.sigma=0.2"])
    assert out == {"emitters": [{"name": "gaussian", "sigma": 0.2}], "run": {"seed": 4}}
    assert data == {"emitters": [{"name": "gaussian"}]}  # untouched
    with pytest.raises(SpecError, match=r"emitters\[3\] does not exist"):
        apply_overrides(data, ["emitters.3.sigma=1"])


def test_load_builtin_folder_and_file(tmp_path):
    assert load_spec("sphere_lp").spec.problem.name == "sphere_lp"
    (tmp_path / "problem.toml").write_text('[problem]\nname = "arm_repertoire"\njoints = 3\n')
    assert load_spec(tmp_path).spec.problem.joints == 3
    assert load_spec(tmp_path / "problem.toml", ["problem.joints=5"]).spec.problem.joints == 5


def test_load_errors(tmp_path):
    with pytest.raises(SpecError, match="did you mean 'sphere_lp'"):
        load_spec("spere_lp")
    with pytest.raises(SpecError, match="folder has no problem.toml"):
        load_spec(tmp_path)
    (tmp_path / "bad.toml").write_text("[problem\nname=1")
    with pytest.raises(SpecError, match="invalid TOML"):
        load_spec(tmp_path / "bad.toml")
    with pytest.raises(SpecError, match="no such file or folder"):
        load_spec(tmp_path / "missing.toml")


def test_geometry_mismatch_is_a_spec_error(tmp_path):
    import qd

    with pytest.raises(SpecError, match="archive.cells: has 3 entries but the problem has 2"):
        qd.evolve({"problem": {"name": "sphere_lp", "dim": 4},
                   "archive": {"cells": [2, 2, 2]}}, write=False)
    with pytest.raises(SpecError, match="must agree on the archive learning rate"):
        qd.evolve({"problem": {"name": "sphere_lp", "dim": 4},
                   "emitters": [{"name": "cma_mae"}, {"name": "gaussian"}]}, write=False)
    with pytest.raises(SpecError, match="'proximity' does not support an archive learning rate"):
        qd.evolve({"problem": {"name": "sphere_lp", "dim": 4}, "archive": {"name": "proximity"},
                   "emitters": [{"name": "cma_mae"}]}, write=False)


def test_typed_settings_are_set_as_given_and_win_over_set_strings():
    # a flag's value is never re-serialised and re-parsed as TOML: "1e3" stays a string,
    # and flags win over --set
    data = apply_overrides({"run": {"budget": 10}}, ["run.budget=5", "run.cluster=1e3"],
                           {"run.budget": 9, "run.device": "cpu", "run.seed": None})
    assert data["run"] == {"budget": 9, "cluster": 1000.0, "device": "cpu"}
    assert apply_overrides({}, settings={"run.cluster": "1e3"})["run"]["cluster"] == "1e3"
    loaded = load_spec("sphere_lp", ["run.budget=5"], settings={"run.budget": 7, "run.seed": 3})
    assert (loaded.spec.run.budget, loaded.spec.run.seed) == (7, 3)


def test_cli_flags_reach_the_spec_typed():
    from qd.api import run_settings

    assert run_settings(budget=4, cluster="tcp://10.0.0.1:8786") == {
        "run.budget": 4, "run.cluster": "tcp://10.0.0.1:8786"}
    assert run_settings() == {}
