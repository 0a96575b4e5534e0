"""Measuring an adversarial patch honestly: held-out photographs (split by
photograph, never by crop), success counted separately over the photographs
the model got right before the patch, Wilson intervals, and the patch as a
ground truth for explanation methods (does the map for the target class point
at the patch?)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from report_lib.evaluation.localisation import pointing_game
from report_lib.evaluation.statistics import Interval, wilson_interval
from report_lib.methods.adversarial_patch import patched_images, placement_masks, random_placements
from report_lib.methods.registry import explain
from report_lib.models.bundle import ModelBundle


@dataclass(frozen=True)
class PatchPhotos:
    """Which photographs train the patch and which test it, and the ImageNet
    classes that count as a correct prediction for each test photograph.

    Attributes:
        train: Sample names the patch is trained on (crops of them).
        test: Sample names it is tested on; disjoint from ``train``.
        accepted: Test sample -> ImageNet class names counted as correct (empty: none fits).
        about: Where the split comes from, in words.
    """

    train: tuple[str, ...]
    test: tuple[str, ...]
    accepted: dict[str, tuple[str, ...]]
    about: str = ""


def load_patch_photos(path: str | Path, known_images: set[str] | None = None) -> PatchPhotos:
    """Read and check the train/test split of a JSON data file.

    The file holds ``{"about", "train": [...], "test": [...], "accepted": {test
    name: [class names]}}``.

    Args:
        path: The JSON file.
        known_images: Names that may be used; any when ``None``.

    Returns:
        The split.

    Raises:
        ValueError: Overlapping or unknown photographs, or a test photograph without an entry in ``accepted``.
    """
    raw = json.loads(Path(path).read_text())
    photos = PatchPhotos(tuple(raw["train"]), tuple(raw["test"]),
                         {name: tuple(classes) for name, classes in raw["accepted"].items()}, raw.get("about", ""))
    shared = set(photos.train) & set(photos.test)
    if shared:
        raise ValueError(f"photographs both in training and test: {sorted(shared)}")
    unknown = (set(photos.train) | set(photos.test)) - known_images if known_images is not None else set()
    if unknown:
        raise ValueError(f"unknown photographs: {sorted(unknown)}")
    missing = set(photos.test) - set(photos.accepted)
    if missing:
        raise ValueError(f"test photographs without accepted classes: {sorted(missing)}")
    return photos


def correct_before(bundle: ModelBundle, images: np.ndarray, accepted: Sequence[Sequence[str]]) -> np.ndarray:
    """Whether the model's top-1 class of each image is one of its accepted classes.

    Args:
        bundle: The model (an ImageNet classifier, for the class names).
        images: ``(n, size, size, 3)`` photographs.
        accepted: Per image, the class names counted as correct.

    Returns:
        ``(n,)`` bool.
    """
    top = bundle.predict(images).argmax(axis=1)
    return np.array([int(t) in {bundle.find_class(name) for name in names} for t, names in zip(top, accepted)], bool)


@dataclass
class AttackTrials:
    """A patch at one size on every test photograph, at several random placements.

    Attributes:
        area: Fraction of the image area the patch covers.
        photo: ``(n,)`` index of the photograph of each trial.
        correct_before: ``(n,)`` the photograph was classified correctly before the patch.
        success: ``(n,)`` the patched image's top-1 class is the target.
    """

    area: float
    photo: np.ndarray
    correct_before: np.ndarray
    success: np.ndarray

    def rate(self, only_correct: bool = False) -> Interval | None:
        """Success rate with its 95% Wilson interval (``n`` = trials counted);
        ``None`` when no trial qualifies.

        Args:
            only_correct: Count only photographs classified correctly before the patch.
        """
        chosen = self.correct_before if only_correct else np.ones_like(self.success)
        trials = int(chosen.sum())
        return wilson_interval(int(self.success[chosen].sum()), trials) if trials else None


def attack_trials(
    bundle: ModelBundle, photos: np.ndarray, correct: np.ndarray, patch: np.ndarray, class_id: int, area: float,
    placements_per_photo: int, seed: int = 0,
) -> AttackTrials:
    """Paste a patch at random placements on each photograph and count successes.

    Args:
        bundle: The model.
        photos: ``(k, size, size, 3)`` held-out photographs.
        correct: ``(k,)`` whether each was classified correctly before the patch (``correct_before``).
        patch: The patch.
        class_id: The class it should cause.
        area: Fraction of the image area it covers.
        placements_per_photo: Random placements on each photograph.
        seed: Seeds the placements (not one used in training).

    Returns:
        The trials, ``k * placements_per_photo`` of them.
    """
    photo = np.repeat(np.arange(len(photos)), placements_per_photo)
    placements = random_placements(len(photo), photos.shape[1], area, seed=seed)
    top = bundle.predict(patched_images(photos[photo], patch, placements)).argmax(axis=1)
    return AttackTrials(area, photo, np.asarray(correct, bool)[photo], top == class_id)


@dataclass
class PatchPointing:
    """Do explanation maps for the target class point at the patch?

    Attributes:
        area: Patch area (fraction of the image).
        success: ``(n,)`` the attack succeeded on that patched image.
        hits: Method id -> ``(n,)`` whether the map's peak lies on the patch.
    """

    area: float
    success: np.ndarray
    hits: dict[str, np.ndarray]

    def rate(self, method_id: str, only_successful: bool = False) -> Interval | None:
        """Hit rate with its 95% Wilson interval; ``None`` when no trial qualifies."""
        chosen = self.success if only_successful else np.ones_like(self.success)
        trials = int(chosen.sum())
        return wilson_interval(int(self.hits[method_id][chosen].sum()), trials) if trials else None


def patch_pointing(
    bundle: ModelBundle, photos: np.ndarray, patch: np.ndarray, class_id: int, area: float,
    placements_per_photo: int, methods: Mapping[str, Mapping[str, object]], seed: int = 0,
) -> PatchPointing:
    """The pointing game with the patch as ground truth: on patched held-out
    photographs, is each method's peak for the target class on the patch?

    A uniformly random map hits with probability ``area`` (the patch's share of
    the image): the baseline to beat.

    Args:
        bundle: The model.
        photos: ``(k, size, size, 3)`` held-out photographs.
        patch: The patch.
        class_id: Its target class (the class explained).
        area: Patch area, fraction of the image.
        placements_per_photo: Random placements on each photograph.
        methods: Method id -> its options for ``explain``.
        seed: Seeds the placements.

    Returns:
        Successes and hits per method, one entry per patched image.
    """
    size = photos.shape[1]
    photo = np.repeat(np.arange(len(photos)), placements_per_photo)
    placements = random_placements(len(photo), size, area, seed=seed)
    patched = patched_images(photos[photo], patch, placements)
    success = bundle.predict(patched).argmax(axis=1) == class_id
    masks = placement_masks(placements, size)
    hits = {method_id: pointing_game(explain(method_id, bundle, patched, class_id, **dict(options)), masks)
            for method_id, options in methods.items()}
    return PatchPointing(area, success, hits)
