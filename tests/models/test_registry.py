import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

import report_lib.models.registry as models
from report_lib.models.registry import load_model, load_model_file, resolve_model_name, vgg16_weights_status


@pytest.fixture
def no_vgg16(monkeypatch, tmp_path):
    """No cached weights, and a download address that refuses at once."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("REPORT_MODEL", raising=False)
    monkeypatch.setattr(models, "VGG16_WEIGHTS_URL", "http://127.0.0.1:9/vgg16.h5")


def test_explicit_names_and_unknown_name():
    assert resolve_model_name("vgg16")[0] == "vgg16"
    assert resolve_model_name("efficientnet_lite0")[0] == "efficientnet_lite0"
    with pytest.raises(ValueError, match="unknown model 'resnet'.*'auto', 'vgg16', 'efficientnet_lite0', 'vgg16_random'"):
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
    assert bundle.name == "vgg16_random" and bundle.input_size == 224
    assert bundle.cam_layer == "block5_conv3"
    assert len(bundle.conv_layers) == 13 and bundle.conv_layers[0] == "block1_conv1"
    assert bundle.dense_layers == ("fc1", "fc2", "predictions")
    assert len(bundle.class_names) == 1000 and bundle.class_names[285] == "Egyptian_cat" and bundle.wnids[285] == "n02124075"


def test_random_vgg16_is_asked_for_by_name_and_says_so(monkeypatch):
    name, reason = resolve_model_name("vgg16_random")
    assert name == "vgg16_random" and "RANDOM WEIGHTS" in reason
    monkeypatch.setenv("REPORT_MODEL", "vgg16_random")
    name, reason = resolve_model_name("auto")
    assert name == "vgg16_random" and reason.startswith("$REPORT_MODEL=vgg16_random") and "RANDOM WEIGHTS" in reason


# --- your own model -----------------------------------------------------------


@pytest.fixture(scope="module")
def saved_model(tiny_bundle, tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "squares.keras"
    tiny_bundle.model.save(path)
    return path


def test_own_model_file_loads_with_its_metadata(saved_model, tiny_bundle, tiny_test_set):
    bundle = load_model(str(saved_model), preprocessing="unit", class_names=["red square", "blue square"])
    assert bundle.name == "squares" and bundle.cam_layer == "last_conv"
    assert bundle.conv_layers == ("conv1", "conv2", "last_conv") and bundle.input_size == 32
    images, labels, _ = tiny_test_set
    np.testing.assert_allclose(bundle.predict(images[:4]), tiny_bundle.predict(images[:4]), atol=1e-6)
    top = bundle.decode(bundle.predict(images[:1]), top=5)[0]
    assert len(top) == 2 and top[0].name in ("red square", "blue square")
    assert "model file" in bundle.choice


def test_own_model_errors(tmp_path, saved_model):
    with pytest.raises(FileNotFoundError, match="no model file"):
        load_model_file(tmp_path / "missing.keras")
    (tmp_path / "notes.keras").write_text("not a model")
    with pytest.raises(ValueError, match="could not be loaded as a Keras model"):
        load_model_file(tmp_path / "notes.keras")
    with pytest.raises(ValueError, match="unknown preprocessing 'imagenet'"):
        load_model_file(saved_model, preprocessing="imagenet")
    with pytest.raises(ValueError, match="3 class names given for a model with 2 classes"):
        load_model_file(saved_model, class_names=["a", "b", "c"])
    inputs = keras.Input((10,))
    keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs)).save(tmp_path / "table.keras")
    with pytest.raises(ValueError, match="not an image classifier: its input has shape"):
        load_model_file(tmp_path / "table.keras")


def test_unsafe_model_file_is_refused(tmp_path):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    x = keras.layers.Flatten()(keras.layers.Conv2D(2, 3)(x))
    keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x)).save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="safe mode"):
        load_model_file(tmp_path / "lambda.keras")


def test_attention_notebook_runs_on_an_own_model(saved_model, tiny_test_set, tmp_path, monkeypatch):
    import papermill
    from PIL import Image

    from report_lib.config import repo_root

    images = []
    for index, image in enumerate(tiny_test_set[0][:2]):
        Image.fromarray(image).save(tmp_path / f"square{index}.png")
        images.append(str(tmp_path / f"square{index}.png"))
    monkeypatch.setenv("REPORT_PROFILE", "quick")
    notebook = repo_root() / "notebooks" / "03_attention.ipynb"
    papermill.execute_notebook(
        str(notebook), str(tmp_path / "out.ipynb"), kernel_name="python3", cwd=str(notebook.parent), progress_bar=False,
        parameters={"model_name": str(saved_model), "images": images, "preprocessing": "unit",
                    "class_names": ["red square", "blue square"], "output_dir": str(tmp_path / "figures")},
    )
    # Every figure of the section is drawn for the own model too (the two-object
    # composites as well: they are sample photographs, whatever the classes).
    drawn = {p.stem for p in (tmp_path / "figures").glob("*") if p.suffix in (".png", ".jpg")}
    assert drawn == {"top5", "smoothgrad", "gradcam", "cam_family", "two_classes", "two_cats"}


def test_course_positions_map_to_the_same_relative_depths():
    from report_lib.models.layers import activated_output, depth_matched_layers, spatial_conv_layers
    from report_lib.models.registry import load_model

    vgg = load_model("vgg16_random")
    assert depth_matched_layers(vgg, [4, 7, 10, -1]) == ["block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"]
    assert activated_output(vgg, "block2_conv2") == "block2_conv2"  # VGG16's conv layers apply their ReLU
    lite = load_model("efficientnet_lite0")
    spatial = spatial_conv_layers(lite)
    assert len(spatial) == 17 and spatial[0] == "stem_conv" and all("expand" not in name for name in spatial)
    assert depth_matched_layers(lite, [4, 7, 10, -1]) == ["block3a_dwconv", "block4c_dwconv", "block6a_dwconv", "block7a_dwconv"]
    assert [activated_output(lite, name) for name in ("stem_conv", "block3a_dwconv", "top_conv", "block3a_project_conv")] == [
        "stem_activation", "block3a_activation", "top_activation", "block3a_project_conv"
    ]


def test_capped_relu_input_finds_the_layer_under_a_relu6_only():
    from report_lib.models.layers import capped_relu_input
    from report_lib.models.registry import load_model

    lite = load_model("efficientnet_lite0")
    assert capped_relu_input(lite, "stem_activation") == "stem_conv"
    assert capped_relu_input(lite, "block3a_activation") == "block3a_dwconv"
    assert capped_relu_input(lite, "stem_conv") is None  # not an activation
    vgg = load_model("vgg16_random")
    assert capped_relu_input(vgg, "block2_conv2") is None  # VGG16's ReLU is inside the conv, uncapped
