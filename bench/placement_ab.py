"""bench/placement_ab.sh's two halves in Python.

--parse LOG LABEL BEFORE AFTER: one process's `graphc --bench --profile` output as a JSON line.
FILE...: medians per variant and placement (far: both round trips above 200 ns; near: both
below; changed: one of each), for the step and for every node among the profile's slowest.
"""
import json
import re
import statistics
import sys

from compare import placement_of

def parse(log, label, before, after):
    text = open(log).read()
    training = text.split("profile: training", 1)[1].split("profile: evaluation", 1)[0] if "profile: training" in text else ""
    rate = re.search(r"train batch\s+\d+, \d+ threads?:\s+(\d+) images/s.*?([\d.]+) ms/step", text)
    nodes, kinds = {}, {}
    if "slowest nodes:" in training:
        for line in training.split("slowest nodes:", 1)[1].split("a training step", 1)[0].splitlines():
            m = re.match(r"\s+([\d.]+) ms\s+[\d.]+%\s+\d+× (%\d+) (\S+)", line)
            if m:
                nodes[m.group(2) + " " + m.group(3)] = float(m.group(1))
    if "per op kind" in training:
        for line in training.split("per op kind", 1)[1].split("slowest nodes", 1)[0].splitlines()[1:]:
            m = re.match(r"\s+([\d.]+) ms\s+[\d.]+%\s+\d+× (\S+)", line)
            if m:
                kinds[m.group(2)] = float(m.group(1))
    print(json.dumps({"label": label, "before": int(before), "after": int(after),
                      "img_s": int(rate.group(1)) if rate else None, "ms": float(rate.group(2)) if rate else None,
                      "nodes": nodes, "kinds": kinds}))


def placement(row):
    return placement_of(row["before"], row["after"])


def summary(files):
    rows = [json.loads(line) for f in files for line in open(f) if line.strip()]
    groups = {}
    for row in rows:
        if row["ms"] is not None:
            groups.setdefault((row["label"], placement(row)), []).append(row)
    keys = sorted(groups)
    print("%-30s" % "", *["%14s" % (label + "/" + where) for label, where in keys])
    print("%-30s" % "processes", *["%14d" % len(groups[k]) for k in keys])
    print("%-30s" % "ms per step", *["%14.3f" % statistics.median(r["ms"] for r in groups[k]) for k in keys])
    for node in sorted({n for r in rows for n in r["nodes"]}, key=lambda n: int(n.split()[0][1:])):
        cells = []
        for k in keys:
            values = [r["nodes"][node] for r in groups[k] if node in r["nodes"]]
            cells.append("%14.3f" % statistics.median(values) if values else "%14s" % "-")
        print("%-30s" % node[:30], *cells)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--parse":
        parse(*sys.argv[2:])
    elif len(sys.argv) > 1:
        summary(sys.argv[1:])
    else:
        sys.exit(__doc__)
