"""Toolchains seen by the sandbox, and the sandboxed syntax check that runs before evaluation."""

import os

import pytest

from qd.languages import Toolchain, ToolchainError, language_named
from qd.languages.check import SyntaxCheck
from qd.sandbox import SandboxLimits
from qd.sandbox.limits import DEFAULT_PATH
from tests.sandbox.conftest import bwrap_usable

C = language_named("c")
RUST = language_named("rust")


def needs(language):
    if not language.toolchain.available():
        pytest.skip(f"{language.toolchain.programs[0]} is not installed: "
                    f"{language.toolchain.install}")


def test_a_missing_toolchain_says_how_to_install_it():
    missing = Toolchain(("qd-no-such-compiler",), homes=("~/nowhere",), install="apt-get x")
    assert not missing.available()
    with pytest.raises(ToolchainError, match=r"qd-no-such-compiler is not installed \(searched "
                                             r"PATH, ~/nowhere\); install it: apt-get x"):
        missing.locate()


def test_a_system_toolchain_needs_no_extra_binds():
    needs(C)
    located = C.toolchain.locate()
    assert located.read_only == ()
    assert os.path.isfile(located.programs["gcc"])
    limits = located.limits(SandboxLimits())
    assert limits.read_only_paths == ()
    assert limits.env_set["PATH"].split(":")[0] == located.bin_dirs[0]


def test_rustup_toolchain_is_bound_read_only_and_put_on_path():
    needs(RUST)
    located = RUST.toolchain.locate()
    (root,) = located.read_only or (None,)
    if root is None:
        pytest.skip("rustc is installed under /usr: nothing to bind")
    assert os.path.isfile(os.path.join(root, "bin", "rustc"))  # the real compiler, no proxy
    limits = located.limits(SandboxLimits(env_set={"A": "1"}))
    assert limits.read_only_paths == (root,)
    path = limits.env_set["PATH"].split(":")
    assert path[0] == f"{root}/bin"
    assert path[1:] == list(dict.fromkeys(os.environ.get("PATH", DEFAULT_PATH).split(":")))
    assert limits.env_set["A"] == "1"


@pytest.mark.parametrize("isolation", ["process", "bwrap"])
def test_c_syntax_check_rejects_with_the_compiler_errors(isolation):
    needs(C)
    if isolation == "bwrap" and not bwrap_usable():
        pytest.skip("bubblewrap is not usable here (apt-get install -y bubblewrap)")
    limits = SandboxLimits(isolation=isolation)
    check = SyntaxCheck("C", C.check, C.candidate_name, C.toolchain, limits)
    assert check("int main(void) { return 0; }\n") is None
    reason = check("int main(void) { return 0 }\n")
    assert reason.startswith("the program does not compile (gcc): candidate.c:1:")
    assert "error" in reason and "expected" in reason
    assert check("int main(void) { return 0 }\n") == reason  # remembered, not run again


def test_the_check_cannot_read_files_outside_the_sandbox(tmp_path):
    """`#include` of a secret file fails inside the sandbox: its content never reaches the
    rejection reason (which an LLM prompt would show)."""
    needs(C)
    secret = tmp_path / "secret.h"
    secret.write_text("int qd_secret_value_8f3a = 1;\n")
    source = f'#include "{secret}"\nint main(void) {{ return qd_secret_value_8f3a; }}\n'
    reason = C.in_sandbox(SandboxLimits()).syntax_problem(source)
    assert reason is not None and "does not compile" in reason
    assert "secret.h" in reason and "int qd_secret_value_8f3a = 1" not in reason


def test_rust_syntax_check_type_checks():
    needs(RUST)
    rust = RUST.in_sandbox(SandboxLimits())
    assert rust.syntax_problem("fn main() { let x: f64 = 1.0; println!(\"{x}\"); }\n") is None
    reason = rust.syntax_problem("fn main() { let x: i32 = 1.0; }\n")
    assert "does not compile (rustc)" in reason and "mismatched types" in reason
