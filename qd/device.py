"""Choose the torch device of a run in one place, and run tiny CPU work on one thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from qd.errors import SpecError


def resolve_device(name: str) -> torch.device:
    """Map `cpu` / `cuda` / `auto` to a torch device; `cuda` without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SpecError(
            "run.device: 'cuda' requested but torch sees no CUDA GPU here; "
            "use --device cpu or --device auto"
        )
    return torch.device(name)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one CPU thread inside the block (restored after it).

    For work made of tiny tensor ops (a small autoencoder, a policy step over a batch): more
    intra-op threads only wait on each other, 10-17x slower on a busy 2-core machine, and the
    results stop depending on the thread count.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
