"""The interactive explorer: one image, one model, one class, one method.

The computing part (``explain``, ``class_choices``, ``layer_choices``) is plain
functions, used both by the widgets and by the static figure that stands in
for them when no one can click (papermill, nbval, the HTML report). The
widgets (``Explorer``) need ``ipywidgets`` and are built only on demand.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from typing import Callable, Sequence

import matplotlib.figure
import numpy as np

from report_lib.attention import METHODS, explainer_for, normalize_maps
from report_lib.config import Profile
from report_lib.imagenet import Prediction, class_names, matching_classes
from report_lib.images import ImageSource, load_rgb, resize_rgb
from report_lib.models import REGISTRY, VGG16, ModelBundle, load_model, vgg16_weights_status
from report_lib.occlusion import occlusion_side, sensitivity_map
from report_lib.plotting import clip_maps, plot_explanation

#: Method id -> title, in the order the explorer offers them.
EXPLORER_METHODS: dict[str, str] = {**METHODS, "occlusion": "Occlusion"}
#: Methods computed at a layer of the model (the others work on the pixels).
LAYER_METHODS = ("gradcam", "gradcam_plus_plus", "scorecam")
#: Gradient maps have a few extreme pixels; their brightest 0.5% are clipped for display.
GRADIENT_METHODS = ("saliency", "smoothgrad")
DISPLAY_PERCENTILE = 99.5
#: Occlusion in the widgets slides its square at least this far per step: a
#: quarter of the forward passes of the report's 8 px (VGG16 on 2 CPU cores:
#: about 10 s instead of 40 s).
INTERACTIVE_OCCLUSION_STRIDE = 16


def class_names_of(bundle: ModelBundle) -> list[str]:
    """The model's class names: its own, or the 1000 ImageNet names."""
    return list(bundle.class_names) if bundle.class_names is not None else class_names()


def class_choices(bundle: ModelBundle) -> list[str]:
    """One searchable label per class, ``"Egyptian cat (285)"``, in class order."""
    return [f"{name.replace('_', ' ')} ({index})" for index, name in enumerate(class_names_of(bundle))]


def parse_class_choice(text: str, bundle: ModelBundle) -> int:
    """The class id a user typed or picked.

    Args:
        text: A label from ``class_choices``, a class id, or a (part of a)
            class name that matches exactly one class.
        bundle: The model.

    Returns:
        The class id.

    Raises:
        ValueError: Nothing, or more than one class, matches.
    """
    text = text.strip()
    choices = class_choices(bundle)
    if text in choices:
        return choices.index(text)
    if text.isdigit():
        if int(text) < len(choices):
            return int(text)
        raise ValueError(f"class id {text} is out of range: the model has {len(choices)} classes")
    matches = matching_classes(text, class_names_of(bundle))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ValueError(f"no class matches {text!r}")
    shown = ", ".join(choices[i] for i in matches[:8])
    raise ValueError(f"{text!r} matches {len(matches)} classes: {shown}{', ...' if len(matches) > 8 else ''}")


def layer_choices(bundle: ModelBundle) -> list[str]:
    """Layers a CAM method can use: the spatial conv layers, ending with the CAM layer."""
    spatial = [name for name in bundle.conv_layers if len(bundle.layer(name).output.shape) == 4]
    return [name for name in spatial if name != bundle.cam_layer] + [bundle.cam_layer]


def explain(
    bundle: ModelBundle,
    image: np.ndarray,
    class_id: int,
    method: str,
    settings: Profile,
    layer: str | None = None,
    seed: int = 0,
) -> np.ndarray:
    """One attention map, ready to draw.

    Args:
        bundle: The model.
        image: ``(size, size, 3)`` RGB in ``[0, 255]`` at the model's input size.
        class_id: The class to explain.
        method: A key of ``EXPLORER_METHODS``.
        settings: Profile (SmoothGrad samples, Score-CAM channels, occlusion stride).
        layer: CAM layer for the methods in ``LAYER_METHODS``; ``bundle.cam_layer`` when ``None``.
        seed: Seed of SmoothGrad's noise.

    Returns:
        ``(size, size)`` map in ``[0, 1]``; gradient maps with their brightest
        pixels clipped, occlusion maps with only the drops (hiding the
        region lowered the class probability).
    """
    if method not in EXPLORER_METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(EXPLORER_METHODS)}")
    if layer is not None and method not in LAYER_METHODS:
        raise ValueError(f"{EXPLORER_METHODS[method]} does not use a layer; only {list(LAYER_METHODS)} do")
    if method == "occlusion":
        return _drops_to_map(occlusion_drops(bundle, image, class_id, settings))
    options = {
        "smoothgrad": {"samples": settings.smoothgrad_samples, "seed": seed},
        "scorecam": {"max_channels": settings.scorecam_max_channels},
    }.get(method, {})
    explainer = explainer_for(bundle, layer if method in LAYER_METHODS else None)
    heatmap = explainer.explain(method, image[None], class_id, **options)
    return clip_maps(heatmap, DISPLAY_PERCENTILE)[0] if method in GRADIENT_METHODS else heatmap[0]


