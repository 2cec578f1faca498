"""What an emitter group on the torch backend is, and the small pieces every group shares.

A group is `count` emitters of one family batched as one object: one `ask` returns all their
solutions as one (batch_size, D) tensor on the archive's device, one `tell` takes the group's
slice of the evaluated batch with the archive's `AddInfo`. Groups hold their RNG as a
`torch.Generator` on the device; generators do not pickle, so `GeneratorState` keeps them
checkpointable.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from qd.protocols import Bounds


@runtime_checkable
class TensorEmitterGroup(Protocol):
    """`count` emitters of one family, batched as one object."""

    batch_size: int

    def ask(self) -> torch.Tensor:
        """(batch_size, D) solutions on the archive's device."""
        ...

    def tell(self, solution: torch.Tensor, objective: torch.Tensor, measures: torch.Tensor,
             info: Any) -> None:
        """Learn from the group's slice of the evaluated batch and its `AddInfo`."""
        ...


def seed_of(seeds: list[int]) -> int:
    """One 63-bit seed for a group from its emitters' seeds (order matters)."""
    return int(np.random.SeedSequence(seeds).generate_state(2, np.uint64)[0] >> np.uint64(1))


def generator_for(seed: int, device: torch.device) -> torch.Generator:
    """A seeded generator on `device`."""
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def bounds_tensors(
    bounds: Bounds | None, dim: int, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(lower, upper) tensors of shape (D,) with -inf/inf for open sides, or None."""
    if bounds is None:
        return None
    lo = [(-np.inf if b[0] is None else b[0]) for b in bounds]
    hi = [(np.inf if b[1] is None else b[1]) for b in bounds]
    if len(lo) != dim:
        raise ValueError(f"bounds have {len(lo)} entries but solutions have {dim}")
    return (torch.tensor(lo, device=device, dtype=dtype),
            torch.tensor(hi, device=device, dtype=dtype))


class GeneratorState:
    """Mixin: pickle a `_generator` attribute as (device, state) and rebuild it on load."""

    _generator: torch.Generator

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        generator = state.pop("_generator")
        state["_generator_device"] = str(generator.device)
        state["_generator_state"] = generator.get_state()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        device = state.pop("_generator_device")
        generator_state = state.pop("_generator_state")
        self.__dict__.update(state)
        self._generator = torch.Generator(device=device)
        self._generator.set_state(generator_state)
