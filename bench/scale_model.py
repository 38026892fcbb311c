#!/usr/bin/env python3
"""The ring all-reduce model of docs/scale-out.md: per-step communication of N data-parallel
ranks against per-step compute, on 10, 25 and 100 Gb/s links.

A ring all-reduce of P bytes moves 2 (N-1)/N x P bytes in and out of every rank in 2 (N-1)
messages, so a step's communication takes t_comm = 2 (N-1)/N x P / bandwidth + 2 (N-1) x alpha
(alpha: per-message latency). Compute per step comes from bench/scale.sh (1 rank x 1 thread)
given on the command line as name=MB:seconds_per_step_at_batch[:batch].

  python3 bench/scale_model.py cnn8=3.08:0.0021:8 cnn64=3.08:0.0122:64 ...
"""
import sys

LINKS = [10, 25, 100]          # Gb/s
RANKS = [2, 4, 8, 16, 32, 64]
ALPHA = 30e-6                  # s per message over TCP (a typical Ethernet round of a small message)


def comm(mb, n, gbps):
    return 2 * (n - 1) / n * mb * 1e6 / (gbps * 1e9 / 8) + 2 * (n - 1) * ALPHA


def main(args):
    models = []
    for a in args:
        name, rest = a.split("=")
        parts = rest.split(":")
        models.append((name, float(parts[0]), float(parts[1]), int(parts[2]) if len(parts) > 2 else 0))

    print("All-reduce time per step, ms (ring, alpha = %d us):\n" % (ALPHA * 1e6))
    print("| model | parameters | link | " + " | ".join("N=%d" % n for n in RANKS) + " |")
    print("|---|---|---|" + "---|" * len(RANKS))
    seen = set()
    for name, mb, _, _ in models:
        if mb in seen:
            continue
        seen.add(mb)
        for g in LINKS:
            print("| %s | %.1f MB | %d Gb/s | " % (name, mb, g) + " | ".join("%.2f" % (comm(mb, n, g) * 1e3) for n in RANKS) + " |")

    print("\nWeak scaling (each rank keeps its batch; global batch N x b): efficiency = compute / step time,")
    print("no overlap (step = compute + all-reduce) / perfect overlap (step = max of the two):\n")
    print("| model, batch per rank | compute ms/step | link | " + " | ".join("N=%d" % n for n in RANKS) + " |")
    print("|---|---|---|" + "---|" * len(RANKS))
    for name, mb, t, b in models:
        for g in LINKS:
            cells = []
            for n in RANKS:
                c = comm(mb, n, g)
                cells.append("%.0f%% / %.0f%%" % (100 * t / (t + c), 100 * t / max(t, c)))
            print("| %s, %d | %.1f | %d Gb/s | " % (name, b, t * 1e3, g) + " | ".join(cells) + " |")

    print("\nStrong scaling (global batch fixed, split over N ranks, compute t/N, no overlap): speedup over one rank,")
    print("and the N (powers of two up to 64 that divide the batch) with the best speedup:\n")
    print("| model, global batch | link | " + " | ".join("N=%d" % n for n in RANKS) + " | best N |")
    print("|---|---|" + "---|" * len(RANKS) + "---|")
    for name, mb, t, b in models:
        for g in LINKS:
            # N must divide the global batch (graphc refuses the rest): '-' where it does not.
            speed = [t / (t / n + comm(mb, n, g)) if b % n == 0 else None for n in RANKS]
            possible = [i for i in range(len(RANKS)) if speed[i] is not None]
            best = max(possible, key=lambda i: speed[i])
            best_n = RANKS[best] if speed[best] > 1 else 1
            print("| %s, %d | %d Gb/s | " % (name, b, g) + " | ".join("-" if s is None else "%.2f" % s for s in speed) + " | %d |" % best_n)


if __name__ == "__main__":
    main(sys.argv[1:])
