#!/usr/bin/env python3
"""Reads the JSON files bench/cnn.sh collected (graphc --bench, bench/pytorch_cnn.py and
bench/jax_cnn.py) and prints a Markdown table: medians with min-max spread, each figure of
graphc and JAX as a ratio of PyTorch's at the same thread count (the headline), and a last
column with graphc's figures as ratios of JAX's (train b=8 / train b=64 / eval b=1024).

    python3 bench/compare.py bench/out/*.json
"""
import json, os, statistics, sys

COLUMNS = [("train", "8"), ("train", "64"), ("eval", "1024")]


def kind(d):
    f = d["framework"]
    return "pytorch" if f.startswith("pytorch") else "jax" if f.startswith("jax") else "graphc"


def label(path, d):
    if kind(d) != "graphc":
        return d["framework"]
    name = ("graphc fused and unfused in one process" if in_one_process(d)
            else "graphc unfused" if "unfused" in os.path.basename(path) else "graphc")
    isa = f", {d['kernel_isa']}" if "kernel_isa" in d else ""
    return f"{name} (OpenBLAS {d['blas_core']}{isa})"


def threads(d):
    t = d["threads"]
    return max(t.values()) if isinstance(t, dict) else t


def figure(d, col):
    return d.get(col[0], {}).get(col[1])


def paired(a, b):
    """The median of the per-round ratios a / b when both ran in the same rounds (bench/cnn.sh
    runs every process once per round), else None: a machine whose speed drifts between rounds
    moves both sides of a round alike, so this ratio holds where the medians' ratio wobbles."""
    ra, rb = a.get("runs", []), b.get("runs", [])
    if len(ra) != len(rb) or len(ra) < 2:
        return None
    return statistics.median(x / y for x, y in zip(ra, rb))


def cell(s, ref=None):
    if s is None:
        return "-"
    text = f"{s['median']:.0f} ({s['min']:.0f}-{s['max']:.0f})"
    if ref:
        text += f" **{s['median'] / ref['median']:.2f}x**"
        p = paired(s, ref)
        if p is not None:
            text += f" (paired {p:.2f}x)"
    return text


def against(d, ref):
    """graphc / JAX medians for the three columns, e.g. '2.10x / 1.50x / 1.31x'."""
    if ref is None or kind(d) != "graphc":
        return "-"
    parts = []
    for col in COLUMNS:
        a, b = figure(d, col), figure(ref, col)
        parts.append(f"{a['median'] / b['median']:.2f}x" if a and b else "-")
    return " / ".join(parts)


def in_one_process(d):
    """Whether d is a `--bench-pairs` run (fused and unfused in turn in one process): its
    figures are for the fusion table only, not the throughput and memory tables."""
    return bool(d.get("unfused_pairs"))


def core_of(d):
    return d["blas_core"] + (f", kernels {d['kernel_isa']}" if "kernel_isa" in d else "")


def fused_vs_unfused(runs):
    """graphc (fused, the default) / graphc --fusion off --memory-plan off, per thread count and
    OpenBLAS core: each column's median ratio with the worst case (fused min / unfused max),
    the paired ratio, the ratio over the rounds where both ran with the same vCPU placement,
    the median ratio of the pairs run in one process (`--bench-pairs`) with their range, and
    the fusion --tune chose for that row. A column is marked slower by the fairest of these
    the run has: in one process, else same placement, else paired, else the medians."""
    pairs = {}
    for p, d in runs:
        if kind(d) == "graphc":
            which = "one" if in_one_process(d) else "unfused" if "unfused" in os.path.basename(p) else "fused"
            pairs.setdefault((threads(d), core_of(d)), {})[which] = d
    rows = [(k, v) for k, v in sorted(pairs.items()) if ("fused" in v and "unfused" in v) or "one" in v]
    if not rows:
        return
    print("\n| threads | OpenBLAS core | fused / unfused: train b=8 | train b=64 | eval b=1024 | fusion / memory plan chosen (--tune) |")
    print("|---|---|---|---|---|---|")
    for (t, core), v in rows:
        f, u, one = v.get("fused", {}), v.get("unfused", {}), v.get("one", {}).get("unfused_pairs", {})
        cols = []
        for col in COLUMNS:
            a, b = figure(f, col), figure(u, col)
            together = one.get(f"{col[0]}_{col[1]}")
            if together:
                r = together["ratio"]
                text = f"in one process {r['median']:.2f}x ({r['min']:.2f}-{r['max']:.2f}, {len(r['runs'])} pairs)"
                if a and b:
                    text += f"; rounds {a['median'] / b['median']:.2f}x"
                    if (p := paired(a, b)) is not None:
                        text += f", paired {p:.2f}x"
                cols.append(text + (" **slower**" if r["median"] < 1 else ""))
            elif a and b:
                r = a["median"] / b["median"]
                text = f"{r:.2f}x (worst {a['min'] / b['max']:.2f}x"
                verdict = r
                if (p := paired(a, b)) is not None:
                    text += f", paired {p:.2f}x"
                    verdict = p
                same = same_placement(f, u, col)
                if same is not None:
                    ratio, count, rounds = same
                    text += f", same placement {ratio:.2f}x in {count} of {rounds}"
                    verdict = ratio
                cols.append(text + ")" + (" **slower**" if verdict < 1 else ""))
            else:
                cols.append("-")
        chosen_in = f or v.get("one", {})
        choice, plan = chosen_in.get("fusion_choice", {}), chosen_in.get("memory_plan_choice", {})
        chosen = ", ".join(f"{k}: {choice[k]}" + (f" / {plan[k]}" if k in plan else "") for k in sorted(choice)) or "-"
        print(f"| {t} | {core} | " + " | ".join(cols) + f" | {chosen} |")


