#!/usr/bin/env python3
"""Reads the runs bench/caption_bench.sh collected in one folder and prints a Markdown table:
per decoder and thread count, the median (min-max) over the repeats of one training epoch's
seconds and of the greedy decoding of the validation set, for graphc and PyTorch, and the
ratio torch/graphc of the medians (above 1: graphc is faster).

Files (one per run, r = repeat number):
  graphc-<decoder>-t<threads>-r<r>.json   graphc's metrics.json of a --train --epochs 1 run
  graphc_unfused-<decoder>-t<threads>-r<r>.json   the same with --fusion off (UNFUSED=1)
  torch-<decoder>-t<threads>-r<r>.json    bench/caption_torch.py's stdout (JSON lines)
  load-<decoder>-t<threads>.txt           /proc/loadavg before and after that group's runs
  trips-<decoder>-t<threads>-r<r>.txt     the vCPUs' core round trip (ns) around each process
                                          of repeat r, in run order (bench/core_round_trip.c)
  l3-<decoder>-t<threads>-r<r>.txt        the lower of the vCPUs' L3 rates (GB/s) at the same
                                          times (bench/core_speed.c)

    python3 bench/caption_compare.py bench/out/captions
"""
import json, os, re, statistics, sys

from compare import FAR_NS, placement_of

NAME = re.compile(r"^(graphc|graphc_unfused|torch)-([a-z]+)-t(\d+)-r(\d+)\.json$")
DECODERS = {"lstm": "vanilla LSTM", "attention": "attention"}


def read_graphc(path):
    with open(path) as f:
        m = json.load(f)
    e = m["epochs"][0]
    s = m.get("settings", {})
    return {"epoch": e["seconds"], "decode": e["decode_seconds"], "core": s.get("blas_core", "?"),
            "loss": e["train_loss"], "bleu": e["val_bleu4"], "conditions": e.get("conditions")}


def read_torch(path):
    with open(path) as f:
        lines = [json.loads(l) for l in f if l.startswith("{")]
    e = next(l for l in lines if "epoch" in l)
    summary = lines[-1]
    images = round(e["decode_seconds"] / e["decode_seconds_per_image"]) if e.get("decode_seconds_per_image") else None
    tokens = e["decoded_tokens"] / images if images and "decoded_tokens" in e else None
    return {"epoch": e["seconds"], "decode": e["decode_seconds"], "framework": summary.get("framework", "torch"),
            "loss": e["train_loss"], "bleu": e["val_bleu4"], "tokens": tokens, "conditions": e.get("conditions")}


def stats(xs):
    return statistics.median(xs), min(xs), max(xs)


def cell(xs):
    m, lo, hi = stats(xs)
    return f"{m:.2f} ({lo:.2f}-{hi:.2f})" if m < 10 else f"{m:.1f} ({lo:.1f}-{hi:.1f})"


def run_conditions(runs, order):
    """Each training epoch in run order with how the machine ran it (graphc and
    bench/caption_torch.py record it): seconds, the cores the process used, the machine's
    stolen cores and the share of time some thread waited for a core. A slow epoch with fewer
    cores used, or with waiting above a few percent, ran on a busier machine."""
    rows = []
    for (decoder, threads), sides in sorted(runs.items(), key=lambda kv: (order.index(kv[0][0]) if kv[0][0] in order else 99, kv[0][1])):
        for side in ("graphc", "graphc_unfused", "torch"):
            xs = [r for r in sides.get(side, []) if r.get("conditions")]
            if not xs:
                continue
            def one(r):
                c = r["conditions"]
                text = f"{r['epoch']:.2f} s @ {c['process']:.2f}"
                if c.get("stolen") is not None:
                    text += f", stolen {c['stolen']:.2f}"
                if c.get("waiting") is not None:
                    text += f", waiting {c['waiting']:.2f}"
                return text
            rows.append(f"| {DECODERS.get(decoder, decoder)} | {threads} | {side} | " + "; ".join(one(r) for r in xs) + " |")
    if rows:
        print("\n| decoder | threads | run | each epoch in run order: seconds @ cores used, stolen cores, share of time a thread waited for a core |")
        print("|---|---|---|---|")
        print("\n".join(rows))


