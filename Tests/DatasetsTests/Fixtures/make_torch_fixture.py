"""Regenerates tiny_state_dict.pth, tiny_state_dict_legacy.pth and tiny_state_dict.json (expected values) for TorchCheckpointTests.

Run from this folder with PyTorch installed: python3 make_torch_fixture.py
The tests only read the committed outputs; Python is not needed to test graphc.
"""
import collections
import json

import torch

torch.manual_seed(42)
model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
model.train()
with torch.no_grad():
    model(torch.randn(2, 3, 5, 5))  # moves the BatchNorm running stats and num_batches_tracked
state = model.state_dict()

# Views exercise storage offsets, strides and storages shared between tensors, which a real
# state_dict can also contain (tied weights).
base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
extra = collections.OrderedDict(state)
extra["extra.base"] = base
extra["extra.view"] = base[1:, ::2]
extra["extra.transposed"] = base.t()
extra["extra.scalar"] = torch.tensor(2.5)
extra._metadata = state._metadata  # as in a real state_dict: pickled with BUILD

torch.save(extra, "tiny_state_dict.pth")
# The pre-1.6 format (a pickle stream, not a zip), which older checkpoints use.
torch.save(extra, "tiny_state_dict_legacy.pth", _use_new_zipfile_serialization=False)

expected = collections.OrderedDict()
for key, t in extra.items():
    expected[key] = {
        "dtype": str(t.dtype).replace("torch.", ""),
        "shape": list(t.shape),
        "stride": list(t.stride()),
        "storage_offset": t.storage_offset(),
        "values": t.flatten().tolist(),
    }
with open("tiny_state_dict.json", "w") as f:
    json.dump({"torch_version": torch.__version__, "tensors": expected}, f, indent=1)
