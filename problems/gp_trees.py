"""GP expression trees (Koza 1992) as fixed-length numeric genomes that pyribs archives can store.

A tree in prefix order becomes one float vector, so archives, run folders and `archive.npz` hold
whole programs (no side table of trees). The genome describes its own primitive set, which lets
the `gp_tree` emitter rebuild the deap primitive set from the problem's `x0` alone:

    [MAGIC, n_vars, function mask, max_depth,  code_0 .. code_{L-1},  const_0 .. const_{L-1}]

`L` is the maximum number of nodes. Node codes: 0 = no node (after the last one), 1..F = the
functions of `FUNCTIONS` in table order, `CONST` = an ephemeral random constant whose value is in
the matching `const_i` slot, `CONST + 1 + j` = input variable `x_j`. Variation uses deap's
`PrimitiveTree` (Fortin et al., "DEAP: Evolutionary Algorithms Made Easy", JMLR 2012); evaluation
interprets the codes directly with torch, one vectorised operation per node over the dataset.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from deap import gp

MAGIC = 7919.0
HEADER = 4
_EPS = 1e-6


def _div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Protected division: 1 where |b| <= 1e-6."""
    small = b.abs() <= _EPS
    return torch.where(small, torch.ones_like(a), a / torch.where(small, 1.0, b))


def _log(a: torch.Tensor) -> torch.Tensor:
    """Protected logarithm of |a|: 0 where |a| <= 1e-6."""
    small = a.abs() <= _EPS
    return torch.where(small, 0.0, torch.log(torch.where(small, 1.0, a.abs())))


def _exp(a: torch.Tensor) -> torch.Tensor:
    """Exponential with the argument capped at 50 (no overflow)."""
    return torch.exp(a.clamp(max=50.0))


#: name -> (arity, torch implementation); the order fixes the node codes and the mask bits.
FUNCTIONS: dict[str, tuple[int, Callable[..., torch.Tensor]]] = {
    "add": (2, torch.add),
    "sub": (2, torch.sub),
    "mul": (2, torch.mul),
    "div": (2, _div),
    "neg": (1, torch.neg),
    "sin": (1, torch.sin),
    "cos": (1, torch.cos),
    "exp": (1, _exp),
    "log": (1, _log),
}
FUNCTION_NAMES = tuple(FUNCTIONS)
CONST = len(FUNCTIONS) + 1
ERC_NAME = "erc"


def random_constant() -> float:
    """Value of a new ephemeral random constant: uniform in [-1, 1] (uses `random`)."""
    return random.uniform(-1.0, 1.0)


