"""Classical baselines: bandit strategies (random, greedy, Thompson, Bayes-UCB, UCB1,
finite-horizon Gittins, oracle) and their evaluation on Bandit-v0."""

from belief_rl.baselines.bandits import (
    STRATEGIES,
    BanditHistory,
    BayesUCBStrategy,
    GittinsStrategy,
    GreedyStrategy,
    OracleStrategy,
    RandomStrategy,
    Strategy,
    ThompsonStrategy,
    UCB1Strategy,
    evaluate_strategies,
    finite_horizon_gittins_indices,
    format_table,
    make_strategy,
    run_strategy,
)

__all__ = [
    "STRATEGIES",
    "BanditHistory",
    "BayesUCBStrategy",
    "GittinsStrategy",
    "GreedyStrategy",
    "OracleStrategy",
    "RandomStrategy",
    "Strategy",
    "ThompsonStrategy",
    "UCB1Strategy",
    "evaluate_strategies",
    "finite_horizon_gittins_indices",
    "format_table",
    "make_strategy",
    "run_strategy",
]
