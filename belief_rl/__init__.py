"""belief_rl: meta reinforcement learning as task inference.

Importing the package registers its gymnasium environments (``belief_rl/Bandit-v0``, ...). The public API:

* :func:`load` a trained run as a :class:`Policy` (``reset``, ``act``, ``belief``);
* :func:`train` a :class:`TrainConfig` (built by hand or by :func:`make_config` from a preset and overrides);
* :func:`make_env` / :func:`make_vector_env` for any environment that meets the contract of
  :mod:`belief_rl.envs.contract`.
"""

from belief_rl import envs
from belief_rl.config import AgentConfig, PPOConfig, SVGConfig, TrainConfig
from belief_rl.envs import make_env, make_vector_env
from belief_rl.evaluation import evaluate_run
from belief_rl.policy import Policy, load
from belief_rl.presets import make_config
from belief_rl.training import Trainer, train
from belief_rl.version import __version__

__all__ = ["AgentConfig", "PPOConfig", "Policy", "SVGConfig", "TrainConfig", "Trainer", "__version__", "envs",
           "evaluate_run", "load", "make_config", "make_env", "make_vector_env", "train"]
