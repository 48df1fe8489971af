"""PNG bar charts of a benchmark run: for each scenario, every loop's median
as a ratio to asyncio's, with min-max whiskers.

    python -m benchmarks.plots RESULTS.json [OUT_DIR]
"""

import json
import os
import sys

BASELINE = "asyncio"


def ratios(summary_metric):
    """(loop, median ratio, min ratio, max ratio) against the baseline."""
    base = summary_metric.get(BASELINE)
    if not base or not base["median"]:
        return []
    return [(loop, s["median"] / base["median"], s["min"] / base["median"],
             s["max"] / base["median"]) for loop, s in summary_metric.items()]


def plot(results, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    meta = results.get("meta", {})
    written = []
    for scenario, metrics in results["summary"].items():
        items = [(metric, ratios(values)) for metric, values in metrics.items()]
        items = [(metric, rows) for metric, rows in items if rows]
        if not items:
            continue
        fig, axes = plt.subplots(1, len(items), figsize=(4.5 * len(items), 3.6),
                                 squeeze=False)
        for ax, (metric, rows) in zip(axes[0], items):
            names = [r[0] for r in rows]
            medians = [r[1] for r in rows]
            low = [r[1] - r[2] for r in rows]
            high = [r[3] - r[1] for r in rows]
            bars = ax.bar(names, medians, yerr=[low, high], capsize=5,
                          color=["#999999" if n == BASELINE else "#3b75af" for n in names])
            for bar, value in zip(bars, medians):
                ax.annotate(f"{value:.2f}x", (bar.get_x() + bar.get_width() / 2, value),
                            ha="center", va="bottom", fontsize=9,
                            xytext=(0, 3), textcoords="offset points")
            ax.axhline(1.0, color="#666666", linewidth=0.8, linestyle="--")
            ax.set_title(f"{scenario}: {metric}", fontsize=10)
            ax.set_ylabel(f"ratio to {BASELINE} (higher is better)")
        fig.suptitle(f"Linux {meta.get('kernel', '')}, Python "
                     f"{str(meta.get('python', '')).split()[0]}", fontsize=8)
        fig.tight_layout()
        path = os.path.join(out_dir, f"{scenario}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        results = json.load(f)
    for path in plot(results, argv[1] if len(argv) > 1 else "bench-plots"):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
