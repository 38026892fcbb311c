#!/usr/bin/env python3
"""PyTorch side of the Q2 CNN benchmark: the homework's network, trained with SGD on random
images shaped like Fashion-MNIST, timed the way bench/cnn.sh times graphc.

Prints one JSON object: images/s for training at each batch size and evaluation at the eval
batch size (median and spread over --repeats runs), how the machine ran each run (this
process's cores, idle and stolen cores), peak RSS, and the torch/thread setup.
"""
import argparse, json, resource, statistics, time

import torch
import torch.nn as nn

from run_conditions import timed


def homework_cnn(dropout=0.3):
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(16, 32, 3, 1, 0), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Linear(1152, 600), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(600, 120), nn.ReLU(), nn.Linear(120, 10), nn.LogSoftmax(dim=1))


def train_rate(model, batch, steps, warmup):
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.rand(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    model.train()
    loss_fn = nn.NLLLoss()
    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    for _ in range(warmup):
        step()
    wall, cond = timed(lambda: [step() for _ in range(steps)])
    return batch * steps / wall, cond


def eval_rate(model, batch, steps, warmup):
    x = torch.rand(batch, 1, 28, 28)
    model.eval()
    with torch.no_grad():
        for _ in range(warmup):
            model(x).argmax(1)
        wall, cond = timed(lambda: [model(x).argmax(1) for _ in range(steps)])
    return batch * steps / wall, cond


def summary(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": xs}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0, help="approximate time per measurement")
    ap.add_argument("--train-batches", default="8,64")
    ap.add_argument("--eval-batch", type=int, default=1024)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    model = homework_cnn()
    out = {"framework": f"pytorch {torch.__version__}", "threads": torch.get_num_threads(), "train": {}, "eval": {}}
    out["train_conditions"], out["eval_conditions"] = {}, {}
    for b in [int(s) for s in a.train_batches.split(",")]:
        probe = train_rate(model, b, 20, 5)[0]
        steps = max(20, int(a.seconds * probe / b))
        runs = [train_rate(model, b, steps, 5) for _ in range(a.repeats)]
        out["train"][str(b)] = summary([r for r, _ in runs])
        out["train_conditions"][str(b)] = [c for _, c in runs]
    probe = eval_rate(model, a.eval_batch, 2, 1)[0]
    steps = max(3, int(a.seconds * probe / a.eval_batch))
    runs = [eval_rate(model, a.eval_batch, steps, 1) for _ in range(a.repeats)]
    out["eval"][str(a.eval_batch)] = summary([r for r, _ in runs])
    out["eval_conditions"][str(a.eval_batch)] = [c for _, c in runs]
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