def conditions(runs):
    """How the machine ran each row's measurements (graphc --bench, bench/pytorch_cnn.py and
    bench/jax_cnn.py record it per run): the cores the process used, median and range over its
    runs, the machine's median idle and stolen cores, and the median share of time some thread
    waited for a core. A slow run with the process's cores well below its thread count had
    threads that did not run; waiting above a few percent: other work competed."""
    rows = [(p, d) for p, d in runs if ("train_conditions" in d or "eval_conditions" in d) and not in_one_process(d)]
    if not rows:
        return
    print("\n| threads | run | cores used (min-max), idle, stolen, waiting: train b=8 | train b=64 | eval b=1024 |")
    print("|---|---|---|---|---|")
    order = {"pytorch": 0, "jax": 1, "graphc": 2}
    for p, d in sorted(rows, key=lambda r: (threads(r[1]), order[kind(r[1])], r[0])):
        cols = []
        for section, size in COLUMNS:
            cs = d.get(section + "_conditions", {}).get(size)
            if not cs:
                cols.append("-")
                continue
            own = [c["process"] for c in cs]
            idle = [c["idle"] for c in cs if c.get("idle") is not None]
            stolen = [c["stolen"] for c in cs if c.get("stolen") is not None]
            text = f"{statistics.median(own):.2f} ({min(own):.2f}-{max(own):.2f})"
            if idle:
                text += f", {statistics.median(idle):.2f}"
            if stolen:
                text += f", {statistics.median(stolen):.2f}"
            waiting = [c["waiting"] for c in cs if c.get("waiting") is not None]
            if waiting:
                text += f", {statistics.median(waiting):.2f}"
            cols.append(text)
        print(f"| {threads(d)} | {label(p, d)} | " + " | ".join(cols) + " |")


# A core round trip (bench/core_round_trip.c) above this many ns: the two vCPUs sat on different
# core complexes (AMD EPYC VM: 48-90 ns on one, 320-630 ns across).
FAR_NS = 200


def placement_of(before, after):
    """'near' or 'far' when the round trips before and after a process agree, else 'changed'
    (also used by bench/caption_compare.py and bench/placement_ab.py)."""
    return "far" if min(before, after) > FAR_NS else "near" if max(before, after) <= FAR_NS else "changed"


def placements(d):
    """Per round of a merged run, its process's placement (`placement_of`); None without
    round trips."""
    trips = d.get("core_round_trip_ns")
    if not trips:
        return None
    return [placement_of(t[0], t[1]) for t in trips]


def same_placement(d, ref, col):
    """(median ratio d / ref, rounds counted, rounds) over the rounds of column `col` in which
    both processes ran with the same placement (near or far, not changed); None when the runs
    lack round trips or no round qualifies."""
    mine, theirs = placements(d), placements(ref)
    a, b = figure(d, col), figure(ref, col)
    if not mine or not theirs or not a or not b or not (len(theirs) == len(mine) == len(a["runs"]) == len(b["runs"])):
        return None
    same = [x / y for x, y, pa, pb in zip(a["runs"], b["runs"], mine, theirs) if pa == pb != "changed"]
    return (statistics.median(same), len(same), len(mine)) if same else None


