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
          "loop-side": "#3b75af"}


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


def plot(results, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    meta = results.get("meta", {})
    written = []
    for group, items in panels(results).items():
        width = max(6.0, 0.9 * sum(len(rows) for *_, rows in items) + 1.5)
        fig, ax = plt.subplots(figsize=(min(width, 30), 4.8))
        x, ticks, ticklabels, seen = 0.0, [], [], set()
        for scenario, label, baseline, rows in items:
            start = x
            for name, median, low, high in rows:
                bar = ax.bar(x, median, width=0.8, yerr=[[median - low], [high - median]],
                             capsize=3, color=COLORS.get(name, "#5a5a5a"),
                             label=name if name not in seen else None)
                seen.add(name)
                ax.annotate(f"{median:.2f}", (x, high), ha="center", va="bottom",
                            fontsize=7, xytext=(0, 2), textcoords="offset points")
                del bar
                x += 1
            ticks.append((start + x - 1) / 2)
            ticklabels.append(f"{scenario}\n{label}\n(vs {baseline})")
            x += 0.8
        ax.axhline(1.0, color="#666666", linewidth=0.8, linestyle="--")
        ax.set_xticks(ticks)
        ax.set_xticklabels(ticklabels, fontsize=7)
        ax.set_ylabel("median ratio to the baseline\n(higher is better; whiskers: min-max)")
        ax.set_title(f"{group} scenarios", fontsize=11)
        ax.legend(fontsize=8, ncol=4)
        fig.suptitle(f"Linux {meta.get('kernel', '')}, Python "
                     f"{str(meta.get('python', '')).split()[0]}, "
                     f"{meta.get('cpu_model') or ''}", fontsize=8)
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
