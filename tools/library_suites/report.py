"""Compares a library's suite on asyncio's loop and on aiouring's, and writes
the report (Markdown for people, JSON for tools).

A test "fails" when its outcome is failed, error, hung or crashed. The
report counts outcomes per loop, says how many tests of the aiouring run
really ran an aiouring loop (the in-venv plugin records which loops became
the running loop during each test), and lists the tests that fail only on
aiouring with the first lines of their failure and, when the failure is a
known one (known.txt), why.
"""

import json
import os
import re

FAILING = ("failed", "error", "hung", "crashed")
OUTCOMES = ("passed", "failed", "error", "hung", "crashed", "skipped", "xfailed")
AIOURING_LOOP = "aiouring.loop.Loop"
SUMMARY_LINES_MD = 6


def load_known(path):
    """known.txt: 'library::node-id-pattern  # (kind) reason' per line; '*'
    in the pattern matches anything."""
    known = []
    if not os.path.exists(path):
        return known
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            pattern, _, reason = line.partition("#")
            library, _, nodeid = pattern.strip().partition("::")
            known.append((library, nodeid, reason.strip()))
    return known


def known_reason(known, library, nodeid):
    for lib, pattern, reason in known:
        if lib == library and _wildcard(pattern).fullmatch(nodeid):
            return reason
    return None


def _wildcard(pattern):
    """'*' matches anything; everything else, brackets of test ids too, is literal."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def loop_use(tests):
    """How many tests ran an aiouring loop, only other loops, or none."""
    use = {"aiouring": 0, "other loops only": 0, "no loop": 0}
    others = {}
    for record in tests.values():
        ran = record.get("loops_run") or {}
        if AIOURING_LOOP in ran:
            use["aiouring"] += 1
        elif ran:
            use["other loops only"] += 1
            for name in ran:
                others[name] = others.get(name, 0) + 1
        elif record["outcome"] not in ("hung", "crashed"):
            use["no loop"] += 1
    return use, others


def counts(tests):
    result = dict.fromkeys(OUTCOMES, 0)
    for record in tests.values():
        result[record["outcome"]] = result.get(record["outcome"], 0) + 1
    return result


def compare(library, runs, known):
    """runs: {'asyncio': run, 'aiouring': run} as suite_run.run_suite returns."""
    base, ring = runs["asyncio"]["tests"], runs["aiouring"]["tests"]
    only_aiouring, only_asyncio, both = [], [], []
    for nodeid in sorted(set(base) | set(ring)):
        a = base.get(nodeid, {}).get("outcome", "not run")
        b = ring.get(nodeid, {}).get("outcome", "not run")
        a_fails, b_fails = a in FAILING, b in FAILING
        if b_fails and not a_fails:
            only_aiouring.append({
                "nodeid": nodeid, "aiouring": b, "asyncio": a,
                "summary": ring[nodeid].get("summary", ""),
                "known": known_reason(known, library, nodeid)})
        elif a_fails and not b_fails:
            only_asyncio.append({"nodeid": nodeid, "asyncio": a, "aiouring": b,
                                 "summary": base[nodeid].get("summary", "")})
        elif a_fails and b_fails:
            both.append(nodeid)
    use, others = loop_use(ring)
    return {
        "library": library,
        "loops": {loop: {"counts": counts(run["tests"]),
                         "collect_errors": len(run["collect_errors"]),
                         "seconds": run["seconds"],
                         "exit_codes": run["exit_codes"]}
                  for loop, run in runs.items()},
        "aiouring_loop_use": use,
        "other_loops_in_aiouring_run": others,
        "fail_only_on_aiouring": only_aiouring,
        "fail_only_on_asyncio": only_asyncio,
        "fail_on_both": both,
    }


def table(comparisons):
    rows = ["| library | loop | passed | failed | errors | hung/crashed | skipped "
            "| xfailed | ran an aiouring loop | fail only here | time |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for comp in comparisons:
        name = f"{comp['library']} {comp.get('version', '')}".strip()
        for loop, data in comp["loops"].items():
            c = data["counts"]
            if loop == "aiouring":
                on = f"{comp['aiouring_loop_use']['aiouring']}"
                only = len(comp["fail_only_on_aiouring"])
            else:
                on, only = "—", len(comp["fail_only_on_asyncio"])
            rows.append(
                f"| {name} | {loop} | {c['passed']} | {c['failed']} | {c['error']} "
                f"| {c['hung'] + c['crashed']} | {c['skipped']} | {c['xfailed']} "
                f"| {on} | {only} | {data['seconds']:.0f} s |")
    return "\n".join(rows)


def markdown(comparisons):
    out = ["# Library test suites on asyncio's loop and on aiouring's", "",
           table(comparisons), ""]
    for comp in comparisons:
        lib = comp["library"]
        use = comp["aiouring_loop_use"]
        out += [f"## {lib} {comp.get('version', '')}", "",
                f"Run {comp.get('when', '?')} with aiouring {comp.get('aiouring', '?')}, "
                f"{comp.get('platform', '')}.", "",
                f"In the aiouring run, {use['aiouring']} tests ran an aiouring loop, "
                f"{use['other loops only']} ran only other loops "
                f"({_names(comp['other_loops_in_aiouring_run'])}) and "
                f"{use['no loop']} ran none (synchronous tests).", ""]
        failing = comp["fail_only_on_aiouring"]
        unknown = [f for f in failing if not f["known"]]
        out += [f"### Fail only on aiouring: {len(failing)} "
                f"({len(unknown)} not in known.txt)", ""]
        for f in failing:
            out.append(f"- `{f['nodeid']}`: {f['aiouring']} (asyncio: {f['asyncio']})"
                       + (f" — known: {f['known']}" if f["known"] else ""))
            lines = [line for line in f["summary"].splitlines() if line.strip()]
            if lines:
                out.append("  ```")
                out += ["  " + line[:200] for line in lines[-SUMMARY_LINES_MD:]]
                out.append("  ```")
        if comp["fail_only_on_asyncio"]:
            out += ["", f"### Fail only on asyncio: {len(comp['fail_only_on_asyncio'])}", ""]
            out += [f"- `{f['nodeid']}`: {f['asyncio']} (aiouring: {f['aiouring']})"
                    for f in comp["fail_only_on_asyncio"]]
        out += ["", f"Fail on both loops: {len(comp['fail_on_both'])}.", ""]
    return "\n".join(out)


def _names(others):
    if not others:
        return "none"
    return ", ".join(f"{name} in {n}" for name, n in sorted(others.items()))


def save(out_dir, comparison):
    """Keeps one library's comparison; the report combines the latest of each."""
    with open(os.path.join(out_dir, f"{comparison['library']}.json"), "w",
              encoding="utf-8") as f:
        json.dump(comparison, f, indent=1)


def write(out_dir, libraries):
    """report.md from the latest saved comparison of each library."""
    comparisons = []
    for name in libraries:
        path = os.path.join(out_dir, f"{name}.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                comparisons.append(json.load(f))
    md = os.path.join(out_dir, "report.md")
    with open(md, "w", encoding="utf-8") as f:
        f.write(markdown(comparisons))
    return md, comparisons
