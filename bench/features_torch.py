#!/usr/bin/env python3
"""PyTorch side of the feature-extraction benchmark: ResNet-18 without avgpool and fc (the
plain-torch network of Tests/RuntimeTests/Fixtures/make_resnet18_reference.py, torchvision's
architecture) in eval mode on N random 500x500 images, one at a time as script_features.py
does. Prints JSON: seconds per image (median of the images after one warm-up) and threads.
"""
import argparse, json, os, statistics, sys, time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "RuntimeTests", "Fixtures"))
from make_resnet18_reference import ResNet18Features  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = ResNet18Features().eval()
    times = []
    with torch.no_grad():
        for i in range(a.images + 1):
            x = torch.randn(1, 3, 500, 500)
            t0 = time.perf_counter()
            y = model(x).view(512, -1).permute(1, 0)
            if i > 0:
                times.append(time.perf_counter() - t0)
    print(json.dumps({"framework": "torch " + torch.__version__, "threads": a.threads, "images": a.images,
                      "seconds_per_image": statistics.median(times), "min": min(times), "max": max(times),
                      "output_shape": list(y.shape)}))


if __name__ == "__main__":
    main()
