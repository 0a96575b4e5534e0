import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from report_lib.models.bundle import LOGITS, bundle_from_model, caffe_preprocess, lite_preprocess
from report_lib.models.classes import UnknownClassError


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
    assert bundle.cam_layer == "c" and bundle.conv_layers == ("c",)
    assert bundle.class_names == ("class 0", "class 1")
    with pytest.raises(ValueError, match="no layer 'nope'; conv layers: \\['c'\\]"):
        bundle.layer("nope")




def test_predict_in_batches_matches_one_pass(tiny_bundle, tiny_test_set):
    images = tiny_test_set[0][:37]
    expected = tiny_bundle.model(tiny_bundle.preprocess(tf.constant(images, tf.float32)), training=False).numpy()
    for batch_size in (1, 16, 64):
        np.testing.assert_allclose(tiny_bundle.predict(images, batch_size=batch_size), expected, atol=1e-5)
    assert tiny_bundle.predict(images[:0]).shape == (0, 2)
    with pytest.raises(ValueError, match="expected images of shape \\(n, 32, 32, 3\\)"):
        tiny_bundle.predict(images[0])
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        tiny_bundle.predict(images, batch_size=0)


def test_a_copy_with_another_model_does_not_reuse_the_compiled_forward(tiny_bundle, tiny_test_set):
    images = tiny_test_set[0][:4]
    tiny_bundle.predict(images)
    zeros = keras.models.clone_model(tiny_bundle.model)
    zeros.set_weights([np.zeros_like(w) for w in tiny_bundle.model.get_weights()])
    copy = dataclasses.replace(tiny_bundle, model=zeros)
    np.testing.assert_allclose(copy.predict(images), 0.5, atol=1e-6)  # uniform over 2 classes


def test_bundle_is_frozen_and_caches_what_is_built_for_it(tiny_bundle):
    with pytest.raises(dataclasses.FrozenInstanceError):
        tiny_bundle.name = "other"
    built = []
    first = tiny_bundle.cached(("test", 1), lambda: built.append(1) or object())
    assert tiny_bundle.cached(("test", 1), lambda: built.append(1) or object()) is first and built == [1]
    assert dataclasses.replace(tiny_bundle).cached(("test", 1), lambda: "fresh") == "fresh"


def test_decode_and_class_lookup(tiny_bundle):
    ranked = tiny_bundle.decode(np.array([[0.2, 0.8]]), top=2)[0]
    assert [(p.index, p.name, p.label) for p in ranked] == [(1, "blue square", "blue square"), (0, "red square", "red square")]
    assert tiny_bundle.class_label(0) == "red square"
    assert tiny_bundle.find_class("Blue") == 1
    with pytest.raises(UnknownClassError, match="matches 2 classes"):
        tiny_bundle.find_class("square")
    with pytest.raises(UnknownClassError, match="no class matches 'green'"):
        tiny_bundle.find_class("green")
    with pytest.raises(ValueError, match="decode|expected predictions"):
        tiny_bundle.decode(np.zeros((1, 3)))


def test_submodel_outputs_layers_and_linear_logits(tiny_bundle, tiny_test_set):
    images = tf.constant(tiny_test_set[0][:3], tf.float32)
    inputs = tiny_bundle.preprocess(images)
    features, logits = tiny_bundle.submodel(["last_conv", LOGITS])(inputs)
    assert features.shape == (3, 16, 16, 16)
    np.testing.assert_allclose(tf.nn.softmax(logits).numpy(), tiny_bundle.model(inputs).numpy(), atol=1e-5)
    single = tiny_bundle.submodel(["conv1"])(inputs)
    assert single.shape == (3, 32, 32, 8)


def test_submodel_on_a_new_input_shares_copies_or_redraws_weights(tiny_bundle):
    pixels = tf.random.stateless_uniform((1, 48, 48, 3), seed=(1, 2))
    shared = tiny_bundle.submodel(["last_conv"], input_shape=(None, None, 3))
    assert shared.get_layer("conv1") is tiny_bundle.layer("conv1")
    assert shared(pixels).shape == (1, 24, 24, 16)
    copied = tiny_bundle.submodel(["last_conv"], input_shape=(48, 48, 3), weights="copied")
    assert copied.get_layer("conv1") is not tiny_bundle.layer("conv1")
    np.testing.assert_allclose(copied(pixels).numpy(), shared(pixels).numpy(), atol=1e-5)
    fresh = tiny_bundle.submodel(["last_conv"], input_shape=(48, 48, 3), weights="random")
    assert not np.allclose(fresh.get_layer("conv1").get_weights()[0], tiny_bundle.layer("conv1").get_weights()[0])
    with pytest.raises(ValueError, match="logits need the model's own input"):
        tiny_bundle.submodel([LOGITS], input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="weights must be one of"):
        tiny_bundle.submodel(["conv1"], input_shape=(None, None, 3), weights="borrowed")
