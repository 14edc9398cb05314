"""Reference policies: what agents are measured against (none of them learns).

* :mod:`.bandits`: classical bandit strategies (random, greedy, Thompson, Bayes-UCB, UCB1, finite-horizon
  Gittins index, oracle) and their evaluation.
* :mod:`.scripted`: batched scripted policies and :func:`~.scripted.run_scripted`; the scripted oracles and
  explorers of Semicircle (:mod:`.semicircle`), NumPad (:mod:`.numpad`) and Reacher (:mod:`.reacher`).

Submodules are imported one by one: NumPad's and the ball's need the optional ``mujoco``.
"""
