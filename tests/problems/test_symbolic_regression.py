import math
import random

import numpy as np
import pytest
import torch
from deap import gp
from pydantic import ValidationError

import qd
from problems.gp_trees import GenomeFormat, describe
from problems.symbolic_regression import SymbolicRegression, SymbolicRegressionConfig

ALL = ["add", "sub", "mul", "div", "neg", "sin", "cos", "exp", "log"]


def plain(name, args):
    a = args[0]
    b = args[1] if len(args) > 1 else None
    if name == "div":
        return 1.0 if abs(b) <= 1e-6 else a / b
    if name == "log":
        return 0.0 if abs(a) <= 1e-6 else math.log(abs(a))
    return {
        "add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b, "neg": lambda: -a,
        "sin": lambda: math.sin(a), "cos": lambda: math.cos(a), "exp": lambda: math.exp(min(a, 50)),
    }[name]()


def reference_value(tree, point):
    """Recursive evaluation of a deap tree at one data point, plain python floats."""

    def walk(i):
        node = tree[i]
        if isinstance(node, gp.Primitive):
            args, j = [], i + 1
            for _ in range(node.arity):
                value, j = walk(j)
                args.append(value)
            return plain(node.name, args), j
        if isinstance(node.value, str):  # an argument "x<j>"
            return point[int(node.value[1:])], i + 1
        return node.value, i + 1

    return walk(0)[0]


def reference_score(problem, tree):
    inputs = problem.inputs.T.tolist()
    target = problem.target.tolist()
    try:
        errors = [(reference_value(tree, p) - y) ** 2 for p, y in zip(inputs, target, strict=True)]
    except OverflowError:
        return 0.0
    mse = sum(errors) / len(errors)
    if not math.isfinite(mse):
        return 0.0
    mean = sum(target) / len(target)
    var = sum((y - mean) ** 2 for y in target) / len(target)
    return 1 / (1 + mse / var)


def random_trees(fmt, n, seed):
    state = random.getstate()
    random.seed(seed)
    try:
        trees = []
        while len(trees) < n:
            tree = gp.PrimitiveTree(gp.genHalfAndHalf(fmt.pset, 1, 4))
            if len(tree) <= fmt.max_nodes and tree.height <= fmt.max_depth:
                trees.append(tree)
        return trees
    finally:
        random.setstate(state)


@pytest.mark.parametrize("target", ["koza1", "nguyen7", "pagie1"])
def test_batched_scores_equal_a_plain_python_reference(target):
    problem = SymbolicRegression(SymbolicRegressionConfig(target=target, functions=ALL, samples=9))
    trees = random_trees(problem.format, 40, seed=len(target))
    genomes = torch.tensor(np.stack([problem.format.encode(t) for t in trees]))
    objectives, measures = problem.evaluate(genomes)
    for tree, obj, meas in zip(trees, objectives.tolist(), measures.tolist(), strict=True):
        assert obj == pytest.approx(reference_score(problem, tree), rel=1e-9, abs=1e-12)
        assert meas == [len(tree), tree.height]
    assert len(set(objectives.tolist())) > 10


def test_genome_round_trip_and_header():
    fmt = GenomeFormat(2, ("add", "mul", "sin"), max_nodes=7, max_depth=3)
    tree = gp.PrimitiveTree.from_string("add(mul(x0, x1), sin(x1))", fmt.pset)
    genome = fmt.encode(tree)
    assert genome.shape == (4 + 2 * 7,)
    assert GenomeFormat.from_genome(genome) == fmt
    assert describe(genome) == "add(mul(x0, x1), sin(x1))"
    assert fmt.decode(genome) == tree


def test_exact_solution_scores_one_and_constant_mean_scores_half():
    problem = SymbolicRegression(SymbolicRegressionConfig())  # koza1
    pset = problem.format.pset
    exact = gp.PrimitiveTree.from_string("mul(add(mul(x0, x0), x0), add(mul(x0, x0), 1.0))", pset)
    mean = gp.PrimitiveTree.from_string(repr(float(problem.target.mean())), pset)
    genomes = np.stack([problem.format.encode(exact), problem.format.encode(mean), problem.x0])
    obj, meas = problem.evaluate(torch.tensor(genomes))
    assert obj[0].item() == pytest.approx(1.0)
    assert obj[1].item() == pytest.approx(0.5)
    assert meas.tolist() == [[len(exact), exact.height], [1, 0], [1, 0]]
    assert 0.5 < obj[2].item() < 1  # y = x is better than the mean


def test_non_finite_predictions_score_zero():
    problem = SymbolicRegression(SymbolicRegressionConfig(functions=["mul", "exp"]))
    big = "exp(60.0)"  # capped at e^50
    for _ in range(3):
        big = f"mul({big}, {big})"  # e^400: its square error overflows to inf
    tree = big
    genome = problem.format.encode(gp.PrimitiveTree.from_string(tree, problem.format.pset))
    obj, _ = problem.evaluate(torch.tensor(genome[None]))
    assert obj.item() == 0.0


def test_invalid_genomes_are_rejected():
    problem = SymbolicRegression(SymbolicRegressionConfig())
    genome = problem.x0.copy()
    genome[5] = 1.0  # x0 followed by an "add" node: not one expression
    with pytest.raises(ValueError, match="complete prefix expression"):
        problem.format.decode(genome)
    with pytest.raises(ValueError, match="not a GP-tree genome"):
        GenomeFormat.from_genome(np.zeros(10))
    other = GenomeFormat(1, ("add",), 31, 8).variable(0)
    with pytest.raises(ValueError, match="does not match"):
        problem.evaluate(torch.tensor(other[None]))


def test_config_is_validated():
    with pytest.raises(ValidationError, match="each function may appear once"):
        SymbolicRegressionConfig(functions=["add", "add"])
    with pytest.raises(ValidationError):
        SymbolicRegressionConfig(functions=["pow"])
    with pytest.raises(ValidationError, match="extra"):
        SymbolicRegressionConfig(depth=3)


def test_seeded_runs_are_reproducible_and_improve():
    runs = [qd.evolve("symbolic_regression", budget=2000, seed=11, write=False) for _ in range(2)]
    a, b = (r.archive.elites() for r in runs)
    order_a, order_b = np.argsort(a["index"]), np.argsort(b["index"])
    np.testing.assert_array_equal(a["solution"][order_a], b["solution"][order_b])
    assert runs[0].archive.stats() == runs[1].archive.stats()
    first, last = runs[0].metrics[0], runs[0].metrics[-1]
    assert last.num_elites > first.num_elites and last.best > first.best
    assert all(isinstance(describe(s), str) for s in a["solution"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    cpu = SymbolicRegression(SymbolicRegressionConfig(functions=ALL))
    gpu = SymbolicRegression(SymbolicRegressionConfig(functions=ALL), device="cuda")
    trees = random_trees(cpu.format, 50, 0)
    genomes = torch.tensor(np.stack([cpu.format.encode(t) for t in trees]))
    a, b = cpu.evaluate(genomes), gpu.evaluate(genomes.cuda())
    torch.testing.assert_close(b[0].cpu(), a[0], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(b[1].cpu(), a[1])
