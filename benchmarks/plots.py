"""PNG charts of a benchmark run. Bar charts, one per scenario group (loop,
echo, http, files, chains): for every scenario and higher-is-better metric
of the group, each loop's (or variant's) median as a ratio to the scenario's
baseline (asyncio for the loop scenarios, aiofiles for the file ones, one
await per step for the chains), with min-max whiskers; the plain C servers'
bars are hatched. Percentile plots, one per latency scenario
(latency_echo.png, latency_http.png): latency against percentile on a
log 1/(1-p) axis, one line per loop (the runs' histograms merged), one
panel per offered rate.

    python -m benchmarks.plots RESULTS.json [OUT_DIR]
"""

import json
import math
import os
import sys

BASELINE = "asyncio"
COLORS = {"asyncio": "#999999", "uvloop": "#e39b3b", "aiouring": "#3b75af",
          "aiouring-chain": "#2a9d8f", "aiofiles": "#999999", "executor": "#c9c9c9",
          "chain": "#3b75af", "awaits": "#999999", "kernel": "#8e44ad",
          "loop-side": "#6cb0d6", "c-uring": "#222222", "c-epoll": "#b5651d"}
LIMITS = ("c-uring", "c-epoll")


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
        lower = set(sinfo.get("lower_is_better", ()))
        for metric, values in metrics.items():
            if metric in lower:
                continue        # latencies: the percentile plots show them
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
                           hatch="//" if name in LIMITS else None, edgecolor="white",
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
    return written + percentile_plots(results, out_dir, plt)


def merged_histograms(results, scenario, key):
    """{variant: Histogram of every sample's histogram `key`, merged}."""
    from .histogram import merged
    by_loop = {}
    for s in results.get("samples", ()):
        if s["scenario"] == scenario:
            by_loop.setdefault(s["loop"], []).append(s.get("metrics", {}))
    return {loop: h for loop, runs in by_loop.items()
            if (h := merged(runs, key)) is not None}


def percentile_curve(hist, points=200):
    """([1/(1-p)], [latency in us]) from p = 0 up to the rank of the largest
    value the histogram can tell apart (1 - 1/count)."""
    top = math.log10(max(hist.total, 2))
    xs = [10 ** (top * i / (points - 1)) for i in range(points)]
    return xs, [hist.percentile(100 * (1 - 1 / x)) / 1e3 for x in xs]


PERCENTILE_TICKS = ((1, "0%"), (2, "50%"), (10, "90%"), (100, "99%"), (1000, "99.9%"),
                    (10000, "99.99%"), (100000, "99.999%"))


def percentile_plots(results, out_dir, plt):
    meta = results.get("meta", {})
    written = []
    for scenario, sinfo in results.get("scenarios", {}).items():
        hists = sinfo.get("histograms") or {}
        panels_ = [(key, label, merged_histograms(results, scenario, key))
                   for key, label in hists.items()]
        panels_ = [p for p in panels_ if p[2]]
        if not panels_:
            continue
        fig, axes = plt.subplots(1, len(panels_), squeeze=False, sharey=True,
                                 figsize=(5.5 * len(panels_) + 0.8, 4.4))
        for ax, (key, label, by_variant) in zip(axes[0], panels_):
            offered = [s["metrics"].get(key.replace("hist_", "offered_", 1))
                       for s in results["samples"] if s["scenario"] == scenario]
            offered = [o for o in offered if o]
            order = [v for v in sinfo.get("variants", ()) if v in by_variant]
            for variant in order + sorted(set(by_variant) - set(order)):
                xs, ys = percentile_curve(by_variant[variant])
                ax.plot(xs, ys, color=COLORS.get(variant, "#5a5a5a"), label=variant,
                        linestyle="--" if variant in LIMITS else "-", linewidth=1.4)
            ax.set_xscale("log")
            ax.set_yscale("log")
            top = max(h.total for h in by_variant.values())
            ticks = [(x, t) for x, t in PERCENTILE_TICKS if x <= max(top, 2)]
            ax.set_xticks([x for x, _ in ticks])
            ax.set_xticklabels([t for _, t in ticks], fontsize=8)
            ax.set_xlabel("percentile", fontsize=8)
            ax.grid(True, which="major", linewidth=0.4, alpha=0.6)
            ax.set_title(f"{label}" + (f": {offered[0]:,.0f} requests/s" if offered else ""),
                         fontsize=9)
        axes[0, 0].set_ylabel("latency (us) from the scheduled send\nlower is better",
                              fontsize=8)
        axes[0, -1].legend(fontsize=8, loc="upper left")
        fig.suptitle(f"{scenario}: latency by percentile (runs merged); Linux "
                     f"{meta.get('kernel', '')}, Python {str(meta.get('python', '')).split()[0]}",
                     fontsize=9)
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