def read_around(folder, prefix, decoder, threads, repeats, unfused, judge):
    """Per repeat, `judge(before, after)` of the readings around graphc's, graphc --fusion
    off's (when run) and PyTorch's process, from OUT/<prefix>-<decoder>-t<threads>-r<r>.txt (one
    reading per line, in run order), or None when a repeat's file is missing or short."""
    sides = ["graphc"] + (["graphc_unfused"] if unfused else []) + ["torch"]
    out = []
    for r in range(1, repeats + 1):
        path = os.path.join(folder, f"{prefix}-{decoder}-t{threads}-r{r}.txt")
        try:
            with open(path) as f:
                readings = [float(l) for l in f if l.strip()]
        except (OSError, ValueError):
            return None
        if len(readings) != len(sides) + 1:
            return None
        out.append({side: judge(readings[i], readings[i + 1]) for i, side in enumerate(sides)})
    return out


def read_placements(folder, decoder, threads, repeats, unfused):
    """Per repeat, the placement of each process from the core round trips around it."""
    return read_around(folder, "trips", decoder, threads, repeats, unfused, placement_of)


def by_placement(folder, runs, order):
    """Each decoder's epochs by the vCPUs' placement around each process (near, far, changed
    while it ran), graphc's and PyTorch's medians per placement, and the ratio torch/graphc over
    the repeats in which both ran near or both far: a repeat that put one on near cores and the
    other on far ones compares the host, not the frameworks."""
    rows = []
    for (decoder, threads), sides in sorted(runs.items(), key=lambda kv: (order.index(kv[0][0]) if kv[0][0] in order else 99, kv[0][1])):
        g, t = sides.get("graphc", []), sides.get("torch", [])
        if not g or len(g) != len(t):
            continue
        places = read_placements(folder, decoder, threads, len(g), bool(sides.get("graphc_unfused")))
        if not places:
            continue
        def medians(xs, side):
            parts = []
            for where in ("near", "far", "changed"):
                ys = [x["epoch"] for x, p in zip(xs, places) if p[side] == where]
                if ys:
                    parts.append(f"{where} {statistics.median(ys):.2f} ({len(ys)})")
            return ", ".join(parts)
        same = [b["epoch"] / a["epoch"] for a, b, p in zip(g, t, places) if p["graphc"] == p["torch"] != "changed"]
        ratio = f"{statistics.median(same):.2f}x ({len(same)} of {len(g)})" if same else "none"
        l3 = read_around(folder, "l3", decoder, threads, len(g), bool(sides.get("graphc_unfused")), min)
        rates = " / ".join(f"{x['graphc']:.0f}, {x['torch']:.0f}" for x in l3) if l3 else "-"
        rows.append(f"| {DECODERS.get(decoder, decoder)} | {threads} | {medians(g, 'graphc')} | {medians(t, 'torch')} | {ratio} | {rates} |")
    if rows:
        print(f"\n| decoder | threads | graphc epoch s by placement (runs) | PyTorch epoch s by placement (runs) | torch/graphc, both near or both far"
              " | lowest L3 GB/s around graphc, PyTorch, per repeat |")
        print("|---|---|---|---|---|---|")
        print("\n".join(rows))
        print(f"\nPlacement: the core round trip before and after the process (bench/core_round_trip.c): near when both are at most {FAR_NS} ns,"
              " far when both are above, changed otherwise. L3: the lower of the two vCPUs' L3 rates before and after the process"
              " (bench/core_speed.c); about half its usual value when other guests load the shared L3.")


