"""Run logging: ``metrics.csv`` plus TensorBoard events, resumable."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter


class MetricsLogger:
    """Appends one row per update to ``metrics.csv`` and mirrors scalars to TensorBoard.

    On resume, rows newer than the checkpoint are dropped so the CSV never holds
    the same update twice; TensorBoard events past that step are purged.
    """

    def __init__(self, run_dir: Path, resume_step: int | None = None) -> None:
        self.path = Path(run_dir) / "metrics.csv"
        self.fields: list[str] | None = None
        if resume_step is not None and self.path.exists():
            self._truncate_after(resume_step)
        self.writer = SummaryWriter(str(Path(run_dir) / "tensorboard"), purge_step=resume_step)

    def _truncate_after(self, step: int) -> None:
        with self.path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows:
            return
        self.fields = list(rows[0].keys())
        kept = [row for row in rows if int(row["global_step"]) <= step]
        with self.path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.fields)
            writer.writeheader()
            writer.writerows(kept)

    def log(self, row: dict[str, float]) -> None:
        """Record one update's metrics (``row`` must contain ``global_step``)."""
        if self.fields is None:
            self.fields = list(row)
            if not self.path.exists() or self.path.stat().st_size == 0:
                with self.path.open("w", newline="") as handle:
                    csv.DictWriter(handle, fieldnames=self.fields).writeheader()
        new_fields = [key for key in row if key not in self.fields]
        if new_fields:
            # A metric appears later in the run (e.g. learner losses after an off-policy
            # warm-up): widen the header and leave earlier rows blank in that column.
            self._rewrite_with(self.fields + new_fields)
        with self.path.open("a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=self.fields, extrasaction="ignore").writerow(row)
        step = int(row["global_step"])
        for key, value in row.items():
            if key != "global_step" and isinstance(value, (int, float)) and not math.isnan(value):
                self.writer.add_scalar(key, value, step)

    def _rewrite_with(self, fields: list[str]) -> None:
        with self.path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        with self.path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        self.fields = fields

    def close(self) -> None:
        self.writer.close()
