"""Makes the PyTorch -> ONNX round-trip fixture that ONNXRoundTripTests runs in graphc without
Python: a small seeded CNN (Conv with padding, BatchNorm in eval mode, ReLU, MaxPool, Flatten,
Linear, LogSoftmax) exported by torch.onnx.export at opset 17 with a symbolic batch, and its
PyTorch inputs and outputs.

    .venv-onnx/bin/pip install torch==2.13.0+cpu   # once
    .venv-onnx/bin/python Tests/ONNXExportTests/Fixtures/make_torch_fixture.py

writes torch_small_cnn.onnx and torch_small_cnn.npz (x: f32[3,1,8,8], y: f32[3,10]) here."""
import os

import numpy as np
import torch
from torch import nn

here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(4 * 4 * 4, 10), nn.LogSoftmax(dim=1),
)
# Statistics that are not the defaults, so that BatchNorm's running mean and variance matter.
with torch.no_grad():
    model[1].running_mean.uniform_(-0.5, 0.5)
    model[1].running_var.uniform_(0.5, 2.0)
    model[1].weight.uniform_(0.5, 1.5)
    model[1].bias.uniform_(-0.2, 0.2)
model.eval()

x = torch.randn(3, 1, 8, 8)
with torch.no_grad():
    y = model(x)
path = os.path.join(here, "torch_small_cnn.onnx")
torch.onnx.export(model, (x,), path, input_names=["x"], output_names=["y"], opset_version=17,
                  dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, dynamo=False)
np.savez(os.path.join(here, "torch_small_cnn.npz"), x=x.numpy(), y=y.numpy())
print(f"wrote {path} ({os.path.getsize(path)} bytes) and torch_small_cnn.npz; torch {torch.__version__}")
