"""A PyTorch state_dict for the tiny encoder of FeatureExtractionTests (conv 3->4, 3x3, and a
BatchNorm2d(4)), saved as users save checkpoints (torch.save, zip format). Values follow
simple formulas the test repeats: conv.weight[i] = 0.01 * (i % 13 - 6), bn.weight = 1 + 0.1 c,
bn.bias = 0.05 c, bn.running_mean = 0.02 c, bn.running_var = 1 + 0.5 c (c = channel).
Run: python3 make_tiny_encoder_pth.py
"""
import os
import torch

conv = torch.tensor([0.01 * (i % 13 - 6) for i in range(4 * 3 * 3 * 3)], dtype=torch.float32).reshape(4, 3, 3, 3)
c = torch.arange(4, dtype=torch.float32)
state = {
    "conv.weight": conv,
    "bn.weight": 1 + 0.1 * c,
    "bn.bias": 0.05 * c,
    "bn.running_mean": 0.02 * c,
    "bn.running_var": 1 + 0.5 * c,
    "bn.num_batches_tracked": torch.tensor(7),
    "fc.weight": torch.zeros(2, 4),
}
torch.save(state, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny_encoder.pth"))
