"""Read legacy (pre-zip) PyTorch ``.pth`` state dicts without torch and without
unpickling arbitrary objects.

A legacy ``torch.save`` file is a sequence of pickles (magic number, protocol
version, system info, the state dict, the list of storage keys) followed by
the raw bytes of every storage. Only a handful of globals may appear in a plain
state dict; the restricted unpickler maps those to harmless stand-ins and
refuses everything else, so a crafted file cannot run code.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from dataclasses import dataclass
from os import PathLike
from typing import Any, BinaryIO

import numpy as np

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
SUPPORTED_PROTOCOL_VERSION = 1001

_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class UnsafeWeightsError(pickle.UnpicklingError):
    """Raised when a weights file asks for anything beyond plain tensors."""


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype


@dataclass
class _StorageRef:
    key: str
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def materialize(self) -> np.ndarray:
        if self.storage.data is None:
            raise UnsafeWeightsError(f"storage {self.storage.key!r} has no data in the file")
        itemsize = self.storage.dtype.itemsize
        base = self.storage.data[self.offset :]
        needed = 1 + sum((n - 1) * s for n, s in zip(self.shape, self.stride)) if self.shape else 1
        if any(n == 0 for n in self.shape):
            return np.zeros(self.shape, dtype=self.storage.dtype)
        if needed > base.size:
            raise UnsafeWeightsError(f"tensor view runs past the end of storage {self.storage.key!r}")
        view = np.lib.stride_tricks.as_strided(
            base, shape=self.shape, strides=tuple(s * itemsize for s in self.stride)
        )
        return np.array(view, copy=True)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, *rest):
    if not isinstance(storage, _StorageRef):
        raise UnsafeWeightsError("tensor rebuilt from something that is not a storage")
    return _TensorRef(storage, int(storage_offset), tuple(int(n) for n in size), tuple(int(s) for s in stride))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *rest):
    return data


def _allowed_globals() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }
    for name, dtype in _STORAGE_DTYPES.items():
        allowed[("torch", name)] = _StorageType(dtype)
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO, storages: dict[str, _StorageRef]):
        super().__init__(file, encoding="utf-8")
        self._storages = storages
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise UnsafeWeightsError(
                f"refusing to load global {module}.{name}: a weights file should only hold "
                f"tensors (allowed: {sorted('.'.join(k) for k in self._allowed)})"
            ) from None

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise UnsafeWeightsError(f"unexpected persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid[:5]
        if not isinstance(storage_type, _StorageType):
            raise UnsafeWeightsError(f"unexpected storage type {storage_type!r}")
        if len(pid) > 5 and pid[5] is not None:
            raise UnsafeWeightsError("storage views are not supported")
        key = str(key)
        if key not in self._storages:
            self._storages[key] = _StorageRef(key, storage_type.dtype, int(numel))
        return self._storages[key]


def _to_arrays(obj: Any) -> Any:
    if isinstance(obj, _TensorRef):
        return obj.materialize()
    if isinstance(obj, dict):
        return collections.OrderedDict((k, _to_arrays(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_arrays(v) for v in obj)
    return obj


def read_legacy_state_dict(source: str | PathLike | bytes) -> dict[str, np.ndarray]:
    """Read a legacy PyTorch state dict into numpy arrays, safely.

    Args:
        source: Path of a ``.pth`` file written by ``torch.save`` before the
            zip format (PyTorch < 1.6), or its bytes.

    Returns:
        An ordered mapping from parameter name to a numpy array.

    Raises:
        UnsafeWeightsError: The file refers to a global that a state dict never
            needs (the usual sign of a malicious pickle) or is inconsistent.
        ValueError: The file is not a legacy PyTorch file (e.g. the zip format).
    """
    raw = bytes(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb").read()
    if raw[:2] == b"PK":
        raise ValueError("this is a zip-format torch file; only the legacy format is supported")
    stream = io.BytesIO(raw)
    storages: dict[str, _StorageRef] = {}

    def load_next() -> Any:
        return _RestrictedUnpickler(stream, storages).load()

    try:
        magic = load_next()
    except (pickle.UnpicklingError, EOFError) as error:
        if isinstance(error, UnsafeWeightsError):
            raise
        raise ValueError(f"not a legacy PyTorch weights file: {error}") from error
    if magic != LEGACY_MAGIC_NUMBER:
        raise ValueError("not a legacy PyTorch weights file: wrong magic number")
    protocol = load_next()
    if protocol != SUPPORTED_PROTOCOL_VERSION:
        raise ValueError(f"unsupported torch protocol version {protocol!r}")
    load_next()  # sys_info: endianness and type sizes, little-endian assumed below
    state = load_next()
    keys = load_next()
    if not isinstance(keys, list):
        raise UnsafeWeightsError("storage key list is missing")
    for key in keys:
        ref = storages.get(str(key))
        if ref is None:
            raise UnsafeWeightsError(f"storage {key!r} is listed but never used")
        header = stream.read(8)
        if len(header) != 8:
            raise ValueError(f"file is truncated before storage {key!r}")
        (numel,) = struct.unpack("<q", header)
        nbytes = numel * ref.dtype.itemsize
        payload = stream.read(nbytes)
        if len(payload) != nbytes:
            raise ValueError(f"file is truncated inside storage {key!r}")
        ref.data = np.frombuffer(payload, dtype=ref.dtype)
    result = _to_arrays(state)
    if not isinstance(result, dict):
        raise UnsafeWeightsError(f"expected a state dict, found {type(result).__name__}")
    return result
