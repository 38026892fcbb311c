"""Joins the JSON of several one-run `graphc --bench` processes (one per round, see
bench/cnn.sh) into one, as if one process had made every run: each measurement's runs in
round order, their median, min and max, and the machine's conditions during each (cores used by
the process, idle, stolen) and the core round trip before and after it; the largest peak RSS;
the rest from the first round.
Usage: merge_runs.py ROUND.json ... > MERGED.json"""
import json
import statistics
import sys


def main(paths):
    if not paths:
        sys.exit("usage: merge_runs.py ROUND.json ...")
    rounds = []
    for p in paths:
        with open(p) as f:
            rounds.append(json.load(f))
    merged = dict(rounds[0])
    for section in ("train", "eval"):
        sizes = rounds[0].get(section, {})
        merged[section] = {}
        for size in sizes:
            runs = [x for d in rounds for x in d[section][size]["runs"]]
            merged[section][size] = {"runs": runs, "median": statistics.median(runs), "min": min(runs), "max": max(runs)}
    # How the machine ran each run (process, idle and stolen cores), in the same order as the runs.
    for section in ("train_conditions", "eval_conditions"):
        if section in rounds[0]:
            merged[section] = {size: [c for d in rounds for c in d.get(section, {}).get(size, [])] for size in rounds[0][section]}
    # Where the host had placed the vCPUs before and after each round's process, and the lower
    # of their L3 rates then (bench/cnn.sh).
    for key in ("core_round_trip_ns", "core_l3_gbs"):
        if all(key in d for d in rounds):
            merged[key] = [d[key] for d in rounds]
        else:
            merged.pop(key, None)
    merged["peak_rss_mb"] = max(d["peak_rss_mb"] for d in rounds)
    if "train_ms_per_step" in rounds[0]:
        merged["train_ms_per_step"] = {b: statistics.median(d["train_ms_per_step"][b] for d in rounds)
                                       for b in rounds[0]["train_ms_per_step"]}
    json.dump(merged, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
