import keras
import numpy as np
import pytest

from report_lib.attention import Explainer
from report_lib.models import bundle_from_model
from report_lib.transfer import (
    FilterHistory,
    best_epoch,
    classifier_on,
    compile_classifier,
    conv_base,
    dataset,
    kernels_as_images,
    load_tf_flowers,
    small_scratch_cnn,
    texture_crops,
    unfreeze_top,
)

SPLITS = {"train": 6, "validation": 2, "test": 2}


def _overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.fixture(scope="module")
def textures():
    return texture_crops(SPLITS, size=32, seed=0, classes=("brick", "grass", "gravel"))


def test_train_and_test_crops_never_overlap(textures):
    for label in range(3):
        train = textures.boxes["train"][textures.labels["train"] == label]
        for split in ("validation", "test"):
            other = textures.boxes[split][textures.labels[split] == label]
            assert not any(_overlap(a, b) for a in train for b in other)


def test_balanced_seeded_and_grey(textures):
    for split, count in SPLITS.items():
        assert np.bincount(textures.labels[split]).tolist() == [count] * 3
        assert textures.images[split].shape == (3 * count, 32, 32, 3)
    again = texture_crops(SPLITS, size=32, seed=0, classes=("brick", "grass", "gravel"))
    other = texture_crops(SPLITS, size=32, seed=1, classes=("brick", "grass", "gravel"))
    np.testing.assert_array_equal(textures.images["train"], again.images["train"])
    assert not np.array_equal(textures.images["train"], other.images["train"])
    image = textures.images["train"][0].astype(int)
    assert (image[..., 0] == image[..., 1]).all()


def test_flowers_fall_back_offline():
    # tensorflow-datasets is not a dependency: the loader says so and returns None.
    assert load_tf_flowers(32, SPLITS, timeout=1) is None


@pytest.fixture(scope="module")
def transferred(tiny_bundle):
    base = conv_base(tiny_bundle, 32)
    model = compile_classifier(classifier_on(base, 2, hidden_units=16), 1e-2)
    assert model.optimizer.learning_rate.numpy() == pytest.approx(1e-2)
    return model


def test_base_is_frozen_and_head_trainable(transferred, tiny_bundle):
    frozen = [layer for layer in transferred.layers if layer.name in ("conv1", "conv2", "last_conv")]
    assert len(frozen) == 3 and not any(layer.trainable_weights for layer in frozen)
    assert {w.path.split("/")[0] for w in transferred.trainable_weights} == {"head_dense", "predictions"}
    # Copied ImageNet (here: small CNN) weights, not shared layer objects.
    np.testing.assert_array_equal(transferred.get_layer("conv1").get_weights()[0], tiny_bundle.layer("conv1").get_weights()[0])
    assert transferred.get_layer("conv1") is not tiny_bundle.layer("conv1")
    # Functional on the base's input: no nested model.
    assert not any(isinstance(layer, keras.Model) for layer in transferred.layers)


def test_short_training_beats_chance_and_grad_cam_runs(transferred, tiny_bundle):
    from report_lib.synthetic import synthetic_objects

    # A new head on the frozen base, trained on new images of the base's own domain.
    train, test = synthetic_objects(64, seed=11), synthetic_objects(32, seed=12)
    data = dataset(train.images, train.labels, tiny_bundle.preprocess, batch_size=16, shuffle=True)
    transferred.fit(data, epochs=20, verbose=0)
    accuracy = (transferred.predict(tiny_bundle.preprocess(test.images.astype(np.float32)), verbose=0).argmax(1) == test.labels).mean()
    assert accuracy >= 0.8
    bundle = bundle_from_model(transferred, tiny_bundle.preprocess, cam_layer="last_conv")
    maps = Explainer(bundle).gradcam(test.images[:2], test.labels[:2])
    assert maps.shape == (2, 32, 32) and np.isfinite(maps).all() and maps.max() > 0


def test_unfreeze_and_best_epoch(transferred):
    assert unfreeze_top(transferred, "last_conv") == len(transferred.layers) - [l.name for l in transferred.layers].index("last_conv")
    assert transferred.get_layer("last_conv").trainable and not transferred.get_layer("conv1").trainable
    with pytest.raises(ValueError):
        unfreeze_top(transferred, "block9")
    assert best_epoch({"val_accuracy": [0.2, 0.7, 0.7, 0.5]}) == 2


def test_filter_history_records_exactly_the_asked_epochs(textures):
    model = small_scratch_cnn(32, 3, seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    seen = []
    callback = FilterHistory([0, 2, 3], "conv1", "conv3", [0, 1],
                             lambda m, layer, channels: seen.append(layer) or np.zeros((len(channels), 8, 8, 3), np.uint8))

    class Snapshot(keras.callbacks.Callback):
        weights = {}

        def on_epoch_end(self, epoch, logs=None):
            Snapshot.weights[epoch + 1] = self.model.get_layer("conv1").get_weights()[0].copy()

    model.fit(textures.images["train"] / 255.0, textures.labels["train"], epochs=4, verbose=0, callbacks=[Snapshot(), callback])
    assert sorted(callback.kernels) == [0, 2, 3] and sorted(callback.visualizations) == [0, 2, 3]
    for epoch in (2, 3):
        np.testing.assert_array_equal(callback.kernels[epoch], Snapshot.weights[epoch])
    assert not np.array_equal(callback.kernels[0], callback.kernels[3])
    assert set(callback.weight_change) == {"conv1", "conv2", "conv3", "dense", "predictions"}
    assert all(len(v) == 4 and min(v) > 0 for v in callback.weight_change.values())
    assert seen == ["conv3"] * 3


def test_kernels_as_images():
    kernels = np.random.default_rng(0).normal(size=(5, 5, 3, 4))
    images = kernels_as_images(kernels)
    assert images.shape == (4, 5, 5, 3) and images.dtype == np.uint8
    assert images.reshape(4, -1).min(axis=1).tolist() == [0] * 4 and images.reshape(4, -1).max(axis=1).tolist() == [255] * 4
    grey = kernels_as_images(kernels, grey=True)
    assert (grey[..., 0] == grey[..., 2]).all()
    summed = kernels.sum(axis=2)[..., 0]
    assert np.unravel_index(grey[0, ..., 0].argmax(), (5, 5)) == np.unravel_index(summed.argmax(), (5, 5))
    with pytest.raises(ValueError):
        kernels_as_images(np.zeros((3, 3, 1, 8)))


def test_channel_visualizer_is_seeded(tiny_bundle):
    from report_lib.transfer import channel_visualizer

    visualize_channels = channel_visualizer(tiny_bundle.preprocess, 16, steps=3, seed=2)
    first = visualize_channels(tiny_bundle.model, "conv2", [0, 3])
    assert first.shape == (2, 16, 16, 3)
    np.testing.assert_array_equal(first, visualize_channels(tiny_bundle.model, "conv2", [0, 3]))
