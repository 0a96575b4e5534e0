import keras
import numpy as np
import pytest

from report_lib.data.datasets import dataset
from report_lib.methods.registry import explain
from report_lib.models.bundle import bundle_from_model
from report_lib.models.surgery import classifier_on, conv_base, unfreeze_top
from report_lib.models.training import best_epoch, compile_classifier


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
    from report_lib.data.synthetic import synthetic_objects

    # A new head on the frozen base, trained on new images of the base's own domain.
    train, test = synthetic_objects(64, seed=11), synthetic_objects(32, seed=12)
    data = dataset(train.images, train.labels, tiny_bundle.preprocess, batch_size=16, shuffle=True)
    transferred.fit(data, epochs=20, verbose=0)
    accuracy = (transferred.predict(tiny_bundle.preprocess(test.images.astype(np.float32)), verbose=0).argmax(1) == test.labels).mean()
    assert accuracy >= 0.8
    bundle = bundle_from_model(transferred, tiny_bundle.preprocess, cam_layer="last_conv")
    maps = explain("gradcam", bundle, test.images[:2], test.labels[:2])
    assert maps.shape == (2, 32, 32) and np.isfinite(maps).all() and maps.max() > 0


def test_unfreeze_and_best_epoch(transferred):
    assert unfreeze_top(transferred, "last_conv") == len(transferred.layers) - [l.name for l in transferred.layers].index("last_conv")
    assert transferred.get_layer("last_conv").trainable and not transferred.get_layer("conv1").trainable
    with pytest.raises(ValueError):
        unfreeze_top(transferred, "block9")
    assert best_epoch({"val_accuracy": [0.2, 0.7, 0.7, 0.5]}) == 2


def test_best_epochs_reports_ties_and_first_epoch_reaching():
    from report_lib.models.training import best_epochs, first_epoch_reaching

    history = {"val_accuracy": [0.5, 0.96, 0.96, 0.9], "accuracy": [0.76, 1.0, 1.0, 1.0]}
    assert best_epochs(history) == [2, 3]
    assert first_epoch_reaching(history, "accuracy", 1.0) == 2
    assert first_epoch_reaching(history, "accuracy", 1.1) is None


def test_best_weights_restores_the_first_best_epoch():
    from report_lib.models.training import BestWeights

    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    keeper = BestWeights()
    keeper.set_model(model)
    marks = {}
    for epoch, value in enumerate([0.2, 0.8, 0.8, 0.5]):
        model.set_weights([np.full((2, 1), float(epoch)), np.zeros(1)])
        keeper.on_epoch_end(epoch, {"val_accuracy": value})
        marks[epoch] = value
    keeper.restore()
    assert keeper.epoch == 2 and keeper.value == 0.8
    assert float(model.get_weights()[0][0, 0]) == 1.0  # the weights after epoch 2 (index 1), not epoch 3


def test_last_layer_with_side_finds_a_finer_cam_layer():
    from report_lib.models.layers import last_layer_with_side

    inputs = keras.Input((32, 32, 3))
    fine = keras.layers.Conv2D(2, 3, padding="same", name="fine")(inputs)
    coarse = keras.layers.Conv2D(2, 3, strides=4, padding="same", name="coarse")(fine)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(coarse))
    assert last_layer_with_side(model, 8) == ("coarse", 8)
    assert last_layer_with_side(model, 16) == ("fine", 32)
