"""PNG plots of accuracy against compute (tokens, FLOPs, wall time): one line per strategy with its CI95
band, log-scaled compute axis. matplotlib (Agg) is imported here only, when a report is drawn. A point
whose tokens its backend did not all count is not drawn on the token and FLOPs axes (its cost is not
known), and the plot says so under its axis."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from .stats import comparable, left_out

AXES = {
    "tokens": "mean tokens per problem (policy + verifier)",
    "flops": "estimated FLOPs per problem (2·params·tokens)",
    "wall_seconds": "model wall seconds per problem",
}


def _require_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        from ..errors import PonderError

        raise PonderError("plots need matplotlib: pip install 'ponder[bench]' (or pip install matplotlib)") from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_curves(points: list[dict[str, Any]], metric: str, path: Path, *, title: str = "") -> Path | None:
    """Accuracy against ``metric``; returns None when no point has that metric (e.g. unknown FLOPs)."""
    usable = [p for p in points if comparable(p, metric)]
    if not usable:
        return None
    missing = left_out(points, metric)
    plt = _require_matplotlib()
    by_family: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in usable:
        by_family[p["family"]].append(p)
    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=110)
    for i, (family, pts) in enumerate(sorted(by_family.items())):
        pts = sorted(pts, key=lambda p: p[metric])
        xs = [p[metric] for p in pts]
        ys = [100 * p["accuracy"] for p in pts]
        lo = [100 * (p["ci_low"] if p["ci_low"] is not None else p["accuracy"]) for p in pts]
        hi = [100 * (p["ci_high"] if p["ci_high"] is not None else p["accuracy"]) for p in pts]
        color = f"C{i % 10}"
        if len(pts) > 1:
            ax.plot(xs, ys, marker="o", color=color, label=_plain(family), lw=1.8)
            ax.fill_between(xs, lo, hi, color=color, alpha=0.18, lw=0)
        else:
            ax.errorbar(xs, ys, yerr=[[ys[0] - lo[0]], [hi[0] - ys[0]]], fmt="s", color=color, capsize=4,
                        label=_plain(family))
    ax.set_xscale("log")
    ax.set_xlabel(AXES.get(metric, metric))
    ax.set_ylabel("accuracy (%) with CI95")
    ax.set_ylim(-2, 102)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(_plain(title) or f"accuracy against {metric.replace('_', ' ')}", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    if missing:
        names = ", ".join(p["spec"] for p in missing[:4])
        names += f" and {len(missing) - 4} more" if len(missing) > 4 else ""
        fig.text(0.01, 0.005, _plain(f"not drawn, tokens not counted by the backend: {names}"), fontsize=7,
                 color="#a15c00", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.03 if missing else 0, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def _plain(text: str) -> str:
    """``text`` as matplotlib shows it verbatim: two ``$`` would start math mode (and a spec like
    ``answer_prompt='$x$'`` fail to draw)."""
    return text.replace("$", r"\$")


def plot_all(points: list[dict[str, Any]], out_dir: Path, title: str = "") -> dict[str, Path]:
    """The three plots, as ``{metric: path}`` (metrics with no data are left out)."""
    out = {}
    for metric in AXES:
        p = plot_curves(points, metric, Path(out_dir) / f"accuracy_vs_{metric}.png",
                        title=f"{title} — accuracy against {metric.replace('_', ' ')}" if title else "")
        if p is not None:
            out[metric] = p
    return out
