"""Learned behavior priors for multi-task RL (Tirumala et al., "Exploiting hierarchy for learning and transfer
in KL-regularized RL"): routing of observation groups to modules, default policies π0 (flat and
hierarchical), the two-level KL bound, distillation, and transfer of trained modules."""

from belief_rl.hierarchy.priors import (
    AR1Prior,
    FlatPrior,
    IsotropicPrior,
    LearnedARPrior,
    LowLevelPrior,
    make_high_prior,
    two_level_kl,
)
from belief_rl.hierarchy.routing import ObservationRouter

__all__ = ["AR1Prior", "FlatPrior", "IsotropicPrior", "LearnedARPrior", "LowLevelPrior", "ObservationRouter",
           "make_high_prior", "two_level_kl"]
