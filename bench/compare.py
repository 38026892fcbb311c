#!/usr/bin/env python3
"""Reads the JSON lines bench/cnn.sh collected (graphc --bench and bench/pytorch_cnn.py) and
prints a Markdown table: medians with min-max spread, and each graphc figure as a ratio of
PyTorch's at the same thread count."""
import json, os, sys


def label(path, d):
    name = os.path.basename(path)[:-5]
    if d["framework"].startswith("pytorch"):
        return d["framework"]
    kind = "graphc unfused" if "unfused" in name else "graphc"
    return f"{kind} (OpenBLAS {d['blas_core']})"


def threads(d):
    t = d["threads"]
    return max(t.values()) if isinstance(t, dict) else t


def cell(s, ref=None):
    text = f"{s['median']:.0f} ({s['min']:.0f}-{s['max']:.0f})"
    if ref:
        text += f" **{s['median'] / ref['median']:.2f}x**"
    return text


def main(paths):
    runs = []
    for p in paths:
        with open(p) as f:
            runs.append((p, json.load(f)))
    torch = {threads(d): d for p, d in runs if d["framework"].startswith("pytorch")}
    print("| threads | run | train b=8 img/s | train b=64 img/s | eval b=1024 img/s | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for p, d in sorted(runs, key=lambda r: (threads(r[1]), not r[1]["framework"].startswith("pytorch"), r[0])):
        t = threads(d)
        ref = None if d["framework"].startswith("pytorch") else torch.get(t)
        cols = [cell(d["train"]["8"], ref and ref["train"]["8"]), cell(d["train"]["64"], ref and ref["train"]["64"]),
                cell(d["eval"]["1024"], ref and ref["eval"]["1024"])]
        rss = f"{d['peak_rss_mb']:.0f}"
        if ref:
            rss += f" ({d['peak_rss_mb'] / ref['peak_rss_mb']:.2f}x)"
        print(f"| {t} | {label(p, d)} | " + " | ".join(cols) + f" | {rss} |")


if __name__ == "__main__":
    main(sys.argv[1:])
