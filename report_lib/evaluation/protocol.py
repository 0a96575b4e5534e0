"""The evaluation protocol: which metrics exist, which way each is better,
and every setting that changes their numbers, written beside the results
as a protocol card."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Sequence

from report_lib.data.images import IMAGENET_CROP_FRACTION
from report_lib.evaluation.road import DEFAULT_FRACTIONS, DEFAULT_NOISE
from report_lib.methods.occlusion import OCCLUDER_VALUE

#: Metric -> True if higher is better.
HIGHER_IS_BETTER: dict[str, bool] = {
    "deletion": False,
    "insertion": True,
    "road_morf": False,
    "road_lerf": True,
    "average_drop": False,
    "increase_in_confidence": True,
    "pointing_game": True,
}
METRICS = tuple(HIGHER_IS_BETTER)
#: The unit of each metric's value (per image and as a mean over images), for axes and tables.
METRIC_UNITS: dict[str, str] = {
    "deletion": "area under the curve (probability, 0-1)",
    "insertion": "area under the curve (probability, 0-1)",
    "road_morf": "mean target probability (0-1)",
    "road_lerf": "mean target probability (0-1)",
    "average_drop": "drop in target probability (%)",
    "increase_in_confidence": "images with higher probability (%)",
    "pointing_game": "share of images hit (0-1)",
}
#: Names that stand for several metrics.
METRIC_GROUPS: dict[str, tuple[str, ...]] = {
    "road": ("road_morf", "road_lerf"),
    "ad_ic": ("average_drop", "increase_in_confidence"),
    "curves": ("deletion", "insertion"),
    "all": METRICS,
}
#: What each metric's value is, for the protocol card and tables.
METRIC_DEFINITIONS: dict[str, str] = {
    "deletion": "area under the target's softmax probability as the map's top pixels are set to the grey baseline, "
                "0% to 100% in equal steps (Petsiuk et al. 2018); lower is better",
    "insertion": "area under the target's softmax probability as the map's top pixels are put back into a blurred "
                 "copy, 0% to 100% in equal steps; higher is better",
    "road_morf": "ROAD (Rong et al. 2022), most relevant first: mean target probability over the removal fractions, "
                 "removed pixels filled by noisy linear imputation; lower is better",
    "road_lerf": "ROAD, least relevant first: mean target probability over the removal fractions; higher is better",
    "average_drop": "100 * max(0, p - p_kept) / p per image, where p_kept is the target probability with only the "
                    "map's top keep_fraction of pixels kept (the rest grey); the mean over images is the Score-CAM "
                    "paper's Average Drop; lower is better",
    "increase_in_confidence": "100 if p_kept > p else 0 per image; the mean over images is the Score-CAM paper's "
                              "Increase in Confidence; higher is better",
    "pointing_game": "1 if the map's maximum falls inside the object box grown by pointing_tolerance pixels, else 0 "
                     "(Zhang et al. 2016); only images with a box; higher is better",
}


def expand_metrics(names: Sequence[str]) -> tuple[str, ...]:
    """Metric names with groups (``road``, ``ad_ic``, ``curves``, ``all``) expanded, in a fixed order.

    Raises:
        ValueError: An unknown name (the valid ones are listed).
    """
    chosen: set[str] = set()
    for name in names:
        if name in METRIC_GROUPS:
            chosen.update(METRIC_GROUPS[name])
        elif name in HIGHER_IS_BETTER:
            chosen.add(name)
        else:
            raise ValueError(f"unknown metric {name!r}; choose from {list(METRICS)} or the groups {list(METRIC_GROUPS)}")
    if not chosen:
        raise ValueError("name at least one metric")
    return tuple(m for m in METRICS if m in chosen)


@dataclass(frozen=True)
class Protocol:
    """Every setting that changes an evaluation's numbers.

    Attributes:
        steps: Steps of the deletion and insertion curves (``steps + 1`` points).
        baseline: Grey value (0..255) that removed pixels take in deletion and average drop.
        insertion_blur_sigma: Gaussian blur (pixels) of the image insertion starts from.
        keep_fraction: Share of pixels kept for average drop / increase in
            confidence (the Score-CAM protocol keeps the top 50%).
        road_fractions: Fractions of pixels ROAD removes.
        road_noise: ROAD's imputation noise, as a fraction of the 0..255 range.
        pointing_tolerance: Pixels (of the model's input) the box is grown by
            for the pointing game (15 in Zhang et al. 2016).
        score: What is measured: the softmax probability of the target class.
        target: ``"label"`` (the given class; the predicted one where no label
            is given) or ``"predicted"`` (the model's top-1 class).
        crop: ``"centre"`` (ImageNet evaluation: shorter side to
            ``size / crop_fraction``, central square) or ``"none"`` (squash).
        crop_fraction: See ``crop``.
        seed: Seeds ROAD's tie-break and noise and the random methods, per image
            (from the image id), so an image's numbers do not depend on its batch.
    """

    steps: int = 32
    baseline: float = OCCLUDER_VALUE
    insertion_blur_sigma: float = 10.0
    keep_fraction: float = 0.5
    road_fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    road_noise: float = DEFAULT_NOISE
    pointing_tolerance: int = 15
    score: str = "softmax"
    target: str = "label"
    crop: str = "centre"
    crop_fraction: float = IMAGENET_CROP_FRACTION
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        if not 0 < self.keep_fraction < 1:
            raise ValueError(f"keep_fraction must be in (0, 1), got {self.keep_fraction}")
        if self.target not in ("label", "predicted"):
            raise ValueError(f"target must be 'label' or 'predicted', got {self.target!r}")
        if self.score != "softmax":
            raise ValueError("only score='softmax' is implemented (the models end in a softmax)")
        if self.crop not in ("centre", "none"):
            raise ValueError(f"crop must be 'centre' or 'none', got {self.crop!r}")
        if not self.road_fractions or any(not 0 <= f < 1 for f in self.road_fractions):
            raise ValueError(f"road_fractions must be numbers in [0, 1), got {self.road_fractions}")

    def settings(self) -> dict:
        """The settings as JSON-ready values (tuples as lists)."""
        return json.loads(json.dumps(asdict(self)))


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages that change the numbers."""
    versions = {"python": platform.python_version()}
    for package in ("report_lib", "tensorflow", "tensorflow-cpu", "keras", "numpy", "scipy", "pillow", "pyarrow"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


@dataclass
class ProtocolCard:
    """What a results folder was made with (``protocol.json`` beside the parts).

    Attributes:
        model: Model name, input size, preprocessing, CAM layer, classes.
        protocol: ``Protocol.settings()``.
        methods: Method id -> its options.
        metrics: Metric ids.
        definitions: Metric id -> what its value is.
        source: The folder or CSV evaluated.
        image_ids: Every image id the folder holds results for.
        versions: ``package_versions()``.
        devices: Devices the forward passes ran on.
    """

    model: dict
    protocol: dict
    methods: dict
    metrics: list
    definitions: dict = field(default_factory=dict)
    source: str = ""
    image_ids: list = field(default_factory=list)
    versions: dict = field(default_factory=dict)
    devices: list = field(default_factory=list)

    def conflicts(self, other: "ProtocolCard") -> list[str]:
        """Settings in which ``other`` (an earlier run into the same folder) differs.

        Methods and metrics may be added; the options of a method present in
        both, the model and the protocol may not change.
        """
        found = []
        if self.model.get("name") != other.model.get("name") or self.model.get("input_size") != other.model.get("input_size"):
            found.append(f"model {other.model.get('name')} -> {self.model.get('name')}")
        for key, value in self.protocol.items():
            if other.protocol.get(key) != value:
                found.append(f"{key} {other.protocol.get(key)!r} -> {value!r}")
        for method in set(self.methods) & set(other.methods):
            if self.methods[method] != other.methods[method]:
                found.append(f"{method} options {other.methods[method]} -> {self.methods[method]}")
        return found

    def write(self, path: Path) -> None:
        """Write atomically (a temporary file renamed), so a kill never leaves half a card."""
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(asdict(self), indent=1))
        temporary.replace(path)

    @classmethod
    def read(cls, path: Path) -> "ProtocolCard":
        """Read a card written by :meth:`write`."""
        return cls(**json.loads(path.read_text()))
