"""Choose the torch device of a run in one place."""

from __future__ import annotations

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
