"""tiny_encoder_nan.pth: tiny_encoder.pth with conv.weight[0] replaced by NaN (a checkpoint of a
diverged run), rewritten with zipfile so every CRC-32 is right. Needs no torch.
Run: python3 make_tiny_encoder_nan_pth.py
"""
import os
import struct
import zipfile

here = os.path.dirname(os.path.abspath(__file__))
src = zipfile.ZipFile(os.path.join(here, "tiny_encoder.pth"))
with zipfile.ZipFile(os.path.join(here, "tiny_encoder_nan.pth"), "w", zipfile.ZIP_STORED) as out:
    for info in src.infolist():
        data = src.read(info.filename)
        if info.filename.endswith("data/0"):  # conv.weight, 108 float32 values
            data = struct.pack("<f", float("nan")) + data[4:]
        out.writestr(info, data)
