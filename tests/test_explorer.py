import dataclasses
import datetime
import io
import sys
import types

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from report_lib.attention import explainer_for
from report_lib.config import get_profile
from report_lib.explorer import (
    DISPLAY_PERCENTILE,
    EXPLORER_METHODS,
    LAYER_METHODS,
    Explorer,
    class_choices,
    explain,
    explanation_figure,
    frontend_is_interactive,
    layer_choices,
    layer_figure,
    layers_by_resolution,
    model_options,
    occlusion_drops,
    open_explorer,
    parse_class_choice,
    uploaded_files,
)
from report_lib.plotting import clip_maps

SETTINGS = dataclasses.replace(get_profile("quick"), occlusion_stride=2, smoothgrad_samples=8)
NAMES = ["red square", "blue square"]


@pytest.fixture(scope="module")
def named_bundle(tiny_bundle):
    return dataclasses.replace(tiny_bundle, class_names=NAMES, _cache={})


def _in_box(heatmap, box):
    top, left, bottom, right = box
    row, column = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    return top <= row < bottom and left <= column < right


def test_class_choices_and_parsing(named_bundle):
    assert class_choices(named_bundle) == ["red square (0)", "blue square (1)"]
    assert parse_class_choice("blue square (1)", named_bundle) == 1
    assert parse_class_choice("0", named_bundle) == 0
    assert parse_class_choice("Blue", named_bundle) == 1
    with pytest.raises(ValueError, match="matches 2 classes"):
        parse_class_choice("square", named_bundle)
    with pytest.raises(ValueError, match="no class matches"):
        parse_class_choice("green", named_bundle)
    with pytest.raises(ValueError, match="out of range"):
        parse_class_choice("7", named_bundle)


def test_imagenet_classes_are_searchable(tiny_bundle):
    imagenet = dataclasses.replace(tiny_bundle, class_names=None)
    assert len(class_choices(imagenet)) == 1000
    assert class_choices(imagenet)[285] == "Egyptian cat (285)"
    assert parse_class_choice("toaster", imagenet) == 859
    assert parse_class_choice("egyptian_cat", imagenet) == 285


def test_layer_choices_end_with_the_cam_layer(named_bundle):
    layers = layer_choices(named_bundle)
    assert layers[-1] == named_bundle.cam_layer
    assert len(layers) == len(set(layers)) >= 2


@pytest.mark.parametrize("method", ["gradcam", "gradcam_plus_plus", "scorecam", "occlusion"])
def test_region_methods_peak_on_the_object(named_bundle, tiny_test_set, method):
    images, labels, boxes = tiny_test_set
    for image, label, box in zip(images[:6], labels[:6], boxes[:6]):
        heatmap = explain(named_bundle, image, int(label), method, SETTINGS, seed=0)
        assert heatmap.shape == image.shape[:2]
        assert np.isfinite(heatmap).all() and heatmap.min() >= 0.0 and heatmap.max() <= 1.0
        assert _in_box(heatmap, box), f"{method}: the peak misses the square {box}"


@pytest.mark.parametrize("method", ["saliency", "smoothgrad"])
def test_gradient_maps_are_the_explainers_with_display_clipping(named_bundle, tiny_test_set, method):
    # On this tiny model pixel gradients do not concentrate on the square (test_attention checks
    # them against exact answers); the explorer only adds the display clipping.
    image, label = tiny_test_set[0][0], int(tiny_test_set[1][0])
    options = {"samples": SETTINGS.smoothgrad_samples, "seed": 5} if method == "smoothgrad" else {}
    expected = clip_maps(explainer_for(named_bundle).explain(method, image[None], label, **options), DISPLAY_PERCENTILE)
    np.testing.assert_array_equal(explain(named_bundle, image, label, method, SETTINGS, seed=5), expected[0])
    assert np.isclose(np.mean(expected == 1.0), 1 - DISPLAY_PERCENTILE / 100, atol=0.004)


