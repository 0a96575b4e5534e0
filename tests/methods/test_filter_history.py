import keras
import numpy as np
import pytest

from report_lib.data.datasets import texture_crops
from report_lib.methods.filter_history import FilterHistory, channel_visualizer, kernels_as_images
from report_lib.models.training import small_scratch_cnn


@pytest.fixture(scope="module")
def textures():
    return texture_crops({"train": 6}, size=32, seed=0, classes=("brick", "grass", "gravel"))


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
    visualize_channels = channel_visualizer(tiny_bundle.preprocess, 16, steps=3, seed=2)
    first = visualize_channels(tiny_bundle.model, "conv2", [0, 3])
    assert first.shape == (2, 16, 16, 3)
    np.testing.assert_array_equal(first, visualize_channels(tiny_bundle.model, "conv2", [0, 3]))
