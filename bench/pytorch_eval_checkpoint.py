#!/usr/bin/env python3
"""Loads a graphc Q2 checkpoint (safetensors) into the homework's PyTorch network and scores
the official Fashion-MNIST test set: an independent check of graphc's forward pass and of
its checkpoint format. Usage: bench/pytorch_eval_checkpoint.py results/best.safetensors"""
import gzip, json, struct, sys

import numpy as np
import torch
import torch.nn as nn


def load_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = {"F32": np.float32, "I64": np.int64}[info["dtype"]]
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + begin:8 + n + end], dtype=dtype).reshape(info["shape"]).copy())
    return out


def idx(path):
    data = gzip.open(path).read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data[4 + 4 * dims:], dtype=np.uint8).reshape(shape)


class HomeworkCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.convblock1 = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.convblock2 = nn.Sequential(nn.Conv2d(16, 32, 3, 1, 0), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(1152, 600), nn.ReLU(), nn.Dropout(0.3),
                                  nn.Linear(600, 120), nn.ReLU(), nn.Linear(120, 10), nn.LogSoftmax(dim=1))

    def forward(self, x):
        return self.head(self.convblock2(self.convblock1(x)))


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "results/best.safetensors"
    data = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"
    model = HomeworkCNN()
    model.load_state_dict(load_safetensors(path))
    model.eval()
    x = torch.from_numpy(idx(f"{data}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 256).unsqueeze(1)
    y = torch.from_numpy(idx(f"{data}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
    with torch.no_grad():
        logp = model(x)
    acc = (logp.argmax(1) == y).float().mean().item()
    loss = nn.functional.nll_loss(logp, y).item()
    print(f"PyTorch {torch.__version__} with graphc's weights: test accuracy {acc:.4f} (loss {loss:.4f})")


if __name__ == "__main__":
    main()