def occlusion_drops(bundle: ModelBundle, image: np.ndarray, class_id: int, settings: Profile) -> np.ndarray:
    """Occlusion's raw map: the drop of the class probability when a grey square
    a seventh of the image wide covers each pixel (``occlusion.sensitivity_map``)."""
    return sensitivity_map(bundle, image, class_id, patch=occlusion_side(bundle.input_size),
                           stride=settings.occlusion_stride)


def _drops_to_map(drops: np.ndarray) -> np.ndarray:
    return normalize_maps(np.maximum(drops, 0.0)[None])[0]


def _panel(
    bundle: ModelBundle, image: np.ndarray, class_id: int, method: str, settings: Profile, layer: str | None, seed: int
) -> tuple[str, np.ndarray]:
    """Title and map of one method's panel. Maps are scaled to [0, 1] for
    display, which hides how much occlusion changes the probability, so its
    title says it."""
    if method == "occlusion":
        drops = occlusion_drops(bundle, image, class_id, settings)
        return f"Occlusion (largest drop {drops.max():.2f})", _drops_to_map(drops)
    layer = layer if method in LAYER_METHODS else None
    title = EXPLORER_METHODS[method] + (f" @ {layer or bundle.cam_layer}" if method in LAYER_METHODS else "")
    return title, explain(bundle, image, class_id, method, settings, layer, seed)


def explanation_figure(
    bundle: ModelBundle,
    image: np.ndarray,
    methods: Sequence[str],
    settings: Profile,
    class_id: int | None = None,
    layer: str | None = None,
    seed: int = 0,
    title: str = "",
) -> tuple[matplotlib.figure.Figure, int]:
    """The explorer's view of one image: its maps for one class and its top 5.

    Args:
        bundle: The model.
        image: ``(size, size, 3)`` at the model's input size.
        methods: Keys of ``EXPLORER_METHODS``, one panel each.
        settings: Profile.
        class_id: Class to explain; the top-1 class when ``None``.
        layer: CAM layer (used by the methods that take one).
        seed: Seed of SmoothGrad.
        title: Name of the image.

    Returns:
        The figure and the explained class id.
    """
    top5, class_id, maps = _explanations(bundle, image, methods, settings, class_id, layer, seed)
    return plot_explanation(image, maps, top5, class_id, _figure_title(bundle, title, class_id)), class_id


def _explanations(
    bundle: ModelBundle, image: np.ndarray, methods: Sequence[str], settings: Profile,
    class_id: int | None, layer: str | None, seed: int,
) -> tuple[list[Prediction], int, dict[str, np.ndarray]]:
    """Top 5, explained class (the top 1 when ``None``) and panel title -> map."""
    top5 = top_classes(bundle, image)
    class_id = top5[0].index if class_id is None else class_id
    return top5, class_id, dict(_panel(bundle, image, class_id, method, settings, layer, seed) for method in methods)


def layers_by_resolution(bundle: ModelBundle, count: int = 3) -> list[str]:
    """The last layer at each of the model's ``count`` coarsest feature-map sizes,
    fine to coarse (e.g. VGG16: ``block3_conv3``, ``block4_conv3``, ``block5_conv3``)."""
    last_at_size: dict[int, str] = {}
    for name in layer_choices(bundle):
        last_at_size[bundle.layer(name).output.shape[1]] = name
    return [last_at_size[side] for side in sorted(last_at_size, reverse=True)][-count:]


def layer_figure(
    bundle: ModelBundle,
    image: np.ndarray,
    method: str,
    layers: Sequence[str],
    settings: Profile,
    class_id: int,
    title: str = "",
) -> matplotlib.figure.Figure:
    """One CAM method at several layers of the model, for one class.

    Args:
        bundle: The model.
        image: ``(size, size, 3)`` at the model's input size.
        method: One of ``LAYER_METHODS``.
        layers: Layer names, one panel each.
        settings: Profile.
        class_id: Class to explain.
        title: Name of the image.

    Returns:
        The figure.
    """
    if method not in LAYER_METHODS:
        raise ValueError(f"{method!r} does not use a layer; choose one of {list(LAYER_METHODS)}")
    maps = {}
    for layer in layers:
        side = bundle.layer(layer).output.shape[1]
        maps[f"{layer} ({side} x {side})"] = explain(bundle, image, class_id, method, settings, layer)
    return plot_explanation(image, maps, top_classes(bundle, image), class_id, _figure_title(bundle, title, class_id))


