"""PNG bar charts of a benchmark run, one per scenario group (loop, echo,
http, files, chains): for every scenario and metric of the group, each
loop's (or variant's) median as a ratio to the scenario's baseline (asyncio
for the loop scenarios, aiofiles for the file ones, one await per step for
the chains), with min-max whiskers.

    python -m benchmarks.plots RESULTS.json [OUT_DIR]
"""

import json
import os
import sys

BASELINE = "asyncio"
COLORS = {"asyncio": "#999999", "uvloop": "#e39b3b", "aiouring": "#3b75af",
          "aiouring-chain": "#2a9d8f", "aiofiles": "#999999", "executor": "#c9c9c9",
          "chain": "#3b75af", "awaits": "#999999", "kernel": "#8e44ad",
          "loop-side": "#6cb0d6"}


def ratios(summary_metric, baseline=BASELINE):
    """(loop, median ratio, min ratio, max ratio) against the baseline."""
    base = summary_metric.get(baseline)
    if not base or not base["median"]:
        return []
    return [(loop, s["median"] / base["median"], s["min"] / base["median"],
             s["max"] / base["median"]) for loop, s in summary_metric.items()]


def panels(results):
    """{group: [(scenario, metric label, baseline, rows)]} from a results
    dict (older files without "scenarios" get one group per scenario)."""
    info = results.get("scenarios", {})
    out = {}
    for scenario, metrics in results["summary"].items():
        sinfo = info.get(scenario, {})
        group = sinfo.get("group", scenario)
        baselines = sinfo.get("baselines", [BASELINE])
        labels = sinfo.get("metrics", {})
        for metric, values in metrics.items():
            baseline = next((b for b in baselines if b in values), None)
            rows = ratios(values, baseline) if baseline else []
            if rows:
                out.setdefault(group, []).append(
                    (scenario, labels.get(metric, metric), baseline, rows))
    return out


MAX_BARS = 24      # per row of a group's chart; more wrap onto further rows


def rows_of(items):
    """Splits a group's panels into chart rows of at most MAX_BARS bars."""
    out, row, bars = [], [], 0
    for item in items:
        if row and bars + len(item[3]) > MAX_BARS:
            out.append(row)
            row, bars = [], 0
        row.append(item)
        bars += len(item[3])
    return out + [row] if row else out


def plot(results, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    meta = results.get("meta", {})
    written = []
    for group, items in panels(results).items():
        chart_rows = rows_of(items)
        widest = max(sum(len(it[3]) + 0.8 for it in row) for row in chart_rows)
        fig, axes = plt.subplots(len(chart_rows), 1, squeeze=False,
                                 figsize=(max(6.0, 0.55 * widest + 1.5),
                                          3.9 * len(chart_rows)))
        seen = set()
        for ax, row in zip(axes[:, 0], chart_rows):
            x, ticks, ticklabels = 0.0, [], []
            for scenario, label, baseline, bars in row:
                start = x
                for name, median, low, high in bars:
                    ax.bar(x, median, width=0.8,
                           yerr=[[median - low], [high - median]], capsize=3,
                           color=COLORS.get(name, "#5a5a5a"),
                           label=name if name not in seen else None)
                    seen.add(name)
                    ax.annotate(f"{median:.2f}", (x, high), ha="center", va="bottom",
                                fontsize=7, xytext=(0, 2), textcoords="offset points")
                    x += 1
                ticks.append((start + x - 1) / 2)
                ticklabels.append(f"{scenario}\n{label}\n(vs {baseline})")
                x += 0.8
            ax.axhline(1.0, color="#666666", linewidth=0.8, linestyle="--")
            ax.set_xticks(ticks)
            ax.set_xticklabels(ticklabels, fontsize=7)
            ax.set_ylabel("ratio to baseline (median)\nhigher is better; whiskers min-max",
                          fontsize=8)
            ax.margins(y=0.12)
        axes[0, 0].set_title(f"{group} scenarios", fontsize=11)
        fig.legend(fontsize=8, ncol=6, loc="upper right")
        fig.suptitle(f"Linux {meta.get('kernel', '')}, Python "
                     f"{str(meta.get('python', '')).split()[0]}, "
                     f"{meta.get('cpu_model') or ''}", fontsize=8, x=0.01, ha="left")
        fig.tight_layout()
        path = os.path.join(out_dir, f"{group}.png")
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
