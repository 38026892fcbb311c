#!/usr/bin/env python3
"""PyTorch and onnxruntime side of bench/encoder.sh: ResNet-18 without avgpool and fc (the
plain-torch network of Tests/RuntimeTests/Fixtures/make_resnet18_reference.py, torchvision's
architecture), eval mode, one 500x500 image at a time as the homework's feature extraction
does. onnxruntime runs the same network exported to ONNX (all graph optimisations on, its
NCHWc convolutions included). Prints one JSON line per framework: seconds per image (median of
the images after two warm-ups, with min and max) and threads.

    python3 bench/encoder_frameworks.py --threads 2 --images 20 [--frameworks torch,onnxruntime]
"""
import argparse, json, os, statistics, sys, tempfile, time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "RuntimeTests", "Fixtures"))
from make_resnet18_reference import ResNet18Features  # noqa: E402

WARMUP = 2


def timed(run, images):
    times = []
    for i in range(images + WARMUP):
        x = np.random.default_rng(i).standard_normal((1, 3, 500, 500), dtype=np.float32)
        t0 = time.perf_counter()
        run(x)
        if i >= WARMUP:
            times.append(time.perf_counter() - t0)
    return {"seconds_per_image": statistics.median(times), "min": min(times), "max": max(times), "images": images}


def bench_torch(model, threads, images):
    torch.set_num_threads(threads)
    with torch.no_grad():
        r = timed(lambda x: model(torch.from_numpy(x)), images)
    return {"framework": "torch " + torch.__version__, "threads": threads, **r}


def bench_onnxruntime(model, threads, images):
    import onnxruntime as ort
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "resnet18.onnx")
        torch.onnx.export(model, (torch.zeros(1, 3, 500, 500),), path, input_names=["image"], output_names=["features"],
                          opset_version=17, dynamo=False)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        r = timed(lambda x: session.run(None, {"image": x}), images)
    return {"framework": "onnxruntime " + ort.__version__, "threads": threads, **r}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--frameworks", default="torch,onnxruntime")
    a = p.parse_args()
    model = ResNet18Features().eval()
    for name in a.frameworks.split(","):
        try:
            r = {"torch": bench_torch, "onnxruntime": bench_onnxruntime}[name](model, a.threads, a.images)
        except ImportError as e:
            print(f"encoder_frameworks.py: {name} is not installed ({e}); skipped", file=sys.stderr)
            continue
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
