"""What every Pyodide interpreter of the page calls (the main thread's and each worker's): freeing numpy's
unread files after import, and the workers' helpers. It imports nothing of robotrain, so a worker loads no more
Python than its actor needs; the main thread's facade is ``robotrain.web``.
"""

import os
import sys

# Files of numpy's package that a loaded interpreter never reads (headers, stubs, sources, build data).
UNREAD_SUFFIXES = (".pyi", ".h", ".pxd", ".c", ".a", ".pyx", ".md", ".rst", ".template", ".build", ".pc")


def live_row(actor) -> list:
    """The actor's lane-0 state row, for a worker's live view."""
    return actor.env.state[0].tolist()


def hang() -> None:
    """Fault injection (fault_hang): never return, as a worker stuck in Python would."""
    while True:
        pass


def trim_numpy_files(loaded) -> int:
    """Free numpy's unpacked files that a loaded interpreter never reads again; returns the bytes freed.

    Every Pyodide interpreter holds the unpacked package in its in-memory file system (about 12 MB). Once
    numpy is imported its extension modules are loaded (a dlopen of the same path finds the loaded library) and
    its imported modules are not re-read, so those files are truncated (they must still exist for the import
    system's lookups); headers, stubs and sources are removed. ``loaded``: paths of the loaded libraries.
    """
    import numpy

    loaded = set(loaded)
    imported = {getattr(m, "__file__", None) for m in list(sys.modules.values())}
    freed = 0
    for folder, _, names in os.walk(os.path.dirname(numpy.__file__)):
        for name in names:
            path = os.path.join(folder, name)
            size = os.path.getsize(path)
            if name.endswith(UNREAD_SUFFIXES):
                os.remove(path)
            elif (name.endswith(".so") and path in loaded) or (name.endswith(".py") and path in imported):
                os.truncate(path, 0)
            else:
                continue
            freed += size
    return freed
