"""PNG charts for reports, with a Chinese font when the machine has one."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    cjk = [f.name for f in font_manager.fontManager.ttflist
           if any(k in f.name for k in ("CJK", "WenQuanYi", "SimHei", "Hei", "Song", "Noto Sans SC"))]
    if cjk:
        plt.rcParams["font.sans-serif"] = [cjk[0], *plt.rcParams["font.sans-serif"]]
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def barh(labels: Sequence[str], values: Sequence[float], title: str, xlabel: str, path: Path | str) -> None:
    plt = _pyplot()
    height = max(2.0, 0.35 * len(labels) + 1.0)
    fig, ax = plt.subplots(figsize=(8, height))
    bars = ax.barh(list(range(len(labels)))[::-1], list(values), color="#2f6fb0")
    ax.set_yticks(list(range(len(labels)))[::-1])
    ax.set_yticklabels(list(labels), fontsize=8)
    ax.bar_label(bars, fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def stacked(categories: Sequence[str], series: dict[str, Sequence[float]], title: str, path: Path | str) -> None:
    """Stacked vertical bars: one bar a category, one colour a series."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(categories) + 2), 4))
    bottom = [0.0] * len(categories)
    for name, values in series.items():
        ax.bar(list(categories), list(values), bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_title(title)
    ax.legend(fontsize=8, frameon=False, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    ax.tick_params(axis="x", labelsize=8, rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
