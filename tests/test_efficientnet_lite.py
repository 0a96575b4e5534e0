import numpy as np
import pytest

from report_lib.efficientnet_lite import block_prefixes, build_efficientnet_lite0, torch_to_keras_weights
from report_lib.images import load_images
from report_lib.torch_weights import read_legacy_state_dict


def test_architecture_matches_the_weights_file():
    from report_lib.efficientnet_lite import weights_file

    state = read_legacy_state_dict(weights_file())
    mapped = torch_to_keras_weights(state)
    model = build_efficientnet_lite0()
    for layer in model.layers:
        if layer.weights:
            assert [w.shape for w in layer.get_weights()] == [v.shape for v in mapped[layer.name]], layer.name
    assert model.count_params() == 4_694_024
    assert len(block_prefixes()) == 16 == 1 + max(int(k.split(".")[1]) for k in state if k.startswith("_blocks."))


# Facts checked against the original PyTorch model (TF 'same' padding, (x - 127) / 128).
EXPECTED_TOP1 = {"chelsea": 285, "coffee": 967, "motorcycle": 665, "grace_hopper": 652}


def test_embedded_model_recognises_the_sample_images(lite0_bundle):
    images = load_images(list(EXPECTED_TOP1), lite0_bundle.input_size)
    probabilities = lite0_bundle.predict(images)
    assert probabilities.argmax(axis=1).tolist() == list(EXPECTED_TOP1.values())
    assert probabilities[0, 285] == pytest.approx(0.79, abs=0.02)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_bundle_metadata(lite0_bundle):
    assert lite0_bundle.input_size == 224
    assert lite0_bundle.cam_layer == "top_activation"
    assert lite0_bundle.dense_layers == ["predictions"]
    assert lite0_bundle.conv_layers[0] == "stem_conv" and lite0_bundle.conv_layers[-1] == "top_conv"
    assert lite0_bundle.model.get_layer("top_activation").output.shape[1:] == (7, 7, 1280)
