"""Classification data sets: tf_flowers where there is internet, and an
offline texture stand-in cut from pictures that scikit-image ships; and the
tf.data pipeline that feeds them to Keras."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from report_lib.data.images import load_rgb, resize_rgb
from report_lib.data.samples import SAMPLES, TEXTURE_CLASSES

#: Fractions of each image's width reserved for the three splits, left to right.
SPLIT_BANDS: dict[str, tuple[float, float]] = {"train": (0.0, 0.6), "validation": (0.6, 0.8), "test": (0.8, 1.0)}


@dataclass
class ImageSplits:
    """A classification data set in three splits.

    Attributes:
        name: Which data set ran (shown on the page).
        class_names: Class names, by label.
        images: Split -> ``(n, size, size, 3)`` uint8.
        labels: Split -> ``(n,)`` int labels.
        boxes: Split -> ``(n, 4)`` crop boxes (top, left, bottom, right) in
            the source image of each crop, for the offline set (empty otherwise).
    """

    name: str
    class_names: list[str]
    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    boxes: dict[str, np.ndarray] = field(default_factory=dict)


def _texture_image(name: str) -> np.ndarray:
    from skimage import data
    from skimage.color import rgb2gray

    image = getattr(data, name)()
    grey = rgb2gray(image) if image.ndim == 3 else image / 255.0
    return np.repeat(np.round(255 * grey).astype(np.uint8)[..., None], 3, axis=-1)


def texture_crops(
    per_class: dict[str, int], size: int = 128, crop_fraction: float = 0.15, seed: int = 0,
    classes: Sequence[str] = tuple(TEXTURE_CLASSES),
) -> ImageSplits:
    """The offline stand-in: square crops of large sample images, one class per image.

    Each image is cut into vertical bands (60% train, 20% validation, 20%
    test, left to right); a crop lies entirely within its split's band, so no
    test pixel is ever seen in training.

    Args:
        per_class: Split -> crops per class (balanced classes).
        size: Side of the returned crops.
        crop_fraction: Crop side as a fraction of the image's shorter side.
        seed: Seeds the crop positions and mirroring.
        classes: Sample names of scikit-image's data to use as classes.

    Returns:
        The splits.
    """
    sources = [_texture_image(name) for name in classes]
    return _band_crops("textures (offline stand-in)", sources, list(classes), per_class, size, crop_fraction, seed)


def photo_crops(
    per_class: dict[str, int], size: int = 64, crop_fraction: float = 0.15, seed: int = 0,
    classes: Sequence[str] = tuple(SAMPLES),
) -> ImageSplits:
    """A small colour data set made offline: crops of the colour sample
    photographs (``data.samples.SAMPLES``: chelsea, coffee, motorcycle,
    grace_hopper, astronaut, rocket), one class per photograph, cut from
    disjoint vertical bands for the three splits as in :func:`texture_crops`.

    Args:
        per_class: Split -> crops per class (balanced classes).
        size: Side of the returned crops.
        crop_fraction: Crop side as a fraction of the photograph's shorter side.
        seed: Seeds the crop positions and mirroring.
        classes: Sample names.

    Returns:
        The splits.
    """
    sources = [load_rgb(name) for name in classes]
    return _band_crops("sample photographs (colour)", sources, list(classes), per_class, size, crop_fraction, seed)


def _band_crops(name: str, sources: list[np.ndarray], classes: list[str], per_class: dict[str, int], size: int,
                crop_fraction: float, seed: int) -> ImageSplits:
    rng = np.random.default_rng(seed)
    images, labels, boxes = {}, {}, {}
    for split, count in per_class.items():
        low, high = SPLIT_BANDS[split]
        crops, split_labels, split_boxes = [], [], []
        for label, source in enumerate(sources):
            height, width = source.shape[:2]
            side = int(crop_fraction * min(height, width))
            left_min, left_max = int(np.ceil(low * width)), int(np.floor(high * width)) - side
            if left_max < left_min:
                raise ValueError(f"crops of {side} px do not fit the {split} band of {classes[label]}")
            for _ in range(count):
                top = int(rng.integers(0, height - side + 1))
                left = int(rng.integers(left_min, left_max + 1))
                crop = resize_rgb(source[top : top + side, left : left + side], size)
                crops.append(crop[::-1] if rng.random() < 0.5 else crop)  # vertical flips keep the bands apart
                split_labels.append(label)
                split_boxes.append((top, left, top + side, left + side))
        images[split] = np.stack(crops)
        labels[split] = np.array(split_labels)
        boxes[split] = np.array(split_boxes)
    return ImageSplits(name, classes, images, labels, boxes)


def load_tf_flowers(size: int, per_class: dict[str, int], seed: int = 0, timeout: float = 60.0) -> ImageSplits | None:
    """tf_flowers through tensorflow-datasets, or ``None`` when it cannot be had in time.

    The download runs in a background thread that is abandoned after
    ``timeout`` seconds, so a stalled connection never hangs the notebook.

    Args:
        size: Side of the returned images.
        per_class: Split -> images per class.
        seed: Seeds the shuffling.
        timeout: Seconds before giving up.

    Returns:
        The splits, or ``None`` (with the reason printed).
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        print("tensorflow-datasets is not installed: using the offline stand-in")
        return None
    result: dict[str, object] = {}

    def download() -> None:
        try:
            result["data"] = tfds.load("tf_flowers", split="train", as_supervised=True, shuffle_files=False)
            result["names"] = tfds.builder("tf_flowers").info.features["label"].names
        except Exception as error:  # any failure means: fall back
            result["error"] = error

    worker = threading.Thread(target=download, daemon=True)
    worker.start()
    worker.join(timeout)
    if "data" not in result:
        print(f"tf_flowers unavailable ({result.get('error', f'no answer within {timeout:g} s')}): using the offline stand-in")
        return None
    names = list(result["names"])
    wanted = sum(per_class.values())
    by_class: dict[int, list[np.ndarray]] = {label: [] for label in range(len(names))}
    for image, label in result["data"]:
        label = int(label)
        if len(by_class[label]) < wanted:
            by_class[label].append(resize_rgb(image.numpy(), size))
        if all(len(v) >= wanted for v in by_class.values()):
            break
    rng = np.random.default_rng(seed)
    images, labels, start = {}, {}, 0
    for split, count in per_class.items():
        chosen = [(np.stack(by_class[c][start : start + count]), c) for c in by_class]
        images[split] = np.concatenate([batch for batch, _ in chosen])
        labels[split] = np.concatenate([[c] * len(batch) for batch, c in chosen])
        order = rng.permutation(len(labels[split]))
        images[split], labels[split] = images[split][order], labels[split][order]
        start += count
    return ImageSplits("tf_flowers", names, images, labels)


def dataset(images: np.ndarray, labels: np.ndarray, preprocess: Callable, batch_size: int = 32,
            shuffle: bool = False, seed: int = 0) -> tf.data.Dataset:
    """A cached, prefetched tf.data pipeline of preprocessed images."""
    data = tf.data.Dataset.from_tensor_slices((images.astype(np.float32), labels))
    data = data.map(lambda x, y: (preprocess(x), y), num_parallel_calls=tf.data.AUTOTUNE).cache()
    if shuffle:
        data = data.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)
