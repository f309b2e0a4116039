"""A record's brake-force curves as one PNG chart, for the reviewer's page.

Each brake run (axle and service or parking brake, ``hub.anomaly_rules.brake_runs``) is one panel
with the left and right wheel's force over time, from the samples and rate the station signed.
Captions are English only: a hub need not have a CJK font, and a chart is read by its lines.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display on a hub; must precede pyplot

import matplotlib.pyplot as plt

from hub.anomaly_rules import brake_runs
from inspection import InspectionRecord


def curve_chart_png(record: InspectionRecord) -> bytes | None:
    """The chart, or None when no run of the record carries a curve."""
    runs = [(name, run.curve) for name, run in brake_runs(record) if run.curve is not None]
    if not runs:
        return None
    figure, axes = plt.subplots(len(runs), 1, figsize=(7.0, 2.2 * len(runs)), squeeze=False, dpi=90)
    try:
        for (name, curve), (ax,) in zip(runs, axes, strict=True):
            rate = curve.sample_rate_hz or 1
            for side, samples, colour in (
                ("left", curve.left_n, "#1f6feb"),
                ("right", curve.right_n, "#d1242f"),
            ):
                ax.plot(
                    [i / rate for i in range(len(samples))],
                    [n / 1000 for n in samples],
                    label=side,
                    color=colour,
                )
            ax.set_title(f"{name} ({curve.sample_rate_hz} Hz)", fontsize=10)
            ax.set_ylabel("force kN")
            ax.grid(alpha=0.3)
            ax.legend(loc="upper right", fontsize=8)
        axes[-1][0].set_xlabel("time s")
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(figure)
