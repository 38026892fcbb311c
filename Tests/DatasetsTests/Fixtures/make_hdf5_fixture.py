"""Regenerates h5py_features.hdf5 for HDF5FeaturesTests: a (3, 4, 5) float32 dataset "features"
written row by row with h5py, as the homework writes all_features.hdf5 (613, 256, 512).
Value at [i, r, d] is (i * 20 + r * 5 + d) * 0.5 - 3. Run: python3 make_hdf5_fixture.py
"""
import h5py
import numpy as np

with h5py.File("h5py_features.hdf5", "w") as f:
    dset = f.create_dataset("features", (3, 4, 5), dtype="f")
    for i in range(3):
        dset[i] = (np.arange(20, dtype=np.float32).reshape(4, 5) + i * 20) * 0.5 - 3
