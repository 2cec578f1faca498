"""The run kind is chosen by the problem's registered class, never by its name."""

import pytest

import qd
from problems import problem_registry
from qd.errors import RegistryError
from qd.kinds import run_kind_of
from qd.session import RunKind, run_kind_registry
from qd.spec_loader import builtin_specs, read_toml


def test_both_kinds_are_registered_and_every_problem_has_one():
    assert run_kind_registry.names() == ["numeric", "program"]
    for name, cls in problem_registry.items():
        kind = run_kind_of({"problem": {"name": name}})
        assert kind.name == getattr(cls, "run_kind", "numeric")
        assert isinstance(kind, RunKind)


@pytest.mark.parametrize("name", sorted(builtin_specs()))
def test_a_spec_and_its_stored_config_give_the_same_kind(name):
    raw = read_toml(builtin_specs()[name])
    spec = qd.load_spec(name).spec
    assert run_kind_of(raw).name == run_kind_of(spec).name
    assert run_kind_of(spec).solutions_are_programs == (run_kind_of(spec).name == "program")


def test_the_kind_follows_the_problem_class_not_its_name():
    cls = problem_registry.get("sphere_lp")
    try:
        cls.run_kind = "program"
        assert run_kind_of({"problem": {"name": "sphere_lp"}}).name == "program"
        cls.run_kind = "no_such_kind"
        with pytest.raises(RegistryError, match="unknown run kind 'no_such_kind'"):
            run_kind_of({"problem": {"name": "sphere_lp"}})
    finally:
        del cls.run_kind


def test_a_numeric_session_result_has_no_programs():
    result = qd.evolve("sphere_lp", budget=200, seed=1, write=False)
    assert result.programs is None
    assert result.metrics and result.end.evaluations >= 200
