"""Multi-armed bandits that choose LLMs / operators for program evolution (see docs/bandits.md).

Policies register by name in `bandit_registry` and are built with `make_bandit(config, n_arms,
seed)`; `DEFAULT_BANDIT` is the policy that did best in `benchmarks/bandit_regret.py`.
"""

from qd.bandits.arms import ArmSpace, FactorisedBandit
from qd.bandits.asymmetric import AsymmetricUCB, AsymmetricUCBConfig, improvement
from qd.bandits.base import (
    ArmStats,
    Bandit,
    BanditBase,
    BanditConfig,
    bandit_config,
    bandit_from_state,
    bandit_registry,
    make_bandit,
    register_bandit,
)
from qd.bandits.exp3 import EXP3, EXP3Config
from qd.bandits.thompson import (
    ThompsonBeta,
    ThompsonBetaConfig,
    ThompsonGaussian,
    ThompsonGaussianConfig,
)
from qd.bandits.ucb import (
    UCB1,
    DiscountedUCB,
    DiscountedUCBConfig,
    SlidingWindowUCB,
    SlidingWindowUCBConfig,
    UCB1Config,
)
from qd.bandits.uniform import Uniform, UniformConfig

# The policy with the lowest regret on the drifting, cost-heterogeneous pool of
# benchmarks/bandit_regret.py (chosen on tuning seeds, confirmed on the reported ones).
DEFAULT_BANDIT: BanditConfig = SlidingWindowUCBConfig(window=100, exploration=0.15,
                                                      cost_mode="per_cost")

__all__ = [
    "DEFAULT_BANDIT",
    "EXP3",
    "UCB1",
    "ArmSpace",
    "ArmStats",
    "AsymmetricUCB",
    "AsymmetricUCBConfig",
    "Bandit",
    "BanditBase",
    "BanditConfig",
    "DiscountedUCB",
    "DiscountedUCBConfig",
    "EXP3Config",
    "FactorisedBandit",
    "SlidingWindowUCB",
    "SlidingWindowUCBConfig",
    "ThompsonBeta",
    "ThompsonBetaConfig",
    "ThompsonGaussian",
    "ThompsonGaussianConfig",
    "UCB1Config",
    "Uniform",
    "UniformConfig",
    "bandit_config",
    "bandit_from_state",
    "bandit_registry",
    "improvement",
    "make_bandit",
    "register_bandit",
]
