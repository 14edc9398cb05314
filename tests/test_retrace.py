"""Retrace(λ) targets against a naive per-step reference."""

import pytest
import torch

from belief_rl.algorithms.retrace import retrace_targets


def naive_retrace(rewards, discounts, q, v, log_rhos, lam, bootstrap):
    """Q^ret_t = Q_t + Σ_{s≥t} (Π_{u=t}^{s-1} γ_u)(Π_{i=t+1}^{s} c_i) δ_s, written out step by step."""
    T, B = rewards.shape
    c = lam * log_rhos.exp().clamp(max=1.0)
    v_next = torch.cat([v[1:], bootstrap[None]], 0)
    delta = rewards + discounts * v_next - q
    out = torch.zeros(T, B, dtype=torch.float64)
    for b in range(B):
        for t in range(T):
            total, weight = q[t, b].item(), 1.0
            for s in range(t, T):
                if s > t:
                    weight *= discounts[s - 1, b].item() * c[s, b].item()
                total += weight * delta[s, b].item()
            out[t, b] = total
    return out


def random_inputs(T=7, B=3, seed=0, rho_scale=1.0):
    g = torch.Generator().manual_seed(seed)
    r = torch.rand(T, B, generator=g, dtype=torch.float64)
    disc = torch.full((T, B), 0.9, dtype=torch.float64)
    disc[3, 1] = 0.0  # an episode ends inside sequence 1
    q = torch.randn(T, B, generator=g, dtype=torch.float64)
    v = torch.randn(T, B, generator=g, dtype=torch.float64)
    log_rhos = rho_scale * torch.randn(T, B, generator=g, dtype=torch.float64)
    bootstrap = torch.randn(B, generator=g, dtype=torch.float64)
    return r, disc, q, v, log_rhos, bootstrap


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.95, 1.0])
def test_matches_naive_reference(lam):
    r, disc, q, v, log_rhos, bootstrap = random_inputs()
    expected = naive_retrace(r, disc, q, v, log_rhos, lam, bootstrap)
    torch.testing.assert_close(retrace_targets(r, disc, q, v, log_rhos, lam, bootstrap), expected)


def test_lambda_zero_is_one_step_td():
    r, disc, q, v, log_rhos, bootstrap = random_inputs()
    v_next = torch.cat([v[1:], bootstrap[None]], 0)
    torch.testing.assert_close(retrace_targets(r, disc, q, v, log_rhos, 0.0, bootstrap), r + disc * v_next)


def test_on_policy_traces_equal_lambda():
    """π = μ: c = λ, and with V = Q (a deterministic policy's value) the target is the λ-return."""
    r, disc, q, _, _, bootstrap = random_inputs()
    lam = 0.7
    zeros = torch.zeros_like(r)
    got = retrace_targets(r, disc, q, q, zeros, lam, bootstrap)
    # TD(λ) return: G_t = r_t + γ_t [(1 − λ) Q_{t+1} + λ G_{t+1}], G_T bootstraps with V_T.
    expected = torch.zeros_like(r)
    next_return, next_q = bootstrap, bootstrap
    for t in reversed(range(r.shape[0])):
        expected[t] = r[t] + disc[t] * ((1 - lam) * next_q + lam * next_return)
        next_return, next_q = expected[t], q[t]
    # At the last step the bootstrap is V_T itself (no correction beyond the sequence).
    torch.testing.assert_close(got, expected)


def test_traces_are_truncated_at_one():
    r, disc, q, v, log_rhos, bootstrap = random_inputs(rho_scale=5.0)
    huge = retrace_targets(r, disc, q, v, log_rhos.abs() + 10, 1.0, bootstrap)
    one = retrace_targets(r, disc, q, v, torch.zeros_like(log_rhos), 1.0, bootstrap)
    torch.testing.assert_close(huge, one)


def test_terminal_step_blocks_bootstrap():
    r, disc, q, v, log_rhos, bootstrap = random_inputs()
    disc[-1] = 0.0
    a = retrace_targets(r, disc, q, v, log_rhos, 0.9, bootstrap)
    b = retrace_targets(r, disc, q, v, log_rhos, 0.9, bootstrap + 100.0)
    torch.testing.assert_close(a, b)
    # Nothing after the episode end at step 3 of sequence 1 reaches the steps before it.
    v2 = v.clone()
    v2[4:, 1] += 50.0
    q2 = q.clone()
    q2[4:, 1] += 50.0
    torch.testing.assert_close(retrace_targets(r, disc, q2, v2, log_rhos, 0.9, bootstrap)[:4, 1], a[:4, 1])


def test_invalid_lambda():
    r, disc, q, v, log_rhos, bootstrap = random_inputs()
    with pytest.raises(ValueError, match="lambda"):
        retrace_targets(r, disc, q, v, log_rhos, 1.5, bootstrap)