def placement(runs):
    """Where the host placed the vCPUs in each round, per run, and each run's paired ratios over
    PyTorch's counted only in rounds where both processes ran with the same placement (near or
    far, not changed): a round that put one framework on near cores and the other on far ones
    compares the host, not the frameworks."""
    rows = [(p, d) for p, d in runs if placements(d)]
    if not rows:
        return
    print(f"\n| threads | run | vCPU placement per round (core round trip > {FAR_NS} ns: far; the vCPUs' lower L3 rate, GB/s) | this run / PyTorch in rounds of the same placement: train b=8 | train b=64 | eval b=1024 |")
    print("|---|---|---|---|---|---|")
    torch = {threads(d): d for _, d in rows if kind(d) == "pytorch"}
    order = {"pytorch": 0, "jax": 1, "graphc": 2}
    for p, d in sorted(rows, key=lambda r: (threads(r[1]), order[kind(r[1])], r[0])):
        mine = placements(d)
        l3 = d.get("core_l3_gbs") or [None] * len(mine)
        trips = ", ".join(f"{c} ({t[0]:.0f}/{t[1]:.0f}" + (f"; L3 {r[0]:.0f}/{r[1]:.0f}" if r else "") + ")"
                          for c, t, r in zip(mine, d["core_round_trip_ns"], l3))
        cols = []
        ref = torch.get(threads(d))
        theirs = placements(ref) if ref else None
        for col in COLUMNS:
            a, b = figure(d, col), ref and figure(ref, col)
            if kind(d) == "pytorch" or not a or not b or not theirs or len(theirs) != len(mine) or len(a["runs"]) != len(mine) \
                    or len(b["runs"]) != len(mine):
                cols.append("-")
                continue
            same = same_placement(d, ref, col)
            cols.append(f"{same[0]:.2f}x ({same[1]} of {same[2]})" if same else "none")
        print(f"| {threads(d)} | {label(p, d)} | {trips} | " + " | ".join(cols) + " |")


def main(paths):
    if not paths:
        sys.exit("usage: compare.py RUN.json ...")
    runs = []
    for p in paths:
        with open(p) as f:
            d = json.load(f)
        # Not a run (the tuning cache bench/cnn.sh keeps beside the runs, OUT/tuning.json,
        # which OUT/*.json names too): left out, said on stderr.
        if not isinstance(d, dict) or "framework" not in d:
            print(f"compare.py: {p} is not a benchmark run (no 'framework'), left out", file=sys.stderr)
            continue
        # A process run alone (not merged from rounds by bench/merge_runs.py, as the
        # --bench-pairs run): its readings before and after as one round's.
        for key in ("core_round_trip_ns", "core_l3_gbs"):
            if d.get(key) and not isinstance(d[key][0], list):
                d[key] = [d[key]]
        runs.append((p, d))
    if not runs:
        sys.exit("compare.py: no benchmark runs among the files")
    torch = {threads(d): d for _, d in runs if kind(d) == "pytorch"}
    jax = {threads(d): d for _, d in runs if kind(d) == "jax"}
    order = {"pytorch": 0, "jax": 1, "graphc": 2}
    print("| threads | run | train b=8 img/s | train b=64 img/s | eval b=1024 img/s | peak RSS MB | graphc vs JAX (b=8 / b=64 / eval) |")
    print("|---|---|---|---|---|---|---|")
    for p, d in sorted(runs, key=lambda r: (threads(r[1]), order[kind(r[1])], r[0])):
        if in_one_process(d):
            continue
        t = threads(d)
        ref = None if kind(d) == "pytorch" else torch.get(t)
        cols = [cell(figure(d, c), ref and figure(ref, c)) for c in COLUMNS]
        rss = f"{d['peak_rss_mb']:.0f}"
        if ref:
            rss += f" ({d['peak_rss_mb'] / ref['peak_rss_mb']:.2f}x)"
        print(f"| {t} | {label(p, d)} | " + " | ".join(cols) + f" | {rss} | {against(d, jax.get(t))} |")
    if torch:
        print("\nBold: the run's median divided by PyTorch's at the same thread count (higher is faster; for RSS lower is smaller);"
              " paired: the median of the rounds' own ratios (each round ran every process once).")
    fused_vs_unfused(runs)
    conditions(runs)
    placement(runs)
    for t, d in sorted(jax.items()):
        s = d.get("thread_setup", {})
        print(f"JAX at {t} thread(s): CPU affinity {s.get('cpu_affinity')}, XLA_FLAGS '{s.get('XLA_FLAGS', '')}'.")


if __name__ == "__main__":
    main(sys.argv[1:])
