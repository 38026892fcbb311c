#!/usr/bin/env python3
"""Writes the generated part of the fuzz seed corpus (Fuzz/corpus/<target>/): small valid files
in each format, plus copies of the repository's small test fixtures and graphs. Needs numpy.
The .gir seeds (corpus/ir/) are graphc's own output: `graphc graphs/<name>.swiftgraph --dump-ir`."""
import gzip, io, json, os, shutil, struct, zipfile
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)

def out(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def copy(target, path):
    with open(os.path.join(root, path), "rb") as f:
        out(target, os.path.basename(path), f.read())

# DSL: the repository's graphs.
for name in sorted(os.listdir(os.path.join(root, "graphs"))):
    if name.endswith(".swiftgraph"):
        copy("dsl", os.path.join("graphs", name))

# IDX: labels (rank 1) and images (rank 3), plain and gzip.
labels = bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + bytes([0, 1, 2, 3, 9])
images = bytes([0, 0, 8, 3]) + struct.pack(">III", 2, 3, 3) + bytes(range(18))
out("idx", "labels.idx", labels)
out("idx", "labels.idx.gz", gzip.compress(labels, mtime=0))
out("idx", "images.idx.gz", gzip.compress(images, mtime=0))

# NPY and NPZ (stored and deflated), through numpy itself.
def npy(a):
    b = io.BytesIO(); np.save(b, a); return b.getvalue()
out("npy", "f32.npy", npy(np.arange(6, dtype=np.float32).reshape(2, 3)))
out("npy", "i64.npy", npy(np.array([1, -2, 3], dtype=np.int64)))
out("npy", "u8.npy", npy(np.zeros((2, 2, 2), dtype=np.uint8)))
out("npy", "f64_scalar.npy", npy(np.float64(2.5)))
for compressed in (False, True):
    b = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(b, x=np.arange(4, dtype=np.float32), y=np.array([1, 0], dtype=np.int64))
    out("npz", "deflated.npz" if compressed else "stored.npz", b.getvalue())
copy("npz", "Tests/DatasetsTests/Fixtures/numpy_savez.npz")

# safetensors: header length, JSON header, data.
def safetensors(tensors, metadata=None):
    header, data = {}, b""
    if metadata: header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data
out("safetensors", "two.safetensors", safetensors([("w", "F32", [2, 2], np.ones(4, np.float32).tobytes()),
                                                   ("step", "I64", [], struct.pack("<q", 7))], {"format": "pt"}))
out("safetensors", "empty.safetensors", safetensors([]))

# .pth: the test fixtures (zip and legacy formats).
for name in ("Tests/DatasetsTests/Fixtures/tiny_state_dict.pth", "Tests/DatasetsTests/Fixtures/tiny_state_dict_legacy.pth",
             "Tests/TrainingTests/Fixtures/tiny_encoder.pth"):
    copy("pth", name)

# HDF5: the h5py fixture.
copy("hdf5", "Tests/DatasetsTests/Fixtures/h5py_features.hdf5")

# TIFF: 2x2 RGB, uncompressed and PackBits, little- and big-endian.
def tiff(width, height, pixels, big=False, packbits=False):
    e = ">" if big else "<"
    data = bytes(pixels)
    if packbits:  # literal runs of at most 128 bytes
        data = b"".join(bytes([len(data[i:i + 128]) - 1]) + data[i:i + 128] for i in range(0, len(data), 128))
    entries = [(256, 3, 1, width), (257, 3, 1, height), (258, 3, 3, None), (259, 3, 1, 32773 if packbits else 1),
               (262, 3, 1, 2), (273, 4, 1, None), (277, 3, 1, 3), (278, 3, 1, height), (279, 4, 1, len(data))]
    ifd_at = 8
    extra_at = ifd_at + 2 + 12 * len(entries) + 4
    bps_at, strip_at = extra_at, extra_at + 6
    ifd = struct.pack(e + "H", len(entries))
    for tag, typ, count, value in entries:
        if tag == 258: ifd += struct.pack(e + "HHII", tag, typ, count, bps_at)
        elif tag == 273: ifd += struct.pack(e + "HHII", tag, typ, count, strip_at)
        elif typ == 3: ifd += struct.pack(e + "HHIHH", tag, typ, count, value, 0)
        else: ifd += struct.pack(e + "HHII", tag, typ, count, value)
    ifd += struct.pack(e + "I", 0)
    head = (b"MM" if big else b"II") + struct.pack(e + "HI", 42, ifd_at)
    return head + ifd + struct.pack(e + "HHH", 8, 8, 8) + data
px = [255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9]
out("tiff", "rgb.tif", tiff(2, 2, px))
out("tiff", "rgb_be.tif", tiff(2, 2, px, big=True))
out("tiff", "rgb_packbits.tif", tiff(2, 2, px, packbits=True))

# Captions JSON: vocab_info.json, train.json, val.json and a Karpathy dataset.json.
tokens = ["<#>", "<start_seq>", "<end_seq>", "<unk>", "a", "field"]
vocab = {"vocab_size": len(tokens), "max_len": 5, "token_to_id": {t: i for i, t in enumerate(tokens)},
         "id_to_token": {str(i): t for i, t in enumerate(tokens)}}
out("captions", "vocab_info.json", json.dumps(vocab).encode())
out("captions", "train.json", json.dumps({"images_names": ["1.tif", "2.tif"], "captions_tokens":
    [["<start_seq>", "a", "field", "<end_seq>"], ["<start_seq>", "field", "<end_seq>"]]}).encode())
out("captions", "val.json", json.dumps({"images_names": ["3.tif"], "all_refs": {"3.tif": [["a", "field"], ["field"]]}}).encode())
out("captions", "dataset.json", json.dumps({"dataset": "sydney", "images": [
    {"filename": "1.tif", "imgid": 0, "split": "train", "sentences": [{"tokens": ["a", "field"], "raw": "a field"}]}]}).encode())

# ONNX: the PyTorch-exported test models (Tests/ONNXTests/Fixtures/make_onnx_fixtures.py).
for name in ["tiny_classifier", "tiny_lstm"]:
    with open(os.path.join(root, "Tests/ONNXTests/Fixtures", name, "model.onnx"), "rb") as f:
        out("onnx", name + ".onnx", f.read())