def test_the_layer_changes_cam_maps_only(named_bundle, tiny_test_set):
    image, label = tiny_test_set[0][0], int(tiny_test_set[1][0])
    first, last = layer_choices(named_bundle)[0], named_bundle.cam_layer
    at_first = explain(named_bundle, image, label, "gradcam", SETTINGS, layer=first)
    at_last = explain(named_bundle, image, label, "gradcam", SETTINGS, layer=last)
    assert not np.allclose(at_first, at_last, atol=1e-3)
    with pytest.raises(ValueError, match="does not use a layer"):
        explain(named_bundle, image, label, "saliency", SETTINGS, layer=first)
    with pytest.raises(ValueError, match="unknown method"):
        explain(named_bundle, image, label, "lime", SETTINGS)


def test_smoothgrad_maps_are_seeded(named_bundle, tiny_test_set):
    image, label = tiny_test_set[0][0], int(tiny_test_set[1][0])
    first = explain(named_bundle, image, label, "smoothgrad", SETTINGS, seed=3)
    np.testing.assert_array_equal(first, explain(named_bundle, image, label, "smoothgrad", SETTINGS, seed=3))


def test_static_figure_explains_the_top_class(named_bundle, tiny_test_set):
    image = tiny_test_set[0][0]
    fig, class_id = explanation_figure(named_bundle, image, ["gradcam", "occlusion"], SETTINGS, title="synthetic")
    assert class_id == int(np.argmax(named_bundle.predict(image[None])[0]))
    assert len(fig.axes) == 4  # image, two maps, top-5 bars
    assert "explaining: " + class_choices(named_bundle)[class_id] in fig.axes[0].get_title()
    # Maps are scaled to [0, 1]; the occlusion panel keeps the size of the effect in its title.
    largest = occlusion_drops(named_bundle, image, class_id, SETTINGS).max()
    assert fig.axes[2].get_title() == f"Occlusion (largest drop {largest:.2f})"
    plt.close(fig)


def test_frontend_detection(monkeypatch):
    assert not frontend_is_interactive()  # plain Python: nobody to click

    def fake_ipython(allow_stdin):
        kernel = types.SimpleNamespace(_allow_stdin=allow_stdin)
        return types.SimpleNamespace(get_ipython=lambda: types.SimpleNamespace(kernel=kernel))

    monkeypatch.setitem(sys.modules, "IPython", fake_ipython(True))
    assert frontend_is_interactive()  # Jupyter, Colab
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython(False))
    assert not frontend_is_interactive()  # papermill, nbval, nbconvert


def test_uploads_of_both_widget_versions():
    assert uploaded_files({"a.png": {"content": b"x", "metadata": {}}}) == [("a.png", b"x")]
    assert uploaded_files(({"name": "b.jpg", "content": memoryview(b"yz")},)) == [("b.jpg", b"yz")]
    assert uploaded_files(()) == []


def test_model_options_put_the_current_model_first(named_bundle):
    assert model_options(named_bundle) == ["small_cnn", "vgg16", "efficientnet_lite0"]


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _upload(widget, name: str, content: bytes) -> None:
    """Fill a FileUpload as the browser does. ipywidgets 8 (Jupyter) syncs
    ``value``; ipywidgets 7 (Colab's 7.7.1) syncs ``metadata`` and ``data``,
    then bumps ``_counter``, from which it builds its read-only ``value``."""
    import ipywidgets

    if int(ipywidgets.__version__.split(".")[0]) >= 8:
        widget.value = ({"name": name, "content": memoryview(content), "type": "image/png",
                         "size": len(content), "last_modified": datetime.datetime(2026, 1, 1)},)
    else:
        widget.metadata = [{"name": name, "type": "image/png", "size": len(content), "lastModified": 0}]
        widget.data = [content]
        widget._counter += 1


