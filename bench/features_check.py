#!/usr/bin/env python3
"""End-to-end check of `graphc --extract-features` against PyTorch at full size.

Makes a ResNet-18 state_dict with random weights and random BatchNorm statistics (the plain-torch
network of Tests/RuntimeTests/Fixtures/make_resnet18_reference.py, torchvision's names), saves it
as users save checkpoints (torch.save), runs graphc on the PackBits originals with
--weights that.pth, and compares graphc's HDF5 rows with torch's features of the same images
(read here by a small PackBits TIFF reader, ToTensor + Normalize, view(512, -1).permute(1, 0)).

  python3 bench/features_check.py [--graphc .build/release/graphc] [--originals DIR]
"""
import argparse, json, os, shutil, struct, subprocess, sys, tempfile

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "RuntimeTests", "Fixtures"))
from make_resnet18_reference import ResNet18Features  # noqa: E402


def read_packbits_rgb(path):
    """Baseline little-endian chunky 8-bit RGB TIFF, uncompressed or PackBits."""
    b = open(path, "rb").read()
    assert b[:4] == b"II*\x00", f"{path}: not a little-endian TIFF"
    ifd = struct.unpack_from("<I", b, 4)[0]
    tags = {}
    for i in range(struct.unpack_from("<H", b, ifd)[0]):
        tag, typ, count, value = struct.unpack_from("<HHII", b, ifd + 2 + 12 * i)
        size = {3: 2, 4: 4}.get(typ, 1)
        if typ == 3 and count == 1:
            value &= 0xFFFF
        if count * size > 4:
            fmt = "<" + ("H" if typ == 3 else "I") * count
            value = list(struct.unpack_from(fmt, b, value))
        tags[tag] = value
    w, h, comp = tags[256], tags[257], tags[259]
    offsets, counts = tags[273], tags[279]
    offsets = offsets if isinstance(offsets, list) else [offsets]
    counts = counts if isinstance(counts, list) else [counts]
    out = bytearray()
    for off, n in zip(offsets, counts):
        data = b[off:off + n]
        if comp == 1:
            out += data
        elif comp == 32773:
            i = 0
            while i < len(data):
                c = data[i] - 256 if data[i] > 127 else data[i]
                i += 1
                if c >= 0:
                    out += data[i:i + c + 1]
                    i += c + 1
                elif c != -128:
                    out += bytes([data[i]]) * (1 - c)
                    i += 1
        else:
            raise SystemExit(f"{path}: compression {comp} not handled by this checker")
    t = torch.frombuffer(bytearray(out[:w * h * 3]), dtype=torch.uint8).reshape(h, w, 3)
    return t.permute(2, 0, 1).float() / 255


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--graphc", default=".build/release/graphc")
    p.add_argument("--originals", default="../shared/data/sydney-captions/originals")
    a = p.parse_args()
    torch.manual_seed(0)
    model = ResNet18Features().eval()
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("running_mean"):
                t.uniform_(-0.1, 0.1)
            elif name.endswith("running_var"):
                t.uniform_(0.5, 1.5)
            elif name.endswith("weight") and t.dim() == 1:      # BatchNorm scales
                t.uniform_(0.8, 1.2)
            elif name.endswith("bias"):
                t.uniform_(-0.1, 0.1)
            elif t.dim() == 4:
                torch.nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    tmp = tempfile.mkdtemp(prefix="graphc-features-check-")
    pth = os.path.join(tmp, "resnet18_random.pth")
    torch.save(model.state_dict(), pth)
    images = sorted(f for f in os.listdir(a.originals) if f.endswith(".tif"))
    out = os.path.join(tmp, "features.hdf5")
    subprocess.run([a.graphc, "graphs/resnet18.swiftgraph", "--extract-features", "--images", a.originals,
                    "--weights", pth, "--out", out], check=True)
    import h5py
    got = h5py.File(out, "r")["features"][:]
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    worst = 0.0
    for f in images:
        x = (read_packbits_rgb(os.path.join(a.originals, f)) - mean) / std
        with torch.no_grad():
            ref = model(x.unsqueeze(0)).view(512, -1).permute(1, 0)
        row = torch.from_numpy(got[int(f[:-4]) - 1])
        err = (row - ref).abs().max().item() / ref.abs().max().item()
        worst = max(worst, err)
        print(f"{f}: max |graphc - torch| / max |torch| = {err:.2e}  (max |torch| {ref.abs().max().item():.3f})")
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"images": len(images), "worst_relative_error": worst, "ok": worst < 1e-4}))


if __name__ == "__main__":
    main()
