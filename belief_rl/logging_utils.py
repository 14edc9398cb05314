"""Run logging: ``metrics.csv`` plus TensorBoard events, resumable."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

from belief_rl.checkpoint import atomic_write_bytes

METRICS_NAME = "metrics.csv"
TENSORBOARD_DIR = "tensorboard"


class MetricsLogger:
    """Appends one row per update to ``metrics.csv`` and mirrors scalars to TensorBoard.

    On resume, rows newer than the checkpoint are dropped so the CSV never holds
    the same update twice; TensorBoard events past that step are purged.
    """

    def __init__(self, run_dir: Path, resume_step: int | None = None) -> None:
        self.path = Path(run_dir) / METRICS_NAME
        self.fields: list[str] | None = None
        if resume_step is not None and self.path.exists():
            self._truncate_after(resume_step)
        self.writer = SummaryWriter(str(Path(run_dir) / TENSORBOARD_DIR), purge_step=resume_step)

    def _truncate_after(self, step: int) -> None:
        with self.path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            rows, fields = list(reader), reader.fieldnames
        if not fields:
            return
        # A row cut short by a kill mid-write has no (or a partial) last column: drop it with the newer rows.
        kept = [row for row in rows if row.get(fields[-1]) is not None and int(row["global_step"]) <= step]
        self._write(list(fields), kept)

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
        self._write(fields, rows)

    def _write(self, fields: list[str], rows: list[dict[str, str]]) -> None:
        """Replace the whole file atomically, so a kill mid-rewrite loses no logged row."""
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_bytes(self.path, buffer.getvalue().encode())
        self.fields = fields

    def add_figure(self, tag: str, figure: object, step: int) -> None:
        """A matplotlib figure to TensorBoard's images (closed once written)."""
        self.writer.add_figure(tag, figure, step, close=True)

    def close(self) -> None:
        self.writer.close()
