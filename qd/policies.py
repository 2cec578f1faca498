"""Batched MLP policies: B flat parameter vectors evaluated with one batched matmul per layer.

Fixed-topology neuroevolution (as in the MAP-Elites policy-search experiments of Mouret & Clune
2015, "Illuminating search spaces by mapping elites"): every individual is a row of a (B, P)
matrix as pyribs emitters produce them. `MLPArchitecture.unflatten` views each row as per-layer
weight tensors of shape [B, out, in] and biases [B, out], and `BatchedMLP` runs all B networks
at once with `torch.baddbmm`, never looping over individuals.

The flat layout is the one of `torch.nn.utils.parameters_to_vector` on the equivalent
`torch.nn.Sequential` of `Linear` layers (weight row-major as [out, in], then bias, layer by
layer), so `MLPArchitecture.reference()` gives a per-individual `torch.nn` reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

import torch
from pydantic import Field

from qd.components import ComponentConfig

Activation = Literal["tanh", "relu", "sigmoid", "elu", "identity"]

_FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "elu": torch.nn.functional.elu,
    "identity": lambda x: x,
}

_MODULES: dict[str, Callable[[], torch.nn.Module]] = {
    "tanh": torch.nn.Tanh,
    "relu": torch.nn.ReLU,
    "sigmoid": torch.nn.Sigmoid,
    "elu": torch.nn.ELU,
    "identity": torch.nn.Identity,
}


class PolicyConfig(ComponentConfig):
    """Options shared by problems whose solutions are MLP policies."""

    hidden: list[Annotated[int, Field(ge=1, le=4096)]] = Field(
        [8], max_length=8, description="Hidden layer sizes of the MLP policy ([] = linear)."
    )
    activation: Activation = Field("tanh", description="Activation of the hidden layers.")


@dataclass(frozen=True)
class MLPArchitecture:
    """Layer sizes and activations of an MLP policy.

    Attributes:
        sizes: (inputs, hidden..., outputs); at least two entries.
        activation: Activation after every hidden layer.
        output_activation: Activation after the last layer.
    """

    sizes: tuple[int, ...]
    activation: Activation = "tanh"
    output_activation: Activation = "tanh"

    def __post_init__(self) -> None:
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ValueError(f"an MLP needs >= 2 positive layer sizes, got {self.sizes}")

    @property
    def layer_shapes(self) -> list[tuple[int, int]]:
        """(out, in) of every linear layer."""
        return list(zip(self.sizes[1:], self.sizes[:-1], strict=True))

    @property
    def num_params(self) -> int:
        """Length P of a flat parameter vector (weights and biases of every layer)."""
        return sum(o * i + o for o, i in self.layer_shapes)

    def unflatten(self, flat: torch.Tensor) -> BatchedMLP:
        """View a (B, P) parameter matrix as B networks.

        Args:
            flat: Parameters of shape (B, num_params).

        Returns:
            The B networks, ready to be called on (B, inputs) observations.
        """
        if flat.ndim != 2 or flat.shape[1] != self.num_params:
            raise ValueError(
                f"parameters should have shape (B, {self.num_params}), got {tuple(flat.shape)}"
            )
        layers = []
        offset = 0
        for out, inp in self.layer_shapes:
            weight = flat[:, offset : offset + out * inp].reshape(-1, out, inp)
            offset += out * inp
            bias = flat[:, offset : offset + out]
            offset += out
            layers.append((weight, bias.unsqueeze(-1)))
        return BatchedMLP(self, layers)

    def reference(self, dtype: torch.dtype = torch.float64) -> torch.nn.Sequential:
        """Build the equivalent single-individual `torch.nn` network (parameters left at init)."""
        modules: list[torch.nn.Module] = []
        for k, (out, inp) in enumerate(self.layer_shapes):
            modules.append(torch.nn.Linear(inp, out, dtype=dtype))
            last = k == len(self.layer_shapes) - 1
            modules.append(_MODULES[self.output_activation if last else self.activation]())
        return torch.nn.Sequential(*modules)


class BatchedMLP:
    """B MLPs with the same architecture, evaluated together.

    Args:
        architecture: The shared layer sizes and activations.
        layers: Per layer, weights [B, out, in] and biases [B, out, 1].
    """

    def __init__(
        self, architecture: MLPArchitecture, layers: list[tuple[torch.Tensor, torch.Tensor]]
    ) -> None:
        self.architecture = architecture
        self.layers = layers
        hidden = _FUNCTIONS[architecture.activation]
        self._acts = [hidden] * (len(layers) - 1) + [_FUNCTIONS[architecture.output_activation]]

    @property
    def batch_size(self) -> int:
        """Number B of networks."""
        return int(self.layers[0][0].shape[0])

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        """Forward all B networks, network b on observation row b.

        Args:
            obs: Observations of shape (B, inputs).

        Returns:
            Outputs of shape (B, outputs).
        """
        h = obs.unsqueeze(-1)  # (B, in, 1)
        for (weight, bias), act in zip(self.layers, self._acts, strict=True):
            h = act(torch.baddbmm(bias, weight, h))
        return h.squeeze(-1)


def architecture_from(
    config: PolicyConfig, inputs: int, outputs: int, output_activation: Activation = "tanh"
) -> MLPArchitecture:
    """Build the MLP architecture a problem config asks for, between `inputs` and `outputs`."""
    return MLPArchitecture(
        sizes=(inputs, *config.hidden, outputs),
        activation=config.activation,
        output_activation=output_activation,
    )
