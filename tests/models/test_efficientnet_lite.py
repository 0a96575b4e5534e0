import numpy as np
import pytest

from report_lib.models.efficientnet_lite import block_prefixes, build_efficientnet_lite0, torch_to_keras_weights
from report_lib.data.images import load_images
from report_lib.models.torch_weights import read_legacy_state_dict


@pytest.mark.parametrize(("fold", "parameters"), [(False, 4_694_024), (True, 4_631_000)])
def test_architecture_matches_the_weights_file(fold, parameters):
    from report_lib.models.efficientnet_lite import weights_file

    state = read_legacy_state_dict(weights_file())
    mapped = torch_to_keras_weights(state, fold_batch_norm=fold)
    model = build_efficientnet_lite0(fold_batch_norm=fold)
    weighted = {layer.name for layer in model.layers if layer.weights}
    assert weighted == set(mapped)
    for layer in model.layers:
        if layer.weights:
            assert [w.shape for w in layer.get_weights()] == [v.shape for v in mapped[layer.name]], layer.name
    # Folding turns the 4 values per channel of each batch norm into 1 bias: 3 x 21,008 fewer.
    assert model.count_params() == parameters
    assert len(block_prefixes()) == 16 == 1 + max(int(k.split(".")[1]) for k in state if k.startswith("_blocks."))


# Facts checked against the original PyTorch model (TF 'same' padding, (x - 127) / 128).
EXPECTED_TOP1 = {"chelsea": 285, "coffee": 967, "motorcycle": 665, "grace_hopper": 652}


def test_embedded_model_recognises_the_sample_images(lite0_bundle):
    images = load_images(list(EXPECTED_TOP1), lite0_bundle.input_size)
    probabilities = lite0_bundle.predict(images)
    assert probabilities.argmax(axis=1).tolist() == list(EXPECTED_TOP1.values())
    assert probabilities[0, 285] == pytest.approx(0.79, abs=0.02)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_folding_batch_norm_keeps_the_predictions(lite0_bundle):
    from report_lib.models.efficientnet_lite import load_efficientnet_lite0
    from report_lib.models.bundle import lite_preprocess

    images = lite_preprocess(load_images(list(EXPECTED_TOP1), 224).astype(np.float32))
    unfolded = load_efficientnet_lite0(fold_batch_norm=False).predict(images, verbose=0)
    np.testing.assert_allclose(lite0_bundle.model.predict(images, verbose=0), unfolded, atol=1e-5)


def test_bundle_metadata(lite0_bundle):
    assert lite0_bundle.input_size == 224
    assert lite0_bundle.cam_layer == "top_activation"
    assert lite0_bundle.dense_layers == ("predictions",)
    assert lite0_bundle.conv_layers[0] == "stem_conv" and lite0_bundle.conv_layers[-1] == "top_conv"
    assert lite0_bundle.model.get_layer("top_activation").output.shape[1:] == (7, 7, 1280)
