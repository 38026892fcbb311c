#!/usr/bin/env python3
"""JAX side of the Q2 CNN benchmark: the homework's network (as bench/pytorch_cnn.py and
graphs/cnn.swiftgraph) in jax.numpy / jax.lax, one jit-compiled SGD step (lr 0.01, dropout 0.3),
trained on random images shaped like Fashion-MNIST and timed the way bench/cnn.sh times graphc.

Prints one JSON object in pytorch_cnn.py's format: images/s for training at each batch size and
evaluation at the eval batch size (median and spread over --repeats runs), peak RSS, and how the
threads were limited ("thread_setup").

Threads: XLA has no thread-count option for its CPU client (jax 0.10). Its thread pool is sized
from the CPUs the process may run on, so --threads N restricts this process's CPU affinity to N
cores before jax is imported (Linux sched_setaffinity), and for one thread also sets
XLA_FLAGS=--xla_cpu_multi_thread_eigen=false (single-threaded Eigen matrix products and
convolutions). Both are recorded in the output.

Layout is NHWC with HWIO kernels (XLA:CPU's native convolution layout); the flatten order
therefore differs from PyTorch's NCHW, which changes nothing in the work done.
"""
import argparse, json, os, resource, statistics, sys, time

from run_conditions import timed


def limit_threads(threads):
    """Must run before `import jax`: the CPU client reads affinity and XLA_FLAGS once."""
    setup = {}
    cpus = sorted(os.sched_getaffinity(0))
    if threads < len(cpus):
        os.sched_setaffinity(0, cpus[:threads])
    setup["cpu_affinity"] = sorted(os.sched_getaffinity(0))
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false").strip()
    setup["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "")
    return setup


def build(jax, jnp, lax):
    """Parameters, a jitted SGD training step and a jitted evaluation forward."""

    def uniform(key, shape, fan_in):
        # PyTorch's default Linear/Conv2d initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        bound = 1.0 / fan_in ** 0.5
        return jax.random.uniform(key, shape, jnp.float32, -bound, bound)

    def init(key):
        k = jax.random.split(key, 10)
        return {
            "c1w": uniform(k[0], (3, 3, 1, 16), 9), "c1b": uniform(k[1], (16,), 9),
            "c2w": uniform(k[2], (3, 3, 16, 32), 144), "c2b": uniform(k[3], (32,), 144),
            "l1w": uniform(k[4], (1152, 600), 1152), "l1b": uniform(k[5], (600,), 1152),
            "l2w": uniform(k[6], (600, 120), 600), "l2b": uniform(k[7], (120,), 600),
            "l3w": uniform(k[8], (120, 10), 120), "l3b": uniform(k[9], (10,), 120),
        }

    dims = ("NHWC", "HWIO", "NHWC")

    def conv(x, w, b, padding):
        return lax.conv_general_dilated(x, w, (1, 1), padding, dimension_numbers=dims) + b

    def pool(x):
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    def forward(p, x, dropout_key):
        x = pool(jax.nn.relu(conv(x, p["c1w"], p["c1b"], "SAME")))       # [B, 14, 14, 16]
        x = pool(jax.nn.relu(conv(x, p["c2w"], p["c2b"], "VALID")))      # [B, 6, 6, 32]
        x = x.reshape(x.shape[0], -1)                                    # [B, 1152]
        x = jax.nn.relu(x @ p["l1w"] + p["l1b"])
        if dropout_key is not None:  # inverted dropout, p = 0.3, as nn.Dropout in training
            keep = jax.random.bernoulli(dropout_key, 0.7, x.shape)
            x = jnp.where(keep, x / 0.7, 0.0)
        x = jax.nn.relu(x @ p["l2w"] + p["l2b"])
        return jax.nn.log_softmax(x @ p["l3w"] + p["l3b"], axis=1)

    def loss(p, x, y, key):
        logp = forward(p, x, key)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    def sgd_step(p, x, y, key, lr=0.01):
        key, sub = jax.random.split(key)
        g = jax.grad(loss)(p, x, y, sub)
        return jax.tree_util.tree_map(lambda w, dw: w - lr * dw, p, g), key

    train = jax.jit(sgd_step, donate_argnums=(0,))
    evaluate = jax.jit(lambda p, x: jnp.argmax(forward(p, x, None), axis=1))
    return init, train, evaluate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0, help="approximate time per measurement")
    ap.add_argument("--train-batches", default="8,64")
    ap.add_argument("--eval-batch", type=int, default=1024)
    a = ap.parse_args()
    if a.threads < 1:
        sys.exit("jax_cnn.py: --threads must be at least 1")
    setup = limit_threads(a.threads)

    import jax
    import jax.numpy as jnp
    from jax import lax

    init, train, evaluate = build(jax, jnp, lax)
    state = {"params": init(jax.random.PRNGKey(42)), "key": jax.random.PRNGKey(0)}

    def train_rate(batch, steps, warmup):
        kx, ky = jax.random.split(jax.random.PRNGKey(batch))
        x = jax.random.uniform(kx, (batch, 28, 28, 1), jnp.float32)
        y = jax.random.randint(ky, (batch,), 0, 10)
        p, key = state["params"], state["key"]
        for _ in range(warmup):
            p, key = train(p, x, y, key)
        jax.block_until_ready(p)

        def run():
            nonlocal p, key
            for _ in range(steps):
                p, key = train(p, x, y, key)
            jax.block_until_ready(p)
        elapsed, cond = timed(run)
        state["params"], state["key"] = p, key
        return batch * steps / elapsed, cond

    def eval_rate(batch, steps, warmup):
        x = jax.random.uniform(jax.random.PRNGKey(7), (batch, 28, 28, 1), jnp.float32)
        for _ in range(warmup):
            evaluate(state["params"], x).block_until_ready()
        elapsed, cond = timed(lambda: [evaluate(state["params"], x).block_until_ready() for _ in range(steps)])
        return batch * steps / elapsed, cond

    def summary(xs):
        return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": xs}

    out = {"framework": f"jax {jax.__version__}", "threads": a.threads, "train": {}, "eval": {}}
    out["train_conditions"], out["eval_conditions"] = {}, {}
    for b in [int(s) for s in a.train_batches.split(",")]:
        probe = train_rate(b, 20, 5)[0]  # the first call also compiles this batch size
        steps = max(20, int(a.seconds * probe / b))
        runs = [train_rate(b, steps, 5) for _ in range(a.repeats)]
        out["train"][str(b)] = summary([r for r, _ in runs])
        out["train_conditions"][str(b)] = [c for _, c in runs]
    probe = eval_rate(a.eval_batch, 2, 1)[0]
    steps = max(3, int(a.seconds * probe / a.eval_batch))
    runs = [eval_rate(a.eval_batch, steps, 1) for _ in range(a.repeats)]
    out["eval"][str(a.eval_batch)] = summary([r for r, _ in runs])
    out["eval_conditions"][str(a.eval_batch)] = [c for _, c in runs]
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["thread_setup"] = setup
    out["os_threads"] = len(os.listdir("/proc/self/task"))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
