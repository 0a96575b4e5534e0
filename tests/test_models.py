import keras
import numpy as np
import pytest
import tensorflow as tf

import report_lib.models as models
from report_lib.models import (
    bundle_from_model,
    caffe_preprocess,
    lite_preprocess,
    load_model,
    resolve_model_name,
    vgg16_weights_status,
)


@pytest.fixture
def no_vgg16(monkeypatch, tmp_path):
    """No cached weights, and a download address that refuses at once."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("REPORT_MODEL", raising=False)
    monkeypatch.setattr(models, "VGG16_WEIGHTS_URL", "http://127.0.0.1:9/vgg16.h5")


def test_explicit_names_and_unknown_name():
    assert resolve_model_name("vgg16")[0] == "vgg16"
    assert resolve_model_name("efficientnet_lite0")[0] == "efficientnet_lite0"
    with pytest.raises(ValueError, match="unknown model 'resnet'.*'auto', 'vgg16', 'efficientnet_lite0'"):
        resolve_model_name("resnet")


def test_auto_falls_back_when_vgg16_is_unreachable(no_vgg16):
    name, reason = resolve_model_name("auto", probe_timeout=2)
    assert name == "efficientnet_lite0"
    assert "fell back" in reason and "not cached" in reason


def test_auto_uses_cached_vgg16_weights(no_vgg16, tmp_path):
    cached = tmp_path / "models" / models.VGG16_WEIGHTS_FILE
    cached.parent.mkdir()
    cached.write_bytes(b"placeholder")
    available, reason = vgg16_weights_status()
    assert available and str(cached) in reason
    assert resolve_model_name("auto")[0] == "vgg16"


def test_environment_variable_overrides_auto(no_vgg16, monkeypatch):
    monkeypatch.setenv("REPORT_MODEL", "vgg16")
    assert resolve_model_name("auto") == ("vgg16", "$REPORT_MODEL=vgg16")
    # An explicit name still wins over the environment.
    assert resolve_model_name("efficientnet_lite0")[0] == "efficientnet_lite0"


def test_load_model_records_the_choice(no_vgg16):
    bundle = load_model("auto")
    assert bundle.name == "efficientnet_lite0"
    assert "fell back" in bundle.choice


def test_vgg16_metadata_without_downloading():
    bundle = models.vgg16_bundle(weights=None)
    assert bundle.input_size == 224
    assert bundle.cam_layer == "block5_conv3"
    assert len(bundle.conv_layers) == 13 and bundle.conv_layers[0] == "block1_conv1"
    assert bundle.dense_layers == ["fc1", "fc2", "predictions"]


def test_preprocessing_matches_keras():
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype(np.float32)
    expected = keras.applications.vgg16.preprocess_input(pixels.copy())
    np.testing.assert_allclose(caffe_preprocess(tf.constant(pixels)).numpy(), expected, atol=1e-4)
    np.testing.assert_allclose(lite_preprocess(tf.constant(pixels)).numpy(), (pixels - 127) / 128, atol=1e-6)


def test_bundle_from_model_checks_the_model():
    inputs = keras.Input((8, 6, 3))
    flat = keras.layers.Flatten()(keras.layers.Conv2D(2, 3)(inputs))
    with pytest.raises(ValueError, match="square"):
        bundle_from_model(keras.Model(inputs, keras.layers.Dense(2)(flat)), lambda x: x)
    inputs = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(2, 3, name="c")(inputs)
    with pytest.raises(ValueError, match="last layer must be the Dense classifier"):
        bundle_from_model(keras.Model(inputs, keras.layers.Flatten()(conv)), lambda x: x)
    bundle = bundle_from_model(keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(conv))), lambda x: x)
    assert bundle.cam_layer == "c" and bundle.conv_layers == ["c"]
    with pytest.raises(ValueError, match="no layer 'nope'; conv layers: \\['c'\\]"):
        bundle.layer("nope")