def main(folder):
    runs = {}
    # In run order (r2 before r10), so that the i-th runs of graphc and PyTorch, made one after
    # the other (bench/caption_bench.sh), pair up.
    names = [(m, name) for name in os.listdir(folder) if (m := NAME.match(name))]
    for m, name in sorted(names, key=lambda mn: (mn[0].group(1), mn[0].group(2), int(mn[0].group(3)), int(mn[0].group(4)))):
        side, decoder, threads = m.group(1), m.group(2), int(m.group(3))
        read = read_torch if side == "torch" else read_graphc
        try:
            runs.setdefault((decoder, threads), {}).setdefault(side, []).append(read(os.path.join(folder, name)))
        except (OSError, ValueError, KeyError, StopIteration) as err:
            sys.exit(f"caption_compare.py: {os.path.join(folder, name)}: not a finished run ({err})")
    if not runs:
        sys.exit(f"caption_compare.py: no runs in {folder}")
    cores, frameworks = set(), set()
    print("| decoder | threads | graphc epoch s | PyTorch epoch s | epoch torch/graphc | graphc val decode s | PyTorch val decode s | decode torch/graphc | runs | load (before / after) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    order = list(DECODERS)
    for (decoder, threads) in sorted(runs, key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[1])):
        g, t = runs[(decoder, threads)].get("graphc", []), runs[(decoder, threads)].get("torch", [])
        cores.update(r["core"] for r in g)
        frameworks.update(r["framework"] for r in t)
        cols = []
        for key in ("epoch", "decode"):
            gx, tx = [r[key] for r in g], [r[key] for r in t]
            ratio = f"**{statistics.median(tx) / statistics.median(gx):.2f}x**" if gx and tx else "-"
            if gx and len(gx) == len(tx) > 1:
                ratio += f" (paired {statistics.median(b / a for a, b in zip(gx, tx)):.2f}x)"
            cols += [cell(gx) if gx else "-", cell(tx) if tx else "-", ratio]
        load = "-"
        path = os.path.join(folder, f"load-{decoder}-t{threads}.txt")
        if os.path.exists(path):
            with open(path) as f:
                load = " / ".join(l.split()[0] for l in f if l.strip())
        print(f"| {DECODERS.get(decoder, decoder)} | {threads} | " + " | ".join(cols) + f" | {len(g)} + {len(t)} | {load} |")
    print()
    print("Seconds: median (min-max) over the runs; ratios are PyTorch's median over graphc's (above 1: graphc faster);"
          " paired: the median of each run's own ratio (graphc's and PyTorch's i-th runs ran one after the other).")
    print(f"graphc's OpenBLAS core: {', '.join(sorted(cores)) or '?'}; PyTorch: {', '.join(sorted(frameworks)) or '-'} (its own kernels, not OpenBLAS).")
    losses = []
    for (decoder, threads), sides in sorted(runs.items()):
        for side in ("graphc", "torch"):
            xs = sides.get(side, [])
            if xs:
                losses.append(f"{decoder} t{threads} {side} {statistics.median(r['loss'] for r in xs):.3f}/{statistics.median(r['bleu'] for r in xs):.3f}")
    print("Sanity (epoch-1 train loss / val BLEU-4, medians): " + "; ".join(losses) + ".")
    unfused = [(k, v) for k, v in sorted(runs.items(), key=lambda kv: (order.index(kv[0][0]) if kv[0][0] in order else 99, kv[0][1]))
               if v.get("graphc_unfused") and v.get("graphc")]
    if unfused:
        print("\n| decoder | threads | graphc unfused epoch s | fused epoch s | fused speed-up | unfused val decode s | runs |")
        print("|---|---|---|---|---|---|---|")
        for (decoder, threads), sides in unfused:
            u, f = [r["epoch"] for r in sides["graphc_unfused"]], [r["epoch"] for r in sides["graphc"]]
            print(f"| {DECODERS.get(decoder, decoder)} | {threads} | {cell(u)} | {cell(f)} | **{statistics.median(u) / statistics.median(f):.2f}x** | "
                  f"{cell([r['decode'] for r in sides['graphc_unfused']])} | {len(u)} |")
        print("\nUnfused: `--fusion off` (no contract, hoist or fusion passes on the training graph; buffers planned as in the fused run; the decoding graph is the same in both).")
    run_conditions(runs, order)
    by_placement(folder, runs, order)
    lengths = [f"{d} t{t} {statistics.median(r['tokens'] for r in sides['torch']):.1f}" for (d, t), sides in sorted(runs.items())
               if sides.get("torch") and all(r["tokens"] is not None for r in sides["torch"])]
    if lengths:
        print("PyTorch's greedy loop stops at <end_seq>: words generated per validation image (medians): " + "; ".join(lengths)
              + ". graphc's inference graph always runs all maxLen (22) steps.")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: caption_compare.py RUNS_FOLDER")
    main(sys.argv[1])