def top_classes(bundle: ModelBundle, image: np.ndarray, top: int = 5) -> list[Prediction]:
    """The model's top classes for one image at its input size."""
    return bundle.decode(bundle.predict(image[None]), top=top)[0]


def _figure_title(bundle: ModelBundle, image_name: str, class_id: int) -> str:
    return f"{image_name}\nexplaining: {class_choices(bundle)[class_id]}".strip()


def model_options(current: ModelBundle) -> list[str]:
    """The models the explorer offers: the current one, then the registry's."""
    return [current.name, *(name for name in REGISTRY if name != current.name)]


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
    settings: Profile,
    seed: int = 0,
    interactive: bool | None = None,
) -> Explorer | None:
    """Show the explorer's widgets where someone can use them.

    Args:
        bundle: The model shown first.
        samples: Sample images offered.
        settings: Profile.
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
    explorer = Explorer(bundle, samples, settings, seed, model_options(bundle))
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
        settings: Profile.
        seed: Seed of SmoothGrad.
        model_names: Further models offered, loaded when first picked.
        load_bundle: Model name -> bundle, for those.
    """

    def __init__(
        self,
        bundle: ModelBundle,
        samples: Sequence[str],
        settings: Profile,
        seed: int = 0,
        model_names: Sequence[str] = (),
        load_bundle: Callable[[str], ModelBundle] | None = None,
    ):
        import ipywidgets as widgets

        self._load_bundle = load_bundle or load_explorer_model
        self._bundles: dict[str, ModelBundle] = {bundle.name: bundle}
        model_names = [bundle.name, *(name for name in model_names if name != bundle.name)]
        self.settings = dataclasses.replace(
            settings, occlusion_stride=max(settings.occlusion_stride, INTERACTIVE_OCCLUSION_STRIDE))
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
        self.class_picker = widgets.Combobox(placeholder="type to search a class", description="Class",
                                             ensure_option=True, layout=wide)
        self.method_picker = widgets.Dropdown(options=[(title, key) for key, title in EXPLORER_METHODS.items()],
                                              value="gradcam", description="Method", layout=wide)
        self.layer_picker = widgets.Dropdown(description="Layer", layout=wide)
        self.status = widgets.HTML()
        self.output = widgets.Output()

        self._react(self.image_picker, self.set_image)
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
        layers = layer_choices(self.bundle)
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
        self.refresh()

    def set_class(self, class_id: int) -> None:
        """Explain another class."""
        self.state.class_id = class_id
        self.refresh()

    def set_method(self, method: str) -> None:
        """Use another method; the layer picker is active only for CAM methods."""
        self.state.method = method
        self.layer_picker.disabled = method not in LAYER_METHODS
        self.refresh()

    def set_layer(self, layer: str | None) -> None:
        """Compute CAM methods at another layer."""
        if layer is None or layer == self.state.layer:
            return
        self.state.layer = layer
        if self.state.method in LAYER_METHODS:
            self.refresh()

    def refresh(self) -> None:
        """Recompute the top 5 and the map, and redraw."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        if self.state.raw_image is None:
            return
        bundle, state = self.bundle, self.state
        image = resize_rgb(state.raw_image, bundle.input_size)
        self._say(f"computing {EXPLORER_METHODS[state.method]} on {bundle.name} ...")
        try:
            top5, class_id, maps = _explanations(bundle, image, [state.method], self.settings, state.class_id,
                                                 state.layer, self.seed)
        except Exception as error:  # shown in the status line; the explorer stays usable
            self._say(f"{EXPLORER_METHODS[state.method]} failed: {error}", error=True)
            return
        state.class_id, state.top5, state.heatmap = class_id, top5, next(iter(maps.values()))
        fig = plot_explanation(image, maps, top5, class_id, _figure_title(bundle, state.image_name, class_id))
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

    def _on_upload(self, value) -> None:
        files = uploaded_files(value)
        if files:
            name, content = files[-1]
            self.set_image(content, name=name)

    def _on_class(self, text: str) -> None:
        if not text:
            return
        try:
            self.set_class(parse_class_choice(text, self.bundle))
        except ValueError as error:
            self._say(str(error), error=True)

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
