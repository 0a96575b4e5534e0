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
