"""Building blocks: recurrent cores, MLPs, the information bottleneck, action heads."""

from belief_rl.networks.action_heads import ActionHead, make_action_head
from belief_rl.networks.bottleneck import GaussianBottleneck
from belief_rl.networks.mlp import mlp
from belief_rl.networks.recurrent import RecurrentCore

__all__ = ["ActionHead", "GaussianBottleneck", "RecurrentCore", "make_action_head", "mlp"]
