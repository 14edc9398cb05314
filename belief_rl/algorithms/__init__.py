"""Learners: recurrent PPO (on-policy)."""
