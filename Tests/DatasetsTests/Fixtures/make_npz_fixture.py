"""Regenerates numpy_savez.npz for NPZWriterTests: what numpy.savez writes (stored entries,
forced ZIP64 local headers, 1980-01-01 dates, 64-byte aligned .npy v1.0 headers), which
NPZWriter must reproduce byte for byte. Made with numpy 2.4.6. Run: python3 make_npz_fixture.py
"""
import numpy as np

np.savez(
    "numpy_savez.npz",
    P1=(np.arange(6, dtype=np.float32).reshape(2, 3) - 2) / 4,
    words=np.array([[1, 5, 189], [7, 2, 0]], dtype=np.int64),
    loss=np.float32(2.5),
    x64=np.array([0.1, -3.0], dtype=np.float64),
    long_axis=np.zeros((1234567, 0), dtype=np.float32),
)
