"""The array backend, chosen once: CuPy on a usable CUDA GPU, else NumPy (same numbers).

Transforms take `xp` and look up the matching signal module with `signal_module(xp)`; they never
branch on the backend. Host <-> device copies happen only in `Backend.map_chunks`, in large batches.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

BACKENDS = ("auto", "numpy", "cupy")  # "device" is torch's word (training); arrays run on a backend
# Rows per chunk: CPU work stays in cache with a few thousand rows; a GPU wants large batches.
CHUNK_ROWS = {"numpy": 2048, "cupy": 65536}
_SIGNAL_MODULES = {"numpy": "scipy.signal", "cupy": "cupyx.scipy.signal"}

# A NumPy or CuPy array, whichever `xp` makes: CuPy ships no type information, so it is read as Any.
# Host-only code (NumPy arrays only) says np.ndarray instead.
Array = Any


@dataclass(frozen=True)
class Backend:
    name: str  # "numpy" | "cupy"
    xp: ModuleType
    to_host: Callable[[object], np.ndarray]
    chunk_rows: int
    synchronize: Callable[[], None] = lambda: None  # wait for queued device work (timing)

    def map_chunks(
        self, fn: Callable[..., dict], *arrays: np.ndarray, chunk_rows: int | None = None
    ) -> Iterator[tuple[slice, dict[str, np.ndarray]]]:
        """Apply `fn(*device_chunks)` to row chunks; yields (rows, host outputs) per chunk."""
        n, step = len(arrays[0]), chunk_rows or self.chunk_rows
        for start in range(0, n, step):
            rows = slice(start, min(start + step, n))
            out = fn(*(self.xp.asarray(a[rows]) for a in arrays))
            yield rows, {k: self.to_host(v) for k, v in out.items()}


def signal_module(xp: ModuleType) -> ModuleType:
    """scipy.signal for NumPy arrays, cupyx.scipy.signal for CuPy arrays."""
    return importlib.import_module(_SIGNAL_MODULES[xp.__name__])


def numpy_backend() -> Backend:
    return Backend("numpy", np, np.asarray, CHUNK_ROWS["numpy"])


def cupy_backend() -> Backend:
    """The CuPy backend; raises RuntimeError saying why when no GPU is usable."""
    try:
        import cupy
    except ImportError as err:
        raise RuntimeError(f"CuPy is not installed ({err})") from err
    try:
        if not cupy.is_available():
            raise RuntimeError("CuPy is installed but finds no CUDA GPU")
        cupy.zeros(1)  # the first allocation is where a broken driver shows
    except Exception as err:  # noqa: BLE001 - CUDA raises many types; all mean "no usable GPU"
        raise RuntimeError(f"CuPy cannot use a GPU ({err})") from err
    return Backend("cupy", cupy, cupy.asnumpy, CHUNK_ROWS["cupy"], cupy.cuda.Stream.null.synchronize)


def select_backend(name: str = "auto") -> Backend:
    """`auto`: CuPy when a GPU is usable, else NumPy; `numpy`; `cupy` (or a clear error)."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    if name == "numpy":
        return numpy_backend()
    try:
        return cupy_backend()
    except RuntimeError as err:
        if name == "cupy":
            raise ValueError(
                f"backend='cupy' was asked for, but {err}; fix: set backend to 'auto' or "
                "'numpy', or install the gpu extra (pip install -e '.[gpu]') on a machine "
                "with an NVIDIA GPU"
            ) from err
        return numpy_backend()
