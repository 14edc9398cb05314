"""Behavioral priors fit to demonstrations, for KL-regularized RL: a GP prior and the parametric baseline."""

from belief_rl.priors.base import BehaviorPrior, PriorError, from_raw_actions, to_raw_actions
from belief_rl.priors.demos import DemoError, Demonstrations
from belief_rl.priors.gp import GPFitConfig, GPPrior
from belief_rl.priors.io import load_prior, save_prior
from belief_rl.priors.kl import KLPriorRegularizer, gaussian_kl
from belief_rl.priors.parametric import ParametricFitConfig, ParametricPrior

__all__ = ["BehaviorPrior", "DemoError", "Demonstrations", "GPFitConfig", "GPPrior", "KLPriorRegularizer",
           "ParametricFitConfig", "ParametricPrior", "PriorError", "from_raw_actions", "gaussian_kl",
           "load_prior", "save_prior", "to_raw_actions"]
