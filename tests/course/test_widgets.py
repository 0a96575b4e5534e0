import dataclasses
import datetime
import io
import sys
import types

import numpy as np
import pytest
from PIL import Image

from report_lib.config import get_profile
from report_lib.course.explorer import class_choices
from report_lib.course.widgets import Explorer, frontend_is_interactive, model_options, open_explorer, uploaded_files
from report_lib.models.layers import cam_layer_choices

SETTINGS = dataclasses.replace(get_profile("quick"), occlusion_stride=2, smoothgrad_samples=8)


@pytest.fixture(scope="module")
def named_bundle(tiny_bundle):
    return tiny_bundle


def _in_box(heatmap, box):
    top, left, bottom, right = box
    row, column = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    return top <= row < bottom and left <= column < right


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _upload(widget, name: str, content: bytes, counter: int = 1) -> None:
    """Fill a FileUpload as the browser does. ipywidgets 8 (Jupyter) syncs
    ``value``; ipywidgets 7 (Colab's 7.7.1) syncs ``metadata`` and ``data``,
    then bumps ``_counter``, from which it builds its read-only ``value``."""
    import ipywidgets

    if int(ipywidgets.__version__.split(".")[0]) >= 8:
        widget.value = ({"name": name, "content": memoryview(content), "type": "image/png",
                         "size": len(content), "last_modified": datetime.datetime(2026, 1, counter)},)
    else:
        widget.metadata = [{"name": name, "type": "image/png", "size": len(content), "lastModified": counter}]
        widget.data = [content]
        widget._counter += 1



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


def test_explorer_widgets_update_map_and_top5(named_bundle, tiny_test_set):
    pytest.importorskip("ipywidgets")
    images, labels, boxes = tiny_test_set
    other = dataclasses.replace(named_bundle, name="other_cnn")
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
    assert not explorer.class_picker.ensure_option and not explorer.class_picker.continuous_update

    # An upload (the synthetic image as a PNG) is explained at its top class.
    _upload(explorer.upload, "square.png", _png(images[1]))
    assert state.image_name == "square.png" and state.class_id == int(labels[1])
    assert _in_box(state.heatmap, boxes[1])

    # After an upload no sample is selected, so picking the first sample again reloads it.
    assert explorer.image_picker.value is None
    explorer.image_picker.value = "chelsea"
    assert state.image_name == "chelsea"
    _upload(explorer.upload, "square.png", _png(images[1]), counter=2)
    assert state.image_name == "square.png" and explorer.image_picker.value is None

    # Another class, picked from the list, is explained and highlighted.
    explorer.class_picker.value = class_choices(named_bundle)[1 - int(labels[1])]
    assert state.class_id == 1 - int(labels[1])
    # Typing part of a name (then Enter) finds the class; an ambiguous part is reported and changes nothing.
    explorer.class_picker.value = "red"
    assert state.class_id == 0 and explorer.class_picker.value == "red square (0)"
    explorer.class_picker.value = "square"
    assert "matches 2 classes" in explorer.status.value and state.class_id == 0
    explorer.class_picker.value = class_choices(named_bundle)[1 - int(labels[1])]

    # Occlusion takes no layer; the layer picker greys out.
    explorer.method_picker.value = "occlusion"
    assert explorer.layer_picker.disabled and state.method == "occlusion"
    explorer.method_picker.value = "gradcam"
    before = state.heatmap.copy()
    explorer.layer_picker.value = cam_layer_choices(named_bundle)[0]
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


def test_the_same_file_uploaded_again_is_shown_again(named_bundle, tiny_test_set):
    """Found in JupyterLab: a file uploaded a second time (after a sample, say)
    gave the FileUpload the value it already had, so nothing happened."""
    pytest.importorskip("ipywidgets")
    images, labels, _ = tiny_test_set
    explorer = Explorer(named_bundle, ["chelsea", "coffee"], SETTINGS)
    for _ in range(2):
        _upload(explorer.upload, "square.png", _png(images[1]))  # the same name, content and date each time
        assert explorer.state.image_name == "square.png" and explorer.state.class_id == int(labels[1])
        assert uploaded_files(explorer.upload.value) == []  # forgotten once read
        explorer.image_picker.value = "chelsea"
        assert explorer.state.image_name == "chelsea"


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
            code = "from report_lib.course.widgets import frontend_is_interactive; print(frontend_is_interactive())"
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
