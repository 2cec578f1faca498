import textwrap

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
