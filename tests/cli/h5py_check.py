"""Open a GalaxiesML-layout HDF5 file with h5py and print every key as `name dtype shape`.

Used by tests/galaxiesml_io.rs (only when h5py is installed) to check that files written by
pzbench are what Python users' tools read. Exits non-zero if the file cannot be read.
"""
import sys

import h5py

with h5py.File(sys.argv[1], "r") as f:
    for name in sorted(f.keys()):
        ds = f[name]
        ds[...]  # read every value: a layout h5py cannot decode fails here
        print(name, ds.dtype, tuple(ds.shape))
