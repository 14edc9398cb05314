"""The parametric-prior pathology and the GP fix, measured: findings (a) and (b), and GP cost.

(a) Predictive standard deviation of each prior along a straight path that starts
    on the demonstrations and leaves them: the GP's grows back to its prior level,
    the behavioral-cloning MLP's does not.
(b) Norm of the actor's gradient of ``KL(π ‖ π0)`` (w.r.t. the policy mean and std,
    at a fixed policy) as a function of the prior's standard deviation σ0, and
    along the path for both priors: the gradient grows as O(σ0⁻²).
(c) GP cost on this CPU: fit time, and the latency of one prior evaluation for a
    batch of 256 states at 1k (exact GP) and 10k (sparse GP) demonstration points.

(a) and (b) run on every env of ``--envs``, with priors fit to noisy oracle demonstrations
(``--demo-noise``, the same stochastic expert as ``prior_learning_curves.py``). Writes
``prior_pathology.json`` and ``prior_pathology.png`` into ``--out``.

    python analysis/prior_pathology.py --envs belief_rl/Semicircle-v0 belief_rl/Reacher-v5 \\
        --timing-env belief_rl/NumPad-2x2-L3-v0 --out results/priors
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from belief_rl.checkpoint import atomic_write_bytes  # noqa: E402
from belief_rl.experiments import machine_description  # noqa: E402
from belief_rl.plotting import save_figure  # noqa: E402
from belief_rl.priors import (  # noqa: E402
    GPFitConfig,
    GPPrior,
    ParametricFitConfig,
    ParametricPrior,
    gaussian_kl,
    to_raw_actions,
)
from belief_rl.priors.collect import collect_demonstrations  # noqa: E402
from belief_rl.stats import mean_stderr  # noqa: E402


def fit_priors(env_id: str, episodes: int, seed: int, gp_iterations: int, bc_epochs: int,
               noise: float) -> dict:
    demos = collect_demonstrations(env_id, "oracle", episodes, seed, action_noise=noise)
    obs = torch.as_tensor(demos.observations)
    low, high = torch.as_tensor(demos.action_low), torch.as_tensor(demos.action_high)
    raw = to_raw_actions(torch.as_tensor(demos.actions), low, high)
    start = time.perf_counter()
    gp = GPPrior.fit(obs, raw, low, high, GPFitConfig(iterations=gp_iterations, seed=seed))
    gp_seconds = time.perf_counter() - start
    bc = ParametricPrior.fit(obs, raw, low, high, ParametricFitConfig(epochs=bc_epochs, seed=seed))
    return {"obs": obs, "gp": gp, "bc": bc, "gp_fit_seconds": gp_seconds}


def episodes_for(env_id: str, points: int) -> int:
    """Oracle meta-episodes that hold at least ``points`` states."""
    return max(1, -(-points // len(collect_demonstrations(env_id, "oracle", 1).observations)))


def kl_gradient_norm(prior_mean: torch.Tensor, prior_std: torch.Tensor,
                     policy_std: float = 0.3) -> torch.Tensor:
    """``‖∇_{μ,σ} KL(N(μ, σ²) ‖ N(μ0, σ0²))‖`` per row, at a policy 0.5 away from the prior mean."""
    mean = (prior_mean + 0.5).detach().requires_grad_(True)
    std = torch.full_like(prior_mean, policy_std, requires_grad=True)
    kl = gaussian_kl(mean, std, prior_mean, prior_std)
    grad_mean, grad_std = torch.autograd.grad(kl.sum(), [mean, std])
    return torch.cat([grad_mean, grad_std], -1).norm(dim=-1)


def path_study(fitted: dict, length: float, points: int) -> dict:
    """Findings (a) and (b) along a ray from the demonstrations' centre outwards."""
    obs = fitted["obs"]
    centre = obs.mean(0)
    direction = torch.ones_like(centre) / np.sqrt(len(centre))
    distance = torch.linspace(0, length, points)
    path = centre + distance.unsqueeze(-1) * direction
    nearest = torch.cdist(path, obs).min(1).values
    result = {"distance": distance.tolist(), "distance_to_nearest_demo": nearest.tolist()}
    for name in ("gp", "bc"):
        with torch.no_grad():
            dist = fitted[name](path)
        result[f"{name}_std"] = dist.stddev.mean(-1).tolist()
        result[f"{name}_kl_grad_norm"] = kl_gradient_norm(dist.mean, dist.stddev).tolist()
    return result


def sigma_sweep() -> dict:
    """Finding (b) in isolation: gradient norm vs σ0 for a fixed policy and prior mean."""
    sigmas = torch.logspace(-3, 0.5, 30)
    norms = kl_gradient_norm(torch.zeros(len(sigmas), 1), sigmas.unsqueeze(-1))
    slope = np.polyfit(np.log(sigmas.numpy()[:10]), np.log(norms.numpy()[:10]), 1)[0]
    return {"sigma0": sigmas.tolist(), "grad_norm": norms.tolist(), "log_log_slope_small_sigma": float(slope)}


