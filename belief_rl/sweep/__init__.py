"""Sweeps: a grid of configurations × seeds, each an ordinary resumable run directory, run on Ray Tune.

    from belief_rl.sweep import SweepSpec, run_sweep
    spec = SweepSpec.from_file("sweep.toml")
    summary = run_sweep(spec, "runs/sweeps/ib")

Specs and summaries need no Ray; running does (``pip install 'belief_rl[sweep]'``).
"""

from belief_rl.sweep.results import format_summary, write_summary
from belief_rl.sweep.runner import SweepError, run_sweep
from belief_rl.sweep.spec import SpecError, SweepSpec, Trial

__all__ = ["SpecError", "SweepError", "SweepSpec", "Trial", "format_summary", "run_sweep", "write_summary"]
