"""Single home of the project's settings: profiles, environment variables,
paths and the repository address."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

#: The public repository; the README badges and the Colab install cell are
#: generated from this one value (``python -m report_lib.publish.links``).
REPO_SLUG = "vis-cnn-course/visualising-cnns"
REPO_URL = f"https://github.com/{REPO_SLUG}"
REPO_BRANCH = "main"

PROFILE_ENV = "REPORT_PROFILE"
MODEL_ENV = "REPORT_MODEL"
OUTPUT_ENV = "REPORT_OUTPUT_DIR"
#: What each section writes beside its figures: model, profile, seed, versions, time.
RUN_FILE = "run.json"


@dataclass(frozen=True)
class Profile:
    """How much work each section does.

    Attributes:
        name: ``full`` (report quality), ``quick`` (tests) or ``smoke`` (the least
            work that still runs every code path: the VGG16 runs of ``make test``).
        smoothgrad_samples: Noisy copies averaged by SmoothGrad.
        scorecam_max_channels: Faster-Score-CAM limit on activation maps.
        lucid_steps: Optimization steps of the Lucid feature-visualization recipe.
        tf_keras_vis_steps: Steps of the tf-keras-vis recipe (and the animations).
        images_per_class: Feature visualizations per class, one seed each.
        filters_per_layer: Filters drawn from each deeper conv layer.
        first_layer_filters: Filters shown for each of the first two conv layers.
        animation_frames: Frames per animation (spaced densely early, where the image changes fast).
        example_crops: Augmented crops added to the images for dataset examples.
        occlusion_stride: Step of the sliding grey patch of occlusion maps, in pixels.
        patch_steps: Training steps of the adversarial patch.
        patch_crops: Augmented crops per training photograph of the patch (its test photographs are never cropped).
        patch_placements: Random placements per held-out photograph and patch size when measuring success.
        sanity_groups: Layer blocks randomized in the sanity check, from the
            output down (``None``: all of them).
        crops_per_class: Images per class in the train, validation and test splits.
        transfer_epochs: Epochs of the new head on the frozen base.
        scratch_epochs: Epochs of the same architecture trained from random weights.
        finetune_epochs: Epochs of fine-tuning the last conv block.
        evolution_epochs: Epochs at which filter evolution is recorded (0 = before training).
        evaluation_photos: Sample photographs section 09 evaluates.
        evaluation_composites: Two-object composites (with boxes) section 09 adds.
        evaluation_steps: Steps of the deletion and insertion curves.
        road_fractions: Fractions of pixels ROAD removes.
        sanity_images: Images of the cascading-randomization check.
        evaluation_occlusion_stride: Occlusion stride in section 09 (many images).
        patch_snapshot_every: Steps between the copies of the patch whose success is measured during training.
        patch_pointing_placements: Random placements per held-out photograph in the patch's pointing game.
    """

    name: str
    smoothgrad_samples: int
    scorecam_max_channels: int
    lucid_steps: int
    tf_keras_vis_steps: int
    images_per_class: int
    filters_per_layer: int
    first_layer_filters: int
    animation_frames: int
    example_crops: int
    occlusion_stride: int
    patch_steps: int
    patch_crops: int
    patch_placements: int
    sanity_groups: int | None
    crops_per_class: tuple[int, int, int]
    transfer_epochs: int
    scratch_epochs: int
    finetune_epochs: int
    evolution_epochs: tuple[int, ...]
    evaluation_photos: int = 6
    evaluation_composites: int = 8
    evaluation_steps: int = 16
    road_fractions: tuple[float, ...] = (0.5,)
    sanity_images: int = 8
    evaluation_occlusion_stride: int = 16
    patch_snapshot_every: int = 100
    patch_pointing_placements: int = 24

    def splits(self) -> dict[str, int]:
        """Images per class of each split: ``{"train": ..., "validation": ..., "test": ...}``."""
        return dict(zip(("train", "validation", "test"), self.crops_per_class))

    def steps(self, recipe: str) -> int:
        """Optimization steps for a feature-visualization recipe."""
        return {"lucid": self.lucid_steps, "tf-keras-vis": self.tf_keras_vis_steps}[recipe]


PROFILES: dict[str, Profile] = {
    "full": Profile(
        "full", smoothgrad_samples=50, scorecam_max_channels=128, lucid_steps=512, tf_keras_vis_steps=200,
        images_per_class=3, filters_per_layer=8, first_layer_filters=64, animation_frames=30, example_crops=96,
        occlusion_stride=8, patch_steps=600, patch_crops=24, patch_placements=8, sanity_groups=None,
        crops_per_class=(48, 16, 16), transfer_epochs=10, scratch_epochs=30, finetune_epochs=5,
        evolution_epochs=(0, 1, 2, 4, 8, 15, 25), evaluation_photos=6, evaluation_composites=8, evaluation_steps=16,
        road_fractions=(0.5,), sanity_images=8, evaluation_occlusion_stride=16,
        patch_snapshot_every=100, patch_pointing_placements=24,
    ),
    "quick": Profile(
        "quick", smoothgrad_samples=4, scorecam_max_channels=8, lucid_steps=6, tf_keras_vis_steps=6,
        images_per_class=1, filters_per_layer=4, first_layer_filters=8, animation_frames=3, example_crops=4,
        occlusion_stride=48, patch_steps=3, patch_crops=2, patch_placements=1, sanity_groups=2,
        crops_per_class=(3, 2, 2), transfer_epochs=1, scratch_epochs=1, finetune_epochs=1, evolution_epochs=(0, 1),
        evaluation_photos=2, evaluation_composites=2, evaluation_steps=8, road_fractions=(0.5,), sanity_images=2,
        evaluation_occlusion_stride=48,
        patch_snapshot_every=1, patch_pointing_placements=1,
    ),
}
# VGG16 costs about 25 times EfficientNet-Lite0's forward pass on a CPU (0.6 s
# an image on one core): ``make test`` runs every section with it in this
# profile, the quick one cut to one or two of everything, which still
# exercises each branch once.
PROFILES["smoke"] = replace(
    PROFILES["quick"], name="smoke", smoothgrad_samples=2, scorecam_max_channels=2, lucid_steps=2,
    tf_keras_vis_steps=2, filters_per_layer=2, first_layer_filters=4, animation_frames=2, example_crops=2,
    occlusion_stride=112, patch_steps=1, patch_crops=1, sanity_groups=1, crops_per_class=(2, 1, 1),
    evaluation_photos=1, evaluation_composites=1, evaluation_steps=2, sanity_images=1, evaluation_occlusion_stride=112,
)
DEFAULT_PROFILE = "full"


def get_profile(name: str | None = None) -> Profile:
    """Resolve a profile from its name, else ``$REPORT_PROFILE``, else ``full``.

    Args:
        name: ``"full"``, ``"quick"``, ``"smoke"`` or ``None``.

    Returns:
        The profile.

    Raises:
        ValueError: Unknown profile name.
    """
    chosen = name or os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE
    try:
        return PROFILES[chosen]
    except KeyError:
        raise ValueError(f"unknown profile {chosen!r}; choose one of {sorted(PROFILES)}") from None


def data_file(name: str, timeout: float = 10.0) -> Path:
    """A file of the repository's ``data/`` folder.

    From the checkout when there is one; otherwise (e.g. Colab, where only
    report_lib is installed) downloaded once from the repository into
    ``build/data/``.

    Args:
        name: File name inside ``data/``.
        timeout: Seconds to wait for the download.

    Returns:
        Local path of the file.

    Raises:
        FileNotFoundError: Not in the checkout and not downloadable.
    """
    root = repo_root()
    if root is not None:
        path = root / "data" / name
        if not path.exists():
            raise FileNotFoundError(f"no data file {path}")
        return path
    cached = build_dir() / "data" / name
    if not cached.exists():
        import urllib.request

        url = f"https://raw.githubusercontent.com/{REPO_SLUG}/{REPO_BRANCH}/data/{name}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                content = response.read()
        except OSError as error:
            raise FileNotFoundError(f"data file {name!r} is not in a checkout and could not be downloaded from {url}: {error}") from None
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(content)
    return cached


#: Section notebooks are the numbered ones: ``01_dense_layers.ipynb``, ...
SECTION_NOTEBOOKS = "[0-9]*.ipynb"


def section_notebooks(folder: str | Path) -> list[Path]:
    """The section notebooks of a folder (``notebooks/``, ``build/executed/``), in order."""
    return sorted(Path(folder).glob(SECTION_NOTEBOOKS))


def repo_root() -> Path | None:
    """The checkout this package lives in, or ``None`` when installed elsewhere."""
    candidate = Path(__file__).resolve().parent.parent
    return candidate if (candidate / "pyproject.toml").exists() and (candidate / "notebooks").is_dir() else None


def build_dir() -> Path:
    """``build/`` of the checkout, or of the working folder (e.g. in Colab)."""
    return (repo_root() or Path.cwd()) / "build"


def figures_dir(section: str, output_dir: str | Path | None = None) -> Path:
    """Folder where a section writes its figures (created if needed).

    Args:
        section: Notebook stem, e.g. ``"03_attention"``.
        output_dir: Explicit folder; else ``$REPORT_OUTPUT_DIR/<section>``,
            else ``build/figures/<section>``.

    Returns:
        The folder.
    """
    if output_dir:
        folder = Path(output_dir)
    elif os.environ.get(OUTPUT_ENV):
        folder = Path(os.environ[OUTPUT_ENV]) / section
    else:
        folder = build_dir() / "figures" / section
    folder.mkdir(parents=True, exist_ok=True)
    return folder
