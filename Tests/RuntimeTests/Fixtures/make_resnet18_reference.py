"""Independent reference for graphc's ResNet-18 encoder (graphs/resnet18.swiftgraph).

torchvision's ResNet-18 without avgpool and fc, written out in plain torch (torchvision is not
installed here), in eval mode, on one 1x3x64x64 input. Weights and input come from a
deterministic recipe that EncoderNumericsTests.swift repeats in Swift, so only the output needs
storing:

    u(j, name) = frac(sin(12.9898 * j + phase(name)) * 43758.5453),  j = 0, 1, ... (flat index)
    phase(name) = 0.1 * sum(utf8 bytes of name) + len(name)
    conv weight  (2u - 1) * sqrt(3) * sqrt(2 / fan_in)        (kaiming-sized)
    bn weight    0.8 + 0.4u      bn bias  0.2 (2u - 1)
    running_mean 0.1 (2u - 1)    running_var  0.5 + u
    input        2 (2u - 1) with name "input"

Run: python3 make_resnet18_reference.py  (writes resnet18_reference.json beside it)
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F


def phase(name):
    return 0.1 * sum(name.encode()) + len(name)


def uniform01(count, name):
    p = phase(name)
    out = []
    for j in range(count):
        x = math.sin(12.9898 * j + p) * 43758.5453
        out.append(x - math.floor(x))
    return out


def values(name, shape):
    n = math.prod(shape)
    u = uniform01(n, name)
    if name.endswith("running_mean"):
        v = [0.1 * (2 * a - 1) for a in u]
    elif name.endswith("running_var"):
        v = [0.5 + a for a in u]
    elif len(shape) == 4:
        s = math.sqrt(3) * math.sqrt(2 / (shape[1] * shape[2] * shape[3]))
        v = [(2 * a - 1) * s for a in u]
    elif name.endswith("weight"):
        v = [0.8 + 0.4 * a for a in u]
    else:
        v = [0.2 * (2 * a - 1) for a in u]
    return torch.tensor(v, dtype=torch.float64).to(torch.float32).reshape(shape)


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return F.relu(out + identity)


class ResNet18Features(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        chans = [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)]
        for i, (cin, cout, stride) in enumerate(chans, start=1):
            setattr(self, f"layer{i}", nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)))

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def main():
    torch.set_num_threads(1)
    model = ResNet18Features().eval()
    with torch.no_grad():
        state = model.state_dict()
        for name, t in state.items():
            if name.endswith("num_batches_tracked"):
                continue
            t.copy_(values(name, list(t.shape)))
        x = torch.tensor([2 * (2 * a - 1) for a in uniform01(3 * 64 * 64, "input")],
                         dtype=torch.float64).to(torch.float32).reshape(1, 3, 64, 64)
        y = model(x)
    out = {
        "about": "graphs/resnet18.swiftgraph on a 1x3x64x64 input with the deterministic weights of "
                 "make_resnet18_reference.py, computed by plain torch " + torch.__version__ + " (eval mode, float32)",
        "input_shape": list(x.shape),
        "output_shape": list(y.shape),
        "parameters": sum(t.numel() for n, t in state.items() if not n.endswith("num_batches_tracked")),
        "output": [float(v) for v in y.flatten().tolist()],
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resnet18_reference.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print(path, y.shape, float(y.abs().max()), float(y.mean()))


if __name__ == "__main__":
    main()