def test_explorer_widgets_update_map_and_top5(named_bundle, tiny_test_set):
    pytest.importorskip("ipywidgets")
    images, labels, boxes = tiny_test_set
    other = dataclasses.replace(named_bundle, name="other_cnn", _cache={})
    loaded = []

    def load(name):
        loaded.append(name)
        if name == "broken":
            raise RuntimeError("weights unavailable")
        return other

    explorer = Explorer(named_bundle, ["chelsea", "coffee"], SETTINGS, model_names=["other_cnn", "broken"],
                        load_bundle=load)
    state = explorer.state
    assert state.image_name == "chelsea" and state.heatmap.shape == (32, 32)
    assert state.class_id == state.top5[0].index
    assert explorer.class_picker.value == class_choices(named_bundle)[state.class_id]

    # An upload (the synthetic image as a PNG) is explained at its top class.
    _upload(explorer.upload, "square.png", _png(images[1]))
    assert state.image_name == "square.png" and state.class_id == int(labels[1])
    assert _in_box(state.heatmap, boxes[1])

    # Another class, picked by name, is explained and highlighted.
    explorer.class_picker.value = class_choices(named_bundle)[1 - int(labels[1])]
    assert state.class_id == 1 - int(labels[1])

    # Occlusion takes no layer; the layer picker greys out.
    explorer.method_picker.value = "occlusion"
    assert explorer.layer_picker.disabled and state.method == "occlusion"
    explorer.method_picker.value = "gradcam"
    before = state.heatmap.copy()
    explorer.layer_picker.value = layer_choices(named_bundle)[0]
    assert not np.allclose(before, state.heatmap, atol=1e-3)

    # A bad URL is reported; the view stays.
    explorer.url.value = "/no/such/image.png"
    explorer.url_button.click()
    assert "no such file" in explorer.status.value and state.image_name == "square.png"

    # A model that fails to load is reported and the picker goes back.
    explorer.model_picker.value = "broken"
    assert "could not load broken: weights unavailable" in explorer.status.value
    assert explorer.model_picker.value == "small_cnn" and state.model_name == "small_cnn"

    # Another model is loaded once, on first use, and resets to its top class.
    explorer.model_picker.value = "other_cnn"
    explorer.model_picker.value = "small_cnn"
    explorer.model_picker.value = "other_cnn"
    assert loaded == ["broken", "other_cnn"] and state.model_name == "other_cnn"
    assert state.layer == other.cam_layer and state.class_id == state.top5[0].index


def test_methods_with_a_layer_are_the_cam_family():
    assert set(LAYER_METHODS) == {"gradcam", "gradcam_plus_plus", "scorecam"}


def test_layers_by_resolution_go_fine_to_coarse(named_bundle):
    layers = layers_by_resolution(named_bundle, count=2)
    sides = [named_bundle.layer(name).output.shape[1] for name in layers]
    assert len(layers) == 2 and sides[0] > sides[1] and layers[-1] == named_bundle.cam_layer


def test_layer_figure_has_one_panel_per_layer(named_bundle, tiny_test_set):
    layers = layers_by_resolution(named_bundle, count=2)
    fig = layer_figure(named_bundle, tiny_test_set[0][0], "gradcam", layers, SETTINGS, class_id=0)
    assert [axis.get_title().split(" (")[0] for axis in fig.axes[1:3]] == layers
    plt.close(fig)
    with pytest.raises(ValueError, match="does not use a layer"):
        layer_figure(named_bundle, tiny_test_set[0][0], "occlusion", layers, SETTINGS, class_id=0)


def test_open_explorer_only_where_someone_can_click(named_bundle, capsys):
    assert open_explorer(named_bundle, ["chelsea"], SETTINGS, interactive=None) is None
    assert "widgets are not shown" in capsys.readouterr().out
    pytest.importorskip("ipywidgets")
    explorer = open_explorer(named_bundle, ["chelsea"], SETTINGS, interactive=True)
    assert explorer is not None and explorer.state.heatmap is not None


def test_a_real_kernel_tells_clicking_frontends_from_unattended_runs():
    """The premise of frontend_is_interactive, in a real kernel: Jupyter and
    Colab send execute requests that allow input; papermill, nbclient and
    nbval do not."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    try:
        answers = {}
        for allow_stdin in (True, False):
            code = "from report_lib.explorer import frontend_is_interactive; print(frontend_is_interactive())"
            message_id = client.execute(code, allow_stdin=allow_stdin)
            printed = ""
            while True:
                message = client.get_iopub_msg(timeout=120)
                if message["parent_header"].get("msg_id") != message_id:
                    continue
                if message["msg_type"] == "stream" and message["content"]["name"] == "stdout":
                    printed += message["content"]["text"]
                if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                    break
            answers[allow_stdin] = printed.strip()
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert answers == {True: "True", False: "False"}
