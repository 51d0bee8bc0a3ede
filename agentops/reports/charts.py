"""Charts for the HTML reports, drawn by matplotlib as SVG and embedded as data URIs.

matplotlib is imported here only, and this module only by the HTML renderer, so the app's cold
start does not pay for it. Figures are built with the object API (no pyplot, no global figure
state); the SVG settings are applied under a lock since matplotlib's rc parameters are global.
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_RC_LOCK = threading.Lock()
_SVG_RC = {
    "svg.fonttype": "none",  # text stays text: smaller, selectable, read by screen readers
    "svg.hashsalt": "agentops-report",  # stable element ids, so the same report renders alike
}
_COLOURS = ("#1f4e79", "#7fa7d0", "#c55a11", "#a5a5a5")


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    alt: str  # what the chart shows, for those who cannot see it
    data_uri: str


def _figure(height_rows: int) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(7.5, max(2.2, 0.35 * height_rows + 1.2)), layout="constrained")


def _encode(figure: Any, title: str, alt: str) -> Chart:
    import matplotlib

    buffer = io.BytesIO()
    with _RC_LOCK, matplotlib.rc_context(_SVG_RC):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Title": title})
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Chart(title, alt, f"data:image/svg+xml;base64,{encoded}")


def horizontal_bars(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    xlabel: str,
    missing_label: str = "unpriced",
) -> Chart:
    """One bar per label; a None value is drawn as a hatched stub marked `missing_label`."""
    figure = _figure(len(labels))
    axes = figure.add_subplot()
    positions = range(len(labels))
    known = [v or 0.0 for v in values]
    bars = axes.barh(positions, known, color=_COLOURS[0])
    stub = max(known, default=0.0) * 0.02 or 1.0
    for bar, value in zip(bars, values, strict=True):
        if value is None:
            bar.set_width(stub)
            bar.set_hatch("//")
            bar.set_facecolor("white")
            bar.set_edgecolor(_COLOURS[2])
            axes.annotate(
                missing_label,
                (stub, bar.get_y() + bar.get_height() / 2),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
            )
    axes.set_yticks(list(positions), labels=list(labels))
    axes.invert_yaxis()
    axes.set_xlabel(xlabel)
    axes.set_title(title)
    parts = [
        f"{label}: {'unpriced' if v is None else f'{v:g}'}"
        for label, v in zip(labels, values, strict=True)
    ]
    return _encode(figure, title, f"{title}. " + "; ".join(parts) + ".")


def stacked_bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    xlabel: str,
) -> Chart:
    figure = _figure(len(labels))
    axes = figure.add_subplot()
    positions = list(range(len(labels)))
    left = [0.0] * len(labels)
    for (name, values), colour in zip(series, _COLOURS, strict=False):
        axes.barh(positions, values, left=left, label=name, color=colour)
        left = [a + b for a, b in zip(left, values, strict=True)]
    axes.set_yticks(positions, labels=list(labels))
    axes.invert_yaxis()
    axes.set_xlabel(xlabel)
    axes.set_title(title)
    axes.legend(loc="lower right")
    parts = [
        f"{label}: " + ", ".join(f"{name} {values[i]:g}" for name, values in series)
        for i, label in enumerate(labels)
    ]
    return _encode(figure, title, f"{title}. " + "; ".join(parts) + ".")


def grouped_columns(
    title: str,
    groups: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    ylabel: str,
    highlight: Sequence[bool] | None = None,
    highlight_label: str = "",
) -> Chart:
    """Columns per group, one per series; `highlight` colours the groups it marks apart."""
    figure = _figure(6)
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(series))
    for n, ((name, values), colour) in enumerate(zip(series, _COLOURS, strict=False)):
        offsets = [i + (n - (len(series) - 1) / 2) * width for i in range(len(groups))]
        bars = axes.bar(offsets, values, width=width, label=name, color=colour)
        for bar, marked in zip(bars, highlight or (), strict=False):
            if marked:
                bar.set_facecolor(_COLOURS[2])
    axes.set_xticks(list(range(len(groups))), labels=list(groups))
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    if highlight_label and any(highlight or ()):
        from matplotlib.patches import Patch

        axes.legend(
            handles=[Patch(color=_COLOURS[0]), Patch(color=_COLOURS[2])],
            labels=[series[0][0], highlight_label],
        )
    elif len(series) > 1:
        axes.legend()
    parts = [
        f"{group}: " + ", ".join(f"{name} {values[i]:g}" for name, values in series)
        for i, group in enumerate(groups)
    ]
    return _encode(figure, title, f"{title}. " + "; ".join(parts) + ".")
