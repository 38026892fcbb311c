"""How the machine ran a timed benchmark run, reported the same way by graphc --bench
(Bench.RunConditions), bench/pytorch_cnn.py and bench/jax_cnn.py, so that bench/compare.py
can tell a slow run whose threads did not all run (this process's cores below its thread
count; the machine idle, or its cores stolen by the host on a virtual machine) from one
whose threads ran slowly, and (Linux's CPU pressure) whether other work competed for the cores."""
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


def waiting_seconds():
    """Seconds some thread of any process waited for a core since boot (the "some" total of
    /proc/pressure/cpu, in microseconds there); None where Linux does not report it."""
    try:
        with open("/proc/pressure/cpu") as f:
            for line in f:
                if line.startswith("some "):
                    return int(line.split("total=")[1].split()[0]) * 1e-6
    except (OSError, ValueError, IndexError):
        return None
    return None


def meter():
    """Starts measuring; the function returned gives the seconds since and how the machine ran
    meanwhile, as graphc reports it (Bench.RunConditions): this process's cores (CPU seconds
    per wall second), the machine's idle and stolen cores, and the share of the time some
    thread waited for a core."""
    m0, w0, c0, t0 = machine_times(), waiting_seconds(), time.process_time(), time.perf_counter()

    def read():
        wall = time.perf_counter() - t0
        cond = {"process": (time.process_time() - c0) / wall}
        m1, w1 = machine_times(), waiting_seconds()
        if m0 and m1:
            cond["idle"], cond["stolen"] = (m1[0] - m0[0]) / wall, (m1[1] - m0[1]) / wall
        if w0 is not None and w1 is not None:
            cond["waiting"] = max(w1 - w0, 0) / wall
        return wall, cond
    return read


def timed(run):
    """run()'s seconds and how the machine ran meanwhile (see meter)."""
    read = meter()
    run()
    return read()
