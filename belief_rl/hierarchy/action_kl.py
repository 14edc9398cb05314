"""The true KL between a hierarchical policy's and its default policy's action distributions, by Monte Carlo.

A hierarchical agent is regularized through the two-level upper bound (Tirumala et al., eq. 6)

    KL(π(a | x) ‖ π0(a | x)) ≤ KL(π^H(z | x) ‖ π0^H(z | ·)) + E_{π^H}[KL(π^L(a | z, x) ‖ π0^L(a | z, x))],

which charges for every bit π^H sends through z, whether or not it moves the action. The left-hand side is
what a flat (DISTRAL) prior's KL measures, so comparing the two kinds of prior needs it. Neither marginal
π(a | x) = E_{z∼π^H}[π^L(a | z, x)] nor π0(a | x) has a closed form; both are estimated as means of densities
over latents (importance-weighted), and the KL as the mean of log π(a | x) − log π0(a | x) over actions
drawn from π.

Everything is computed on pre-squash actions: the tanh squashing is one bijection for π and π0, so the KL is
the same. The log of a Monte Carlo mean is biased low, by O(1 / M) for M latents, in each term.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.distributions import Independent

from belief_rl.agents.latent import LatentPolicyAgent

#: π^L (or π0^L) as a function of latents ``[..., N, Z]``: a Gaussian over pre-squash actions, batch
#: ``[..., N]``.
LowLevel = Callable[[torch.Tensor], Independent]


def _log_marginals(high: Independent, high_prior: Independent, low: LowLevel, low_prior: LowLevel | None,
                   actions: torch.Tensor, num_latents: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(log π(u | x), log π0(u | x)) for pre-squash actions ``[K, N, A]``, each ``[K, N]``.

    Both integrals over z use the same latents, drawn half from π^H and half from π0^H and weighed by the
    mixture's density (defensive importance sampling): drawing from π0^H alone would seldom hit the latents
    that explain an action of π, and the log of so noisy a mean is biased far below the truth.
    """
    half = num_latents // 2
    z = torch.cat([high.sample((half,)), high_prior.sample((num_latents - half,))])  # [M, N, Z]
    log_high, log_high_prior = high.log_prob(z), high_prior.log_prob(z)  # [M, N]
    # The mixture the latents were drawn from, in the proportions drawn (unbiased for odd M too).
    log_mixture = torch.logaddexp(log_high + math.log(half / num_latents),
                                  log_high_prior + math.log((num_latents - half) / num_latents))
    log_low = low(z).log_prob(actions.unsqueeze(1))  # [K, M, N]
    log_low_prior = log_low if low_prior is None else low_prior(z).log_prob(actions.unsqueeze(1))
    log_policy = torch.logsumexp(log_high - log_mixture + log_low, dim=1) - math.log(num_latents)
    log_prior = torch.logsumexp(log_high_prior - log_mixture + log_low_prior, dim=1) - math.log(num_latents)
    return log_policy, log_prior


@torch.no_grad()
def marginal_action_kl(high: Independent, high_prior: Independent, low: LowLevel,
                       low_prior: LowLevel | None = None, num_actions: int = 64,
                       num_latents: int = 512) -> torch.Tensor:
    """Monte Carlo KL(π(a | x) ‖ π0(a | x)) per state ``[N]`` for π = π^H π^L and π0 = π0^H π0^L.

    ``high`` and ``high_prior`` are distributions over latents with batch ``[N]``; ``low`` maps latents to
    π^L's pre-squash Gaussian and ``low_prior`` to π0^L's (None: the low level is shared). ``num_actions``
    actions are drawn from π per state, and each marginal density averages ``num_latents`` latents.
    """
    if num_actions < 1 or num_latents < 2:
        raise ValueError(f"num_actions must be >= 1 and num_latents >= 2, got {num_actions}, {num_latents}")
    actions = low(high.sample((num_actions,))).sample()  # [K, N, A]
    log_policy, log_prior = _log_marginals(high, high_prior, low, low_prior, actions, num_latents)
    return (log_policy - log_prior).mean(0)


@torch.no_grad()
def agent_action_kl(agent: LatentPolicyAgent, features: torch.Tensor, num_actions: int = 64,
                    num_latents: int = 512, chunk_size: int = 256) -> dict[str, torch.Tensor]:
    """For a hierarchical agent on feature sequences ``[T, B, F]``: ``{"bound": the two-level bound,
    "action_kl": its Monte Carlo left-hand side}``, each ``[T, B]``, against the agent's own π0.

    Latents are drawn along each sequence as in training, so under an autoregressive prior both π^H and π0^H
    condition on the same previous latent. Needs a latent drawn every step (``latent_period`` 1): a held
    latent ties an action to earlier steps, and the per-step marginal no longer describes the policy.
    """
    if not agent.hierarchical or agent.high_prior is None:
        raise ValueError("agent_action_kl needs a hierarchical agent (a flat prior's KL is exact already)")
    if agent.latent_period != 1:
        raise ValueError(f"agent_action_kl needs latent_period = 1, got {agent.latent_period}")
    policy = agent.policy(features)
    bound = sum(agent.prior_kl(policy, features).values())
    latent = policy.latent
    prior = agent.high_prior(latent.previous, latent.start)
    flat = features.reshape(-1, features.shape[-1])
    estimates = []
    for start in range(0, flat.shape[0], chunk_size):
        rows = slice(start, start + chunk_size)
        chunk = flat[rows]

        def low(z: torch.Tensor, chunk: torch.Tensor = chunk) -> Independent:
            return agent.low_policy(z, chunk.expand(*z.shape[:-1], chunk.shape[-1])).base

        def low_prior(z: torch.Tensor, chunk: torch.Tensor = chunk) -> Independent:
            return agent.low_prior_policy(z, chunk.expand(*z.shape[:-1], chunk.shape[-1]))

        estimates.append(marginal_action_kl(_rows(latent.high, rows), _rows(prior, rows), low,
                                            low_prior if agent.low_prior is not None else None,
                                            num_actions, num_latents))
    return {"bound": bound, "action_kl": torch.cat(estimates).reshape(bound.shape)}


def _rows(dist: Independent, rows: slice) -> Independent:
    """The diagonal Gaussian ``dist`` (batch ``[T, B]``) flattened to ``[T·B]`` and cut to ``rows``."""
    mean, std = dist.mean, dist.stddev
    return Independent(torch.distributions.Normal(mean.reshape(-1, mean.shape[-1])[rows],
                                                  std.reshape(-1, std.shape[-1])[rows]), 1)
