"""Classical and scripted baselines.

* Bandit strategies (random, greedy, Thompson, Bayes-UCB, UCB1, finite-horizon
  Gittins, oracle) and their evaluation on Bandit-v0 (:mod:`.bandits`).
* Scripted oracles and explorers for Semicircle-v0 / SemicircleBall-v0
  (:mod:`.semicircle`) and NumPad-v0 (:mod:`.numpad`), played by :func:`run_scripted`.
"""

# Only submodules are imported here and none of them imports this package's
# namespace, so the eager imports cannot form a cycle.
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
from belief_rl.baselines.numpad import NumPadExplorer, NumPadOracle, NumPadRandom, numpad_reference_returns
from belief_rl.baselines.scripted import ScriptedPolicy, reference_returns, run_scripted
from belief_rl.baselines.semicircle import SemicircleExplorer, SemicircleOracle, semicircle_reference_returns

__all__ = [
    "STRATEGIES",
    "BanditHistory",
    "BayesUCBStrategy",
    "GittinsStrategy",
    "GreedyStrategy",
    "NumPadExplorer",
    "NumPadOracle",
    "NumPadRandom",
    "OracleStrategy",
    "RandomStrategy",
    "ScriptedPolicy",
    "SemicircleExplorer",
    "SemicircleOracle",
    "Strategy",
    "ThompsonStrategy",
    "UCB1Strategy",
    "evaluate_strategies",
    "finite_horizon_gittins_indices",
    "format_table",
    "make_strategy",
    "numpad_reference_returns",
    "reference_returns",
    "run_scripted",
    "run_strategy",
    "semicircle_reference_returns",
]