def gp_timing(env_id: str, sizes: list[int], seed: int, iterations: int, noise: float,
              repeats: int = 20) -> list[dict]:
    """Fit time and latency of one 256-state prior evaluation at each demonstration size."""
    rows = []
    for size in sizes:
        demos = collect_demonstrations(env_id, "oracle", episodes_for(env_id, size), seed, action_noise=noise)
        obs = torch.as_tensor(demos.observations[:size])
        low, high = torch.as_tensor(demos.action_low), torch.as_tensor(demos.action_high)
        raw = to_raw_actions(torch.as_tensor(demos.actions[:size]), low, high)
        start = time.perf_counter()
        gp = GPPrior.fit(obs, raw, low, high, GPFitConfig(iterations=iterations, seed=seed))
        fit_seconds = time.perf_counter() - start
        queries = obs[torch.randperm(len(obs), generator=torch.Generator().manual_seed(seed))[:256]] + 0.01
        start = time.perf_counter()
        gp(queries)  # the first call builds the prediction cache
        first = time.perf_counter() - start
        latencies = []
        for _ in range(repeats):
            start = time.perf_counter()
            gp(queries)
            latencies.append(time.perf_counter() - start)
        rows.append({"points": size, "sparse": gp.sparse, "fit_seconds": fit_seconds,
                     "fit_iterations": iterations, "first_call_ms": 1e3 * first,
                     "latency_ms_mean": 1e3 * float(mean_stderr(latencies)[0]),
                     "latency_ms_stderr": 1e3 * float(mean_stderr(latencies)[1])})
        print(f"GP on {size:,} points ({'sparse' if gp.sparse else 'exact'}): fit {fit_seconds:.1f} s, "
              f"256-state evaluation {rows[-1]['latency_ms_mean']:.1f} "
              f"± {rows[-1]['latency_ms_stderr']:.1f} ms",
              flush=True)
    return rows


def plot(results: dict, path: Path) -> None:
    env_ids = list(results["envs"])
    fig, axes = plt.subplots(1, 2 * len(env_ids) + 1, figsize=(5.4 * (2 * len(env_ids) + 1), 4.2))
    for i, env_id in enumerate(env_ids):
        study = results["envs"][env_id]["path"]
        ax = axes[2 * i]
        ax.plot(study["distance"], study["gp_std"], color="tab:red", label="GP prior")
        ax.plot(study["distance"], study["bc_std"], color="tab:blue", label="parametric (BC) prior")
        ax.set(yscale="log", xlabel="distance along the path from the demonstrations' centre",
               ylabel="predictive std σ0 (pre-squash)", title=f"(a) {env_id}: leaving the demonstrations")
        ax.legend()
        ax = axes[2 * i + 1]
        ax.plot(study["distance"], study["gp_kl_grad_norm"], color="tab:red", label="GP prior")
        ax.plot(study["distance"], study["bc_kl_grad_norm"], color="tab:blue", label="parametric (BC) prior")
        ax.set(yscale="log", xlabel="distance along the path", ylabel="‖∇ KL(π ‖ π0)‖ (fixed π)",
               title=f"(b) {env_id}: actor KL gradient")
        ax.legend()
    ax = axes[-1]
    sweep = results["sigma_sweep"]
    ax.loglog(sweep["sigma0"], sweep["grad_norm"], color="k", label="‖∇ KL‖")
    s = np.array(sweep["sigma0"])
    ax.loglog(s, sweep["grad_norm"][0] * (s / s[0]) ** -2, "k:", label="∝ σ0⁻²")
    ax.set(xlabel="prior std σ0", ylabel="‖∇_{μ,σ} KL‖",
           title=f"(b) O(σ0⁻²): slope {sweep['log_log_slope_small_sigma']:.2f}")
    ax.legend()
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["belief_rl/Semicircle-v0", "belief_rl/Reacher-v5"])
    parser.add_argument("--timing-env", default="belief_rl/NumPad-2x2-L3-v0")
    parser.add_argument("--demo-points", type=int, default=1000,
                        help="demonstrated states the priors are fit to")
    parser.add_argument("--demo-noise", type=float, default=0.1, help="the oracle's pre-squash action noise")
    parser.add_argument("--gp-iterations", type=int, default=200)
    parser.add_argument("--bc-epochs", type=int, default=200)
    parser.add_argument("--timing-sizes", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--path-length", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results/priors"))
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    results: dict = {"machine": machine_description(), "seed": args.seed, "demo_noise": args.demo_noise,
                     "envs": {}}
    for env_id in args.envs:
        fitted = fit_priors(env_id, episodes_for(env_id, args.demo_points), args.seed, args.gp_iterations,
                            args.bc_epochs, args.demo_noise)
        study = path_study(fitted, args.path_length, 60)
        results["envs"][env_id] = {"demonstrations": len(fitted["obs"]),
                                   "gp_fit_seconds": fitted["gp_fit_seconds"], "path": study}
        print(f"{env_id} ({len(fitted['obs']):,} demonstrated states)")
        print("  (a) std at the centre / end of the path: "
              f"GP {study['gp_std'][0]:.3g} / {study['gp_std'][-1]:.3g}, "
              f"BC {study['bc_std'][0]:.3g} / {study['bc_std'][-1]:.3g}")
        print(f"  (b) KL gradient norm at the end of the path: GP {study['gp_kl_grad_norm'][-1]:.3g}, "
              f"BC {study['bc_kl_grad_norm'][-1]:.3g}", flush=True)
    results["sigma_sweep"] = sigma_sweep()
    print("(b) log-log slope of the KL gradient norm vs σ0: "
          f"{results['sigma_sweep']['log_log_slope_small_sigma']:.2f}")
    results["timing_env_id"] = args.timing_env
    results["gp_timing"] = gp_timing(args.timing_env, args.timing_sizes, args.seed, args.gp_iterations,
                                      args.demo_noise)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "prior_pathology.json", json.dumps(results, indent=2).encode())
    plot(results, args.out / "prior_pathology.png")
    print(f"wrote {args.out / 'prior_pathology.json'} and {args.out / 'prior_pathology.png'}")


if __name__ == "__main__":
    main()
