"""Seeds for environment resets.

Vector envs seed sub-environment ``i`` with ``seed + i``, so seeds are laid out in
disjoint blocks: training rollouts of run seed ``s`` use the block starting at
``s·10⁹``, evaluation uses blocks above ``10¹⁵``. Held-out evaluation tasks are
therefore never the tasks an agent trained on, and every agent and classical
strategy evaluated with the same evaluation seed meets exactly the same tasks
and reward noise.
"""

from __future__ import annotations

_TRAIN_BLOCK = 10**9
_EVAL_BASE = 10**15
_EVAL_BLOCK = 10**8


def training_seed(run_seed: int, update: int, num_envs: int) -> int:
    """Reset seed of the ``update``-th training rollout."""
    return run_seed * _TRAIN_BLOCK + update * num_envs


def history_seed(run_seed: int) -> int:
    """Reset seed of the scripted histories a run's belief may train on: the second half of the run's
    training block, which its rollouts (``update · num_envs`` seeds) never reach."""
    return run_seed * _TRAIN_BLOCK + _TRAIN_BLOCK // 2


def evaluation_base_seed(eval_seed: int) -> int:
    """Reset seed of held-out task 0; task ``i`` is reset with this seed ``+ i``."""
    return _EVAL_BASE + eval_seed * _EVAL_BLOCK


def evaluation_seeds(eval_seed: int, num_tasks: int, chunk_size: int) -> list[tuple[int, int]]:
    """``(reset_seed, num_envs)`` chunks covering ``num_tasks`` held-out tasks."""
    base = evaluation_base_seed(eval_seed)
    chunks = []
    for start in range(0, num_tasks, chunk_size):
        chunks.append((base + start, min(chunk_size, num_tasks - start)))
    return chunks
