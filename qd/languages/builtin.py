"""The registered languages: Python, C, C++, Rust, Go, Java, JavaScript, Julia, R, Fortran,
Verilog and Wolfram; `detect_language` picks one by file extension.

A new language is one `register` call here (and a test with its toolchain, skipped when it is
not installed). Syntax checks are cheap front-end runs; languages without one are checked by
their evaluator only.
"""

from __future__ import annotations

from pathlib import Path

from qd.errors import SpecError
from qd.languages.language import Language
from qd.languages.lexer import Syntax
from qd.languages.python import PYTHON
from qd.languages.toolchain import Toolchain
from qd.registry import Registry

#: Languages by name.
language_registry: Registry[Language] = Registry("language")


def register(language: Language) -> Language:
    """Register `language` under its name (a duplicate name is an error)."""
    return language_registry.register(language.name)(language)


_C = Syntax()
_GCC = Toolchain(("gcc",), install="apt-get install -y gcc")
_HASH = Syntax(line_comments=("#",), block_comments=(), quotes=('"', "'"), char_quote=False)

register(PYTHON)
register(Language(
    name="c", title="C", extensions=(".c", ".h"), fence="c", fence_tags=("c", "h"),
    syntax=_C, comment="//", directives=True, toolchain=_GCC,
    check=("gcc", "-fsyntax-only", "-std=gnu17", "-Werror=implicit-function-declaration",
           "-Werror=implicit-int", "{file}"),
))
register(Language(
    name="cpp", title="C++", extensions=(".cpp", ".cc", ".cxx", ".hpp"), fence="cpp",
    fence_tags=("cpp", "c++", "cc", "cxx", "hpp"), syntax=_C, comment="//", directives=True,
    toolchain=Toolchain(("g++",), install="apt-get install -y g++"),
    check=("g++", "-fsyntax-only", "-std=gnu++17", "-w", "{file}"),
))
register(Language(
    name="rust", title="Rust", extensions=(".rs",), fence="rust", fence_tags=("rust", "rs"),
    syntax=Syntax(nested_blocks=True), comment="//",
    branches=r"\b(?:if|for|while|loop)\b|=>|&&|\|\|",
    toolchain=Toolchain(("rustc",), homes=("~/.cargo/bin",), root_query=("--print", "sysroot"),
                        install="https://rustup.rs (curl --proto '=https' -sSf "
                                "https://sh.rustup.rs | sh), or apt-get install -y rustc"),
    check=("rustc", "--edition=2021", "--emit=metadata", "-A", "warnings", "-o", "check.rmeta",
           "{file}"),
))
register(Language(
    name="go", title="Go", extensions=(".go",), fence="go", fence_tags=("go", "golang"),
    syntax=Syntax(raw_quotes=("`",)), comment="//",
    branches=r"\b(?:if|for|case|select)\b|&&|\|\|",
    toolchain=Toolchain(("go", "gofmt"), homes=("/usr/local/go/bin", "~/go/bin"),
                        root_query=("env", "GOROOT"),
                        env=(("GOTOOLCHAIN", "local"), ("GOFLAGS", "-buildvcs=false"),
                             ("CGO_ENABLED", "0")),
                        install="apt-get install -y golang-go, or https://go.dev/dl/"),
    check=("gofmt", "-e", "-l", "{file}"),
))
register(Language(
    name="java", title="Java", extensions=(".java",), fence="java", fence_tags=("java",),
    syntax=_C, comment="//",
    toolchain=Toolchain(("javac", "java"), install="apt-get install -y default-jdk-headless"),
))
register(Language(
    name="javascript", title="JavaScript", extensions=(".js", ".mjs"), fence="javascript",
    fence_tags=("javascript", "js", "mjs", "node"), comment="//",
    syntax=Syntax(quotes=('"', "'"), raw_quotes=("`",), char_quote=False),
    toolchain=Toolchain(("node",), install="apt-get install -y nodejs"),
    check=("node", "--check", "{file}"),
))
register(Language(
    name="julia", title="Julia", extensions=(".jl",), fence="julia", fence_tags=("julia", "jl"),
    syntax=Syntax(line_comments=("#",), block_comments=(("#=", "=#"),), nested_blocks=True),
    comment="#", branches=r"\b(?:if|elseif|for|while|catch)\b|&&|\|\||\?",
    toolchain=Toolchain(("julia",), homes=("~/.juliaup/bin",),
                        install="https://julialang.org/downloads/ (juliaup)"),
))
register(Language(
    name="r", title="R", extensions=(".r", ".R"), fence="r", fence_tags=("r",), syntax=_HASH,
    comment="#", branches=r"\b(?:if|for|while|repeat)\b|&&|\|\|",
    toolchain=Toolchain(("Rscript",), install="apt-get install -y r-base-core"),
))
register(Language(
    name="fortran", title="Fortran", extensions=(".f90", ".f95", ".f03", ".f08"),
    fence="fortran", fence_tags=("fortran", "f90", "f95"),
    syntax=Syntax(line_comments=("!",), block_comments=(), quotes=('"', "'"), char_quote=False),
    comment="!", exponents="eEdDqQ", case_insensitive_branches=True,
    branches=r"(?<!end )\b(?:if|do|case|where)\b|\.and\.|\.or\.",
    toolchain=Toolchain(("gfortran",), install="apt-get install -y gfortran"),
    check=("gfortran", "-fsyntax-only", "{file}"),
))
register(Language(
    name="verilog", title="Verilog", extensions=(".v", ".sv"), fence="verilog",
    fence_tags=("verilog", "systemverilog", "v", "sv"), syntax=Syntax(char_quote=False),
    comment="//", branches=r"\b(?:if|for|while|case|casez|casex|repeat)\b|&&|\|\||\?",
    toolchain=Toolchain(("iverilog",), install="apt-get install -y iverilog"),
    check=("iverilog", "-t", "null", "{file}"),
))
register(Language(
    name="wolfram", title="Wolfram Language", extensions=(".wl", ".wls"), fence="wolfram",
    fence_tags=("wolfram", "mathematica", "wl"),
    syntax=Syntax(line_comments=(), block_comments=(("(*", "*)"),), nested_blocks=True,
                  char_quote=False),
    comment="(*", comment_end=" *)", branches=r"\b(?:If|Which|Switch|While|For|Do)\b|&&|\|\|",
    toolchain=Toolchain(("wolframscript",), install="https://www.wolfram.com/engine/"),
))


def language_named(name: str, field: str = "problem.language") -> Language:
    """The language registered as `name`.

    Raises:
        SpecError: Unknown name; the message names `field` and lists the known languages.
    """
    if name not in language_registry:
        raise SpecError(f"{field}: unknown language {name!r}; choose one of: "
                        f"{', '.join(language_registry.names())}")
    return language_registry.get(name)


def detect_language(path: str | Path) -> Language:
    """The language of a program file, by its extension.

    Raises:
        SpecError: No registered language has that extension; the message lists them and
            says to set `problem.language`.
    """
    suffix = Path(path).suffix
    for _, language in language_registry.items():
        if suffix in language.extensions:
            return language
    for _, language in language_registry.items():
        if suffix.lower() in (e.lower() for e in language.extensions):
            return language
    known = ", ".join(f"{name} ({' '.join(lang.extensions)})"
                      for name, lang in language_registry.items())
    raise SpecError(f"problem.language: cannot tell the language of {Path(path).name!r} from "
                    f"its extension {suffix or '(none)'!r}; set problem.language to one of: "
                    f"{known}")
