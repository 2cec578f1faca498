import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest

import qd
from qd.errors import ProblemOutputError, SpecError


def write_problem(folder, body, extra=""):
    (folder / "my_problem.py").write_text(textwrap.dedent(body))
    (folder / "problem.toml").write_text(
        textwrap.dedent(
            f"""
            [problem]
            name = "python"
            file = "my_problem.py"
            solution_dim = 3
            measure_bounds = [[-1.0, 1.0], [-1.0, 1.0]]
            objective_bounds = [-3.0, 0.0]
            {extra}
            [[emitters]]
            batch_size = 20
            sigma = 0.2
            [archive]
            cells = [10, 10]
            [run]
            budget = 400
            """
        )
    )


def test_user_function_runs_batched(tmp_path):
    write_problem(
        tmp_path,
        """
        import numpy as np
        CALLS = []
        def evaluate(x):
            CALLS.append(len(x))
            return -(x ** 2).sum(axis=1), np.tanh(x[:, :2])
        """,
    )
    result = qd.evolve(tmp_path, write=False)
    stats = result.archive.stats()
    assert stats.num_elites > 10
    assert stats.best <= 0


def test_wrong_return_shape_is_reported(tmp_path):
    write_problem(
        tmp_path,
        """
        import numpy as np
        def evaluate(x):
            return np.zeros(len(x)), np.zeros((len(x), 3))
        """,
    )
    with pytest.raises(ProblemOutputError, match=r"measures of shape \(20, 2\)"):
        qd.evolve(tmp_path, write=False)


def test_missing_function_is_a_spec_error(tmp_path):
    write_problem(tmp_path, "x = 1\n")
    with pytest.raises(SpecError, match="problem.function: .* defines no function 'evaluate'"):
        qd.evolve(tmp_path, write=False)


def test_x0_length_is_checked(tmp_path):
    write_problem(tmp_path, "def evaluate(x): pass\n", extra="x0 = [0.0, 1.0]")
    with pytest.raises(SpecError, match="x0 has 2 entries but solution_dim is 3"):
        qd.evolve(tmp_path, write=False)


# --- what the user function returns, and read_only_paths: clear errors, never a traceback -------

BAD_RETURNS = [
    ("return None", "returned None"),
    ("return -(x ** 2).sum(axis=1)", r"returned a single ndarray of shape \(20,\)"),
    ("return np.zeros(len(x)), np.zeros((len(x), 2)), 1", "returned a tuple of 3 items"),
    ("return 'abc', np.zeros((len(x), 2))", "returned values that are not numeric arrays"),
]
EXPECTED = r"expected a tuple \(objectives, measures\) of arrays of shape \(20,\) and \(20, 2\)"


@pytest.mark.parametrize(("line", "message"), BAD_RETURNS)
def test_bad_return_value_names_function_and_expectation(tmp_path, line, message):
    write_problem(tmp_path, f"import numpy as np\ndef evaluate(x):\n    {line}\n")
    with pytest.raises(ProblemOutputError) as info:
        qd.evolve(tmp_path, write=False)
    text = str(info.value)
    assert re.search(r"problem\.function: evaluate\(\) in my_problem\.py " + message, text), text
    assert re.search(EXPECTED, text), text
    assert "\n" not in text


def test_bad_return_value_cli_exit_and_message(run_cli, tmp_path):
    line, message = BAD_RETURNS[0]
    write_problem(tmp_path, f"import numpy as np\ndef evaluate(x):\n    {line}\n")
    proc = run_cli("evolve", str(tmp_path), "--out", str(tmp_path / "run"))
    assert proc.returncode == ProblemOutputError.exit_code == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert re.search(r"evaluate\(\) in my_problem\.py " + message, proc.stderr), proc.stderr
    assert re.search(EXPECTED, proc.stderr), proc.stderr


def write_program_problem(folder, read_only_paths):
    """The toy program problem (tests/fixtures/programs/toy) with `[sandbox] read_only_paths`."""
    toy = Path(__file__).resolve().parent.parent / "fixtures" / "programs" / "toy"
    for name in ("initial.py", "evaluate.py"):
        shutil.copy(toy / name, folder / name)
    toml = (toy / "problem.toml").read_text().replace(
        "[sandbox]\n", f"[sandbox]\nread_only_paths = {json.dumps(read_only_paths)}\n"
    )
    assert "read_only_paths" in toml
    (folder / "problem.toml").write_text(toml)


def test_missing_read_only_path_is_a_spec_error(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    missing = str(tmp_path / "no-such-data")
    write_program_problem(tmp_path, [str(data), missing])
    with pytest.raises(SpecError) as info:
        qd.load_spec(tmp_path)
    text = str(info.value)
    assert "sandbox.read_only_paths:" in text and repr(missing) in text, text
    assert "does not exist; create it or remove it from read_only_paths" in text
    assert str(data) not in text.replace(missing, "")
    assert qd.load_spec(tmp_path, [f"sandbox.read_only_paths={json.dumps([str(data)])}"])


def test_missing_read_only_path_cli_exits_2(run_cli, tmp_path):
    missing = str(tmp_path / "no-such-data")
    write_program_problem(tmp_path, [missing])
    proc = run_cli("evolve", str(tmp_path), "--out", str(tmp_path / "run"))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "sandbox.read_only_paths" in lines[0] and missing in lines[0]
    assert not (tmp_path / "run").exists()
