"""Transfer: start a run from modules of a trained one (its prior, its low level, ...), frozen or not.

The modules are named as :meth:`~belief_rl.agents.latent.LatentPolicyAgent.modules_named` names them:
``high`` (π^H, or the flat policy), ``low`` (π^L) and ``prior`` (the parameters of π0). Transferred modules
take the source run's final weights; every other module keeps its fresh initialization. Frozen modules are
not trained further (the RL losses and the prior's distillation skip them).

A low-level prior π0^L moves between the two ways an agent can hold it. With a shared low level it is the
policy's squashed action head π^L; with a separate one it is a :class:`GaussianActionPrior`. Both are the same
network, an MLP to the mean and log-std of the pre-squash action. So the ``prior`` of a shared-low run can
become the frozen π0^L of a separate-low agent. That agent's π^L is then trained, either fresh or (with
``low`` transferred too) from the same weights: the paper's "Separate LL" transfer.
"""

from __future__ import annotations

from pathlib import Path

from belief_rl.agents.latent import LatentPolicyAgent
from belief_rl.checkpoint import CheckpointError
from belief_rl.config import HierarchyConfig
from belief_rl.hierarchy.priors import GaussianActionPrior
from belief_rl.networks.action_heads import SquashedGaussianActionHead

_LOW_LEVEL_NETWORKS = (SquashedGaussianActionHead, GaussianActionPrior)


def load_modules(agent: LatentPolicyAgent, source: LatentPolicyAgent, names: tuple[str, ...],
                 source_name: str = "the source run") -> None:
    """Copy ``source``'s modules ``names`` into ``agent``; a module the two agents do not share in shape is
    an error (one line)."""
    for name in names:
        targets, sources = agent.modules_named(name), source.modules_named(name)
        if not any(p.numel() for module in targets for p in module.parameters()):
            raise CheckpointError(f"nothing to transfer in {name!r}: this agent's {name} has no parameters")
        if len(targets) != len(sources) or not all(map(_interchangeable, targets, sources)):
            raise CheckpointError(f"cannot transfer {name!r} from {source_name}: its {name} modules "
                                  f"({_kinds(sources)}) differ from this agent's ({_kinds(targets)})")
        for target, module in zip(targets, sources):
            if type(target) is not type(module):  # a low level held the other way: its network is the same
                target, module = target.net, module.net
            try:
                target.load_state_dict(module.state_dict())
            except RuntimeError as exc:
                raise CheckpointError(f"cannot transfer {name!r} from {source_name}: "
                                      f"{str(exc).splitlines()[-1].strip()}") from None


def freeze_modules(agent: LatentPolicyAgent, names: tuple[str, ...]) -> None:
    """Stop training the modules ``names`` (a name with nothing to train is an error: it would do nothing)."""
    for name in names:
        if not any(p.numel() for module in agent.modules_named(name) for p in module.parameters()):
            raise CheckpointError(f"nothing to freeze in {name!r}: this agent's {name} has no parameters")
        for module in agent.modules_named(name):
            module.requires_grad_(False)


def transfer_from_run(agent: LatentPolicyAgent, hierarchy: HierarchyConfig) -> None:
    """Load ``hierarchy.transfer_modules`` from the run ``hierarchy.transfer_from`` into ``agent``."""
    from belief_rl.runs import load_agent  # runs builds agents; imported late to keep the layers apart

    source_dir = Path(hierarchy.transfer_from)
    source, _, _ = load_agent(source_dir)
    if not isinstance(source, LatentPolicyAgent):
        raise CheckpointError(f"{source_dir} holds a {type(source).__name__}: transfer needs a feedforward "
                              "or hierarchical run")
    load_modules(agent, source, hierarchy.transfer_modules, str(source_dir))


def _interchangeable(target: object, source: object) -> bool:
    return type(target) is type(source) or (isinstance(target, _LOW_LEVEL_NETWORKS)
                                            and isinstance(source, _LOW_LEVEL_NETWORKS))


def _kinds(modules: list) -> str:
    return ", ".join(type(m).__name__ for m in modules) or "none"
