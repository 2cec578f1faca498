"""The `[measures]` section: hand-made measures (the problem's own) or a learned latent space.

```toml
measures = "learned"          # shorthand for the defaults below

[measures]                    # or the full form
kind = "learned"
latent_dim = 2                # measures = the encoder's latent code, scaled into [0, 1]
hidden = [64, 32]             # encoder layers (the decoder mirrors them)
refit_every = 10              # iterations between refits (the first one follows iteration 1)
refit_growth = 2.0            # each interval is this many times the previous one (AURORA-style)
train_steps = 300             # Adam steps per refit
train_batch = 256
learning_rate = 0.003
max_train = 4096              # observations per refit: the archive's elites + the newest batch
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from qd.components import StrictModel


class LearnedMeasuresConfig(StrictModel):
    """An autoencoder trained online on the problem's raw observations; its latent code is the
    archive's measure space, refitted on a schedule with the archive re-inserted (AURORA).
    """

    kind: Literal["learned"] = "learned"
    latent_dim: int = Field(2, ge=1, le=8, description="Learned measures per solution.")
    hidden: list[int] = Field([64, 32], max_length=4, description="Encoder hidden layer sizes.")
    refit_every: int = Field(10, ge=1, description="Iterations between the first refits.")
    refit_growth: float = Field(
        2.0, ge=1.0, le=10.0, description="Growth factor of the refit interval (1: fixed)."
    )
    max_refit_interval: int = Field(
        200, ge=1, description="Refit interval cap, so the encoder keeps up on long runs."
    )
    train_steps: int = Field(300, ge=1, le=100_000, description="Adam steps per refit.")
    train_batch: int = Field(256, ge=1, description="Observations per training step.")
    learning_rate: float = Field(3e-3, gt=0, le=1, description="Adam learning rate.")
    max_train: int = Field(
        4096, ge=16, description="Most observations a refit trains on (elites + newest batch)."
    )
    margin: float = Field(
        0.05, ge=0, le=1, description="Slack around the training codes when scaling to [0, 1]."
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if data == "learned":
            return {"kind": "learned"}
        if isinstance(data, str):
            raise ValueError(
                f"unknown measures {data!r}; use \"learned\", a [measures] table, or omit it for "
                "the problem's own measures"
            )
        return data
