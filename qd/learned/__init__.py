"""Learned behaviour spaces (AURORA / TAXONS style): measures = an autoencoder's latent code."""

from qd.learned.config import LearnedMeasuresConfig
from qd.learned.measures import LearnedMeasures, ObservedProblem

__all__ = ["LearnedMeasures", "LearnedMeasuresConfig", "ObservedProblem"]