@dataclass(frozen=True)
class GenomeFormat:
    """Primitive set and size limits of a GP genome.

    Attributes:
        n_vars: Number of input variables x_0 .. x_{n-1}.
        functions: Function names, a subset of `FUNCTIONS` in table order.
        max_nodes: Maximum number of nodes L.
        max_depth: Maximum tree depth (a single terminal has depth 0).
    """

    n_vars: int
    functions: tuple[str, ...]
    max_nodes: int
    max_depth: int

    def __post_init__(self) -> None:
        unknown = set(self.functions) - set(FUNCTIONS)
        if unknown or not self.functions:
            raise ValueError(f"functions must be a non-empty subset of {FUNCTION_NAMES}")
        if self.n_vars < 1 or self.max_nodes < 1 or self.max_depth < 0:
            raise ValueError("a genome needs n_vars >= 1, max_nodes >= 1 and max_depth >= 0")

    @property
    def length(self) -> int:
        """Length of a genome vector."""
        return HEADER + 2 * self.max_nodes

    @property
    def mask(self) -> int:
        """Bit mask of the functions (bit k = `FUNCTION_NAMES[k]`)."""
        return sum(1 << FUNCTION_NAMES.index(f) for f in self.functions)

    @classmethod
    def from_genome(cls, genome: np.ndarray) -> GenomeFormat:
        """Read the format from a genome's header; ValueError when it is not a GP genome."""
        v = np.asarray(genome, dtype=float).ravel()
        if v.size < HEADER + 2 or (v.size - HEADER) % 2 or v[0] != MAGIC:
            raise ValueError(f"a vector of length {v.size} is not a GP-tree genome")
        n_vars, mask, depth = (int(x) for x in v[1:HEADER])
        if not 0 < mask < 1 << len(FUNCTIONS):
            raise ValueError(f"GP genome has an invalid function mask {v[2]}")
        functions = tuple(f for k, f in enumerate(FUNCTION_NAMES) if mask >> k & 1)
        return cls(n_vars, functions, (v.size - HEADER) // 2, depth)

    @functools.cached_property
    def pset(self) -> gp.PrimitiveSet:
        """The deap primitive set (shared by every genome of this format)."""
        return _primitive_set(self.n_vars, self.functions)

    def variable(self, j: int = 0) -> np.ndarray:
        """Encode the one-node tree `x_j`."""
        return self.encode(gp.PrimitiveTree([self.pset.mapping[f"x{j}"]]))

    def encode(self, tree: gp.PrimitiveTree) -> np.ndarray:
        """Encode a deap tree as a genome; ValueError when it exceeds `max_nodes`."""
        if len(tree) > self.max_nodes:
            raise ValueError(f"tree has {len(tree)} nodes, more than max_nodes={self.max_nodes}")
        out = np.zeros(self.length)
        out[:HEADER] = (MAGIC, self.n_vars, self.mask, self.max_depth)
        for i, node in enumerate(tree):
            if isinstance(node, gp.Primitive):
                out[HEADER + i] = 1 + FUNCTION_NAMES.index(node.name)
            elif isinstance(node.value, str):  # an argument: renameArguments set it to "x<j>"
                out[HEADER + i] = CONST + 1 + int(node.value[1:])
            else:  # an ephemeral constant, or a numeric terminal from `from_string`
                out[HEADER + i] = CONST
                out[HEADER + self.max_nodes + i] = float(node.value)
        return out

    def nodes(self, genome: np.ndarray) -> list[tuple[int, float]]:
        """(code, constant) of each node in prefix order; ValueError when the genome is invalid."""
        v = np.asarray(genome, dtype=float)
        if v.shape != (self.length,) or tuple(v[:HEADER]) != (
            MAGIC, self.n_vars, self.mask, self.max_depth
        ):
            raise ValueError("genome does not match this GP format (header or length differ)")
        codes = v[HEADER : HEADER + self.max_nodes]
        size = int(np.count_nonzero(codes))
        ints = codes[:size].astype(np.int64)
        bad = np.any(ints != codes[:size]) or np.any(ints > CONST + self.n_vars)
        if bad or np.any(codes[size:]):
            raise ValueError("genome holds invalid node codes")
        allowed = {1 + FUNCTION_NAMES.index(f) for f in self.functions}
        if any(c < CONST and c not in allowed for c in ints):
            raise ValueError("genome uses a function outside its function set")
        consts = v[HEADER + self.max_nodes : HEADER + self.max_nodes + size]
        return list(zip(ints.tolist(), consts.tolist(), strict=True))

    def decode(self, genome: np.ndarray) -> gp.PrimitiveTree:
        """Rebuild the deap tree of a genome."""
        pset = self.pset
        by_name = {p.name: p for p in pset.primitives[pset.ret]}
        variables = [pset.mapping[f"x{j}"] for j in range(self.n_vars)]
        erc = pset.mapping[ERC_NAME]
        out = []
        for code, value in self.nodes(genome):
            if code < CONST:
                out.append(by_name[FUNCTION_NAMES[code - 1]])
            elif code == CONST:
                node = erc.__new__(erc)
                node.value = value
                out.append(node)
            else:
                out.append(variables[code - CONST - 1])
        tree = gp.PrimitiveTree(out)
        if not _complete(tree):
            raise ValueError("genome is not a complete prefix expression")
        return tree


def _complete(tree: gp.PrimitiveTree) -> bool:
    """Whether the prefix list is exactly one expression."""
    open_slots = 1
    for node in tree:
        if open_slots == 0:
            return False
        open_slots += node.arity - 1
    return open_slots == 0 and len(tree) > 0


@functools.cache
def _primitive_set(n_vars: int, functions: tuple[str, ...]) -> gp.PrimitiveSet:
    pset = gp.PrimitiveSet("main", n_vars)
    pset.renameArguments(**{f"ARG{j}": f"x{j}" for j in range(n_vars)})
    for name in functions:
        arity, fn = FUNCTIONS[name]
        pset.addPrimitive(fn, arity, name=name)
    pset.addEphemeralConstant(ERC_NAME, random_constant)
    return pset


def evaluate_nodes(
    nodes: list[tuple[int, float]], columns: torch.Tensor
) -> tuple[torch.Tensor, int]:
    """Evaluate one tree on a whole dataset, one vectorised torch operation per node.

    Args:
        nodes: (code, constant) per node in prefix order (`GenomeFormat.nodes`).
        columns: Inputs of shape (n_vars, N).

    Returns:
        Predictions (N,) and the tree's depth.
    """
    stack: list[tuple[torch.Tensor, int]] = []
    for code, value in reversed(nodes):
        if code < CONST:
            arity, fn = FUNCTIONS[FUNCTION_NAMES[code - 1]]
            args = [stack.pop() for _ in range(arity)]
            stack.append((fn(*(a for a, _ in args)), 1 + max(d for _, d in args)))
        elif code == CONST:
            stack.append((torch.full_like(columns[0], value), 0))
        else:
            stack.append((columns[code - CONST - 1], 0))
    (result, depth), = stack
    return result, depth


def within_limits(tree: gp.PrimitiveTree, fmt: GenomeFormat) -> bool:
    """Whether a tree fits the format's node and depth limits."""
    return len(tree) <= fmt.max_nodes and tree.height <= fmt.max_depth


def describe(genome: np.ndarray) -> str:
    """Human-readable expression of a genome, e.g. `add(mul(x0, x0), 0.5)`."""
    return str(GenomeFormat.from_genome(genome).decode(genome))


__all__ = [
    "CONST",
    "FUNCTIONS",
    "FUNCTION_NAMES",
    "GenomeFormat",
    "MAGIC",
    "describe",
    "evaluate_nodes",
]
