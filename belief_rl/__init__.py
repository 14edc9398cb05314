"""belief_rl: meta reinforcement learning as task inference."""

__version__ = "0.1.0"
