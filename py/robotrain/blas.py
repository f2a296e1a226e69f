"""Keep numpy's OpenBLAS to one thread in processes that train.

The learner's matrices are small (batch 128 x 64 units). Extra BLAS threads gain nothing there, and when
other processes keep the cores busy their spin-waiting makes one 128x64 by 64x64 product take milliseconds
instead of microseconds (measured here: a Q-network backward pass 21 ms with two threads on a loaded 2-core
machine, 0.2 ms with one). In Pyodide there is no OpenBLAS and this does nothing.
"""

import ctypes
import glob
import os

import numpy as np

_done = False


def limit_blas_threads(n: int = 1) -> bool:
    """Set numpy's bundled OpenBLAS to ``n`` threads in this process; True if it could."""
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    names = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_",
             "openblas_set_num_threads")
    for path in sorted(glob.glob(os.path.join(libs, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in names:
            fn = getattr(lib, name, None)
            if fn is not None:
                fn(ctypes.c_int(n))
                return True
    return False


def single_threaded_blas_once() -> None:
    """``limit_blas_threads(1)`` the first time a learner is built in this process."""
    global _done
    if not _done:
        _done = True
        limit_blas_threads(1)
