import pytest

from qd.errors import RegistryError
from qd.registry import Registry


def test_register_and_lookup():
    reg: Registry[type] = Registry("widget")

    @reg.register("a")
    class A:
        pass

    assert reg.get("a") is A
    assert "a" in reg and len(reg) == 1
    assert reg.names() == ["a"]


def test_unknown_name_lists_valid_ones():
    reg: Registry[int] = Registry("widget")
    reg.register("alpha")(1)
    reg.register("beta")(2)
    with pytest.raises(RegistryError, match="unknown widget 'gamma'; choose one of: alpha, beta"):
        reg.get("gamma")


def test_duplicate_name_is_an_error():
    reg: Registry[int] = Registry("widget")
    reg.register("a")(1)
    with pytest.raises(RegistryError, match="already registered"):
        reg.register("a")(2)
