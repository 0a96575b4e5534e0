"""The explorer's widgets (ipywidgets): pick an image, a model, a class, a
method and a layer, and see the map and the top 5 update. Built only where
someone can click (see :func:`frontend_is_interactive`); the computing is in
``course.explorer``."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from report_lib.config import Profile
from report_lib.course.explorer import (EXPLORER_METHODS, INTERACTIVE_OCCLUSION_STRIDE, class_choices, explanations,
                                        figure_title, parse_class_choice)
from report_lib.course.plotting import plot_explanation
from report_lib.data.images import ImageSource, load_rgb, resize_rgb
from report_lib.methods.registry import METHODS, get_method
from report_lib.models.bundle import ModelBundle
from report_lib.models.classes import Prediction
from report_lib.models.layers import cam_layer_choices
from report_lib.models.registry import REGISTRY, VGG16, VGG16_RANDOM, load_model, vgg16_weights_status


def model_options(current: ModelBundle) -> list[str]:
    """The models the explorer offers: the current one, then the registry's
    (VGG16 with random weights is for tests only, so it is offered only when it is the current one)."""
    return [current.name, *(name for name in REGISTRY if name not in (current.name, VGG16_RANDOM))]


def load_explorer_model(name: str) -> ModelBundle:
    """Load a registry model for the explorer, refusing VGG16 quickly when
    its weights cannot be had (instead of a long failing download)."""
    if name == VGG16:
        available, reason = vgg16_weights_status()
        if not available:
            raise RuntimeError(reason)
    return load_model(name)


def frontend_is_interactive() -> bool:
    """Whether this code runs in a notebook someone can click in.

    Jupyter, JupyterLab, VS Code and Colab let the kernel ask for input;
    papermill, nbconvert and nbval run cells with input disabled, and there
    no one can use a widget.
    """
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    kernel = getattr(shell, "kernel", None)
    return bool(kernel is not None and getattr(kernel, "_allow_stdin", False))


def uploaded_files(value) -> list[tuple[str, bytes]]:
    """Name and content of each file in a ``FileUpload`` value (ipywidgets 7 or 8)."""
    if isinstance(value, dict):  # ipywidgets 7: {name: {"content": bytes, "metadata": ...}}
        return [(name, bytes(item["content"])) for name, item in value.items()]
    return [(item["name"], bytes(item["content"])) for item in value]  # ipywidgets 8: tuple of dicts


def open_explorer(
    bundle: ModelBundle,
    samples: Sequence[str],
    profile: Profile,
    seed: int = 0,
    interactive: bool | None = None,
) -> Explorer | None:
    """Show the explorer's widgets where someone can use them.

    Args:
        bundle: The model shown first.
        samples: Sample images offered.
        profile: Profile.
        seed: Seed of SmoothGrad.
        interactive: ``None`` decides by the frontend (``frontend_is_interactive``);
            ``True``/``False`` force it.

    Returns:
        The explorer, or ``None`` (with a note saying why) when widgets
        cannot run here.
    """
    from IPython.display import display

    if interactive is None:
        interactive = frontend_is_interactive()
    if not interactive:
        print("No one can click in this run (papermill, nbval, nbconvert or the HTML report), so the "
              "explorer's widgets are not shown; the figures above are its static view. Open the "
              "notebook in Jupyter or Colab to use them.")
        return None
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        print("The explorer needs ipywidgets (pip install ipywidgets); the figures above are its static view.")
        return None
    explorer = Explorer(bundle, samples, profile, seed, model_options(bundle))
    display(explorer.widget)
    return explorer


@dataclass
class ExplorerState:
    """What the explorer currently shows."""

    image_name: str = ""
    raw_image: np.ndarray | None = None
    model_name: str = ""
    class_id: int | None = None
    method: str = "gradcam"
    layer: str | None = None
    heatmap: np.ndarray | None = None
    top5: list[Prediction] = field(default_factory=list)


class Explorer:
    """Widgets to pick an image, a model, a class, a method and a layer, and
    see the map and the top 5 update.

    Args:
        bundle: The model shown first (already loaded).
        samples: Sample images offered; the first is shown first.
        profile: Profile.
        seed: Seed of SmoothGrad.
        model_names: Further models offered, loaded when first picked.
        load_bundle: Model name -> bundle, for those.
    """

    def __init__(
        self,
        bundle: ModelBundle,
        samples: Sequence[str],
        profile: Profile,
        seed: int = 0,
        model_names: Sequence[str] = (),
        load_bundle: Callable[[str], ModelBundle] | None = None,
    ):
        import ipywidgets as widgets

        self._load_bundle = load_bundle or load_explorer_model
        self._bundles: dict[str, ModelBundle] = {bundle.name: bundle}
        model_names = [bundle.name, *(name for name in model_names if name != bundle.name)]
        self.profile = dataclasses.replace(
            profile, occlusion_stride=max(profile.occlusion_stride, INTERACTIVE_OCCLUSION_STRIDE))
        self.seed = seed
        self.state = ExplorerState()
        self._busy = False
        wide = widgets.Layout(width="360px")
        self.image_picker = widgets.Dropdown(options=list(samples), value=samples[0],
                                             description="Image", layout=wide)
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="Upload")
        self.url = widgets.Text(placeholder="https://... (an image URL)", description="URL", layout=wide)
        self.url_button = widgets.Button(description="Load URL")
        self.model_picker = widgets.Dropdown(options=model_names, value=bundle.name,
                                             description="Model", layout=wide)
        # Not ensure_option: typing part of a name and pressing Enter must reach
        # parse_class_choice, which takes unique partial names and ids; a value
        # counts once typed (Enter or leaving the box), not at every keystroke.
        self.class_picker = widgets.Combobox(placeholder="type part of a class name, then Enter", description="Class",
                                             ensure_option=False, continuous_update=False, layout=wide)
        self.method_picker = widgets.Dropdown(options=[(METHODS[key].title, key) for key in EXPLORER_METHODS],
                                              value="gradcam", description="Method", layout=wide)
        self.layer_picker = widgets.Dropdown(description="Layer", layout=wide)
        self.status = widgets.HTML()
        self.output = widgets.Output()

        self._react(self.image_picker, self._on_sample)
        self._react(self.upload, self._on_upload)
        self.url_button.on_click(lambda _: self.set_image(self.url.value.strip()))
        self._react(self.model_picker, self.set_model)
        self._react(self.class_picker, self._on_class)
        self._react(self.method_picker, self.set_method)
        self._react(self.layer_picker, self.set_layer)

        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox([self.image_picker, widgets.HBox([self.url, self.url_button]), self.upload]),
                          widgets.VBox([self.model_picker, self.class_picker, self.method_picker, self.layer_picker])]),
            self.status,
            self.output,
        ])
        self.set_model(self.model_picker.value, refresh=False)
        self.set_image(self.image_picker.value)

    # --- what the widgets call ----------------------------------------------

    @property
    def bundle(self) -> ModelBundle:
        """The model in use."""
        return self._bundles[self.state.model_name]

    def set_model(self, name: str, refresh: bool = True) -> None:
        """Switch model (loading it the first time); on failure keep the current one."""
        try:
            if name not in self._bundles:
                self._say(f"loading {name} ...")
                self._bundles[name] = self._load_bundle(name)
        except Exception as error:  # a download refused offline, a bad file: say so, keep going
            self._say(f"could not load {name}: {error}", error=True)
            if self.state.model_name:
                self._quietly(lambda: setattr(self.model_picker, "value", self.state.model_name))
            return
        self.state.model_name = name
        layers = cam_layer_choices(self.bundle)
        self._quietly(lambda: setattr(self.layer_picker, "options", layers))
        self._quietly(lambda: setattr(self.layer_picker, "value", self.bundle.cam_layer))
        self.state.layer = self.bundle.cam_layer
        self._quietly(lambda: setattr(self.class_picker, "options", class_choices(self.bundle)))
        self.state.class_id = None  # the new model's top-1
        if refresh and self.state.raw_image is not None:
            self.refresh()

    def set_image(self, source: ImageSource, name: str | None = None) -> None:
        """Show another image (sample name, path, URL or bytes); a bad one is reported, not raised."""
        if isinstance(source, str) and not source:
            self._say("type an image URL first", error=True)
            return
        try:
            raw = load_rgb(source)
        except Exception as error:
            self._say(str(error), error=True)
            return
        self.state.raw_image = raw
        self.state.image_name = name or (source if isinstance(source, str) else "upload")
        self.state.class_id = None
        if self.image_picker.value != source:
            # An upload or a URL: no sample is shown now, so picking one again must count as a change.
            self._quietly(lambda: setattr(self.image_picker, "index", None))
        self.refresh()

    def set_class(self, class_id: int) -> None:
        """Explain another class."""
        self.state.class_id = class_id
        self.refresh()

    def set_method(self, method: str) -> None:
        """Use another method; the layer picker is active only for CAM methods."""
        self.state.method = method
        self.layer_picker.disabled = not get_method(method).uses_layer
        self.refresh()

    def set_layer(self, layer: str | None) -> None:
        """Compute CAM methods at another layer."""
        if layer is None or layer == self.state.layer:
            return
        self.state.layer = layer
        if get_method(self.state.method).uses_layer:
            self.refresh()

    def refresh(self) -> None:
        """Recompute the top 5 and the map, and redraw."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        if self.state.raw_image is None:
            return
        bundle, state = self.bundle, self.state
        image = resize_rgb(state.raw_image, bundle.input_size)
        self._say(f"computing {get_method(state.method).title} on {bundle.name} ...")
        try:
            top5, class_id, panels = explanations(bundle, image, [state.method], self.profile, state.class_id,
                                                  state.layer, self.seed)
        except Exception as error:  # shown in the status line; the explorer stays usable
            self._say(f"{get_method(state.method).title} failed: {error}", error=True)
            return
        state.class_id, state.top5, state.heatmap = class_id, top5, panels[0].maps[0]
        fig = plot_explanation(image, panels, top5, class_id, figure_title(bundle, state.image_name, class_id))
        self._quietly(lambda: setattr(self.class_picker, "value", class_choices(bundle)[class_id]))
        self.output.clear_output(wait=True)
        with self.output:
            display(fig)
        plt.close(fig)
        self._say("")

    # --- helpers ------------------------------------------------------------

    def _react(self, widget, handler: Callable) -> None:
        # Values set by the explorer itself (see _quietly) are not user choices.
        widget.observe(lambda change: None if self._busy else handler(change["new"]), names="value")

    def _on_sample(self, name: str | None) -> None:
        if name is not None:
            self.set_image(name)

    def _on_upload(self, value) -> None:
        files = uploaded_files(value)
        # Forget the upload once read: otherwise the same file uploaded again
        # (say after a sample) leaves the value unchanged, and nothing happens.
        self._quietly(self._clear_upload)
        if files:
            name, content = files[-1]
            self.set_image(content, name=name)

    def _on_class(self, text: str) -> None:
        if not text:
            return
        try:
            class_id = parse_class_choice(text, self.bundle)
        except ValueError as error:  # none or several match: say which, keep the view
            self._say(str(error), error=True)
            return
        self.set_class(class_id)

    def _clear_upload(self) -> None:
        if isinstance(self.upload.value, dict):  # ipywidgets 7: a read-only value, rebuilt at each upload
            self.upload.set_trait("value", {})
        else:  # ipywidgets 8
            self.upload.value = ()

    def _quietly(self, action: Callable[[], None]) -> None:
        # Run an update of the explorer's own widgets without their observers reacting.
        self._busy, busy = True, self._busy
        try:
            action()
        finally:
            self._busy = busy

    def _say(self, message: str, error: bool = False) -> None:
        colour = "#b00020" if error else "#555"
        self.status.value = f'<span style="color:{colour}">{message}</span>' if message else ""
