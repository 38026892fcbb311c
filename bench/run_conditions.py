"""How the machine ran a timed benchmark run, reported the same way by graphc --bench
(Bench.RunConditions), bench/pytorch_cnn.py and bench/jax_cnn.py, so that bench/compare.py
can tell a slow run whose threads did not all run (this process's cores below its thread
count; the machine idle, or its cores stolen by the host on a virtual machine) from one
whose threads ran slowly."""
import os
import time


def machine_times():
    """The machine's idle and stolen CPU seconds so far, from /proc/stat (None elsewhere)."""
    try:
        with open("/proc/stat") as f:
            fields = [float(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    if len(fields) < 8:  # a kernel without steal time
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return (fields[3] + fields[4]) / tick, fields[7] / tick


def timed(run):
    """run()'s seconds and how the machine ran meanwhile, as graphc --bench reports it: this
    process's cores (CPU seconds per wall second), the machine's idle and stolen cores."""
    m0, c0, t0 = machine_times(), time.process_time(), time.perf_counter()
    run()
    wall = time.perf_counter() - t0
    cond = {"process": (time.process_time() - c0) / wall}
    m1 = machine_times()
    if m0 and m1:
        cond["idle"], cond["stolen"] = (m1[0] - m0[0]) / wall, (m1[1] - m0[1]) / wall
    return wall, cond
