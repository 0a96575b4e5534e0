"""What the evaluation engine reads: an image folder or a CSV list, resolved
to files, class ids and optional object boxes. Every problem with the
folder, a label or a path is found and reported at once, before any image
is decoded."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from report_lib.data.images import IMAGE_SUFFIXES, IMAGENET_CROP_FRACTION
from report_lib.models.classes import UnknownClassError, find_class

#: A WordNet id, as ImageNet names its classes (``n01440764``).
WNID_PATTERN = re.compile(r"^n\d{8}$")
#: Problems listed in one error before the rest are counted.
MAX_LISTED = 10

Box = tuple[float, float, float, float]


class DatasetError(ValueError):
    """The image folder or list cannot be evaluated; the message lists every problem found."""


@dataclass(frozen=True)
class EvalItem:
    """One image to evaluate.

    Attributes:
        image_id: Stable name of the image: its path relative to the folder
            (or to the CSV's folder), with ``/`` separators.
        path: Absolute path of the file.
        label: Class id in the model's classes; -1 when not given.
        box: Object box ``(xmin, ymin, xmax, ymax)`` in pixels of the original
            file, or ``None``.
    """

    image_id: str
    path: str
    label: int
    box: Box | None = None


def resolve_label(label: str, class_names: Sequence[str], wnids: Sequence[str] | None = None) -> int:
    """The class id a label names: a WordNet id, a class id, or a class name.

    Args:
        label: ``"n02123045"``, ``"281"``, ``"tabby"`` or ``"tabby_cat"``
            (a name is matched exactly first, then as the only class containing it).
        class_names: The model's class names.
        wnids: The model's WordNet ids, if it has them.

    Returns:
        The class id.

    Raises:
        DatasetError: The label names no class, or several.
    """
    text = label.strip()
    if WNID_PATTERN.match(text):
        if wnids is None:
            raise DatasetError(f"label {text!r} is a WordNet id, but the model has no WordNet ids; use class names")
        if text not in wnids:
            raise DatasetError(f"WordNet id {text!r} is not one of the model's {len(wnids)} classes")
        return list(wnids).index(text)
    if text.isdigit():
        if int(text) >= len(class_names):
            raise DatasetError(f"class id {text} is out of range (the model has {len(class_names)} classes)")
        return int(text)
    normal = text.lower().replace("_", " ")
    exact = [i for i, name in enumerate(class_names) if name.lower().replace("_", " ") == normal]
    if len(exact) == 1:
        return exact[0]
    try:
        return find_class(text, class_names)
    except UnknownClassError as error:
        raise DatasetError(f"label {text!r}: {error}") from None


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _raise_problems(problems: list[str], source: Path) -> None:
    if problems:
        listed = "\n  ".join(problems[:MAX_LISTED])
        more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        raise DatasetError(f"{source}: {len(problems)} problem(s), nothing was evaluated:\n  {listed}{more}")


def _from_folder(root: Path, class_names: Sequence[str], wnids: Sequence[str] | None) -> list[EvalItem]:
    items, problems = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in folder.rglob("*") if _is_image(p))
        if not files:
            continue
        try:
            label = resolve_label(folder.name, class_names, wnids)
        except DatasetError as error:
            problems.append(f"folder {folder.name}/ ({len(files)} images): {error}")
            continue
        items.extend(EvalItem(f.relative_to(root).as_posix(), str(f.resolve()), label) for f in files)
    for file in sorted(p for p in root.iterdir() if _is_image(p)):
        prefix = file.name.split("_", 1)[0]
        if "_" not in file.name or not WNID_PATTERN.match(prefix):
            problems.append(f"{file.name}: a file at the top of the folder must be named <wnid>_*.ext "
                            "(e.g. n01440764_10026.JPEG); or put it in a class sub-folder")
            continue
        try:
            items.append(EvalItem(file.name, str(file.resolve()), resolve_label(prefix, class_names, wnids)))
        except DatasetError as error:
            problems.append(f"{file.name}: {error}")
    _raise_problems(problems, root)
    if not items:
        raise DatasetError(f"{root} holds no images: expected class sub-folders (named by WordNet id or class name) "
                           f"or files named <wnid>_*.JPEG, with suffixes {', '.join(IMAGE_SUFFIXES)}")
    return items


def parse_box(text: str) -> Box:
    """A box from ``"xmin ymin xmax ymax"`` (spaces, commas or semicolons between).

    Raises:
        DatasetError: Not four numbers, or an empty box.
    """
    parts = [p for p in re.split(r"[\s,;]+", text.strip()) if p]
    try:
        xmin, ymin, xmax, ymax = (float(p) for p in parts)
    except ValueError:
        raise DatasetError(f"box {text!r} is not four numbers 'xmin ymin xmax ymax'") from None
    if not (xmax > xmin >= 0 and ymax > ymin >= 0):
        raise DatasetError(f"box {text!r} is empty or negative: need 0 <= xmin < xmax and 0 <= ymin < ymax")
    return xmin, ymin, xmax, ymax


def _from_csv(table: Path, class_names: Sequence[str], wnids: Sequence[str] | None) -> list[EvalItem]:
    with open(table, newline="") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in reader.fieldnames or []]
        if "path" not in columns or "label" not in columns:
            raise DatasetError(f"{table}: the CSV needs a header with columns path,label (and optionally box); "
                               f"got {columns}")
        rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    items, problems, seen = [], [], set()
    for line, row in enumerate(rows, start=2):
        path = Path(row["path"])
        path = path if path.is_absolute() else table.parent / path
        if not path.is_file():
            problems.append(f"line {line}: no file {path}")
            continue
        try:
            label = resolve_label(row["label"], class_names, wnids) if row["label"] else -1
            box = parse_box(row["box"]) if row.get("box") else None
        except DatasetError as error:
            problems.append(f"line {line}: {error}")
            continue
        image_id = row["path"].replace("\\", "/")
        if image_id in seen:
            problems.append(f"line {line}: {image_id} is listed twice")
            continue
        seen.add(image_id)
        items.append(EvalItem(image_id, str(path.resolve()), label, box))
    _raise_problems(problems, table)
    if not items:
        raise DatasetError(f"{table} lists no images")
    return items


def read_dataset(
    source: str | Path, class_names: Sequence[str], wnids: Sequence[str] | None = None, limit: int | None = None
) -> list[EvalItem]:
    """The images of a folder or CSV list, with their labels and boxes.

    Accepted layouts:

    - a folder of class sub-folders named by WordNet id (``n02123045/``) or
      class name (``tabby/``), as ImageNet's validation folder after the
      usual re-sorting;
    - a folder of files named ``<wnid>_*.JPEG`` (common ImageNet sample sets);
    - a CSV with a header ``path,label`` and optionally ``box``
      (``"xmin ymin xmax ymax"`` in pixels of the file); paths are relative to
      the CSV's folder; an empty label means "explain the predicted class".

    Args:
        source: The folder or the ``.csv`` file.
        class_names: The model's class names.
        wnids: The model's WordNet ids, if any.
        limit: Keep the first ``limit`` images (sorted by id), for a trial run.

    Returns:
        The images, sorted by id.

    Raises:
        DatasetError: A missing source, an unknown label, a missing file or
            no images at all (every problem listed in one message).
    """
    path = Path(source)
    if not path.exists():
        raise DatasetError(f"{path} does not exist: give an image folder or a CSV of path,label[,box]")
    if path.is_dir():
        items = _from_folder(path, class_names, wnids)
    elif path.suffix.lower() == ".csv":
        items = _from_csv(path, class_names, wnids)
    else:
        raise DatasetError(f"{path} is neither a folder nor a .csv file")
    items = sorted(items, key=lambda item: item.image_id)
    if limit is not None:
        if limit < 1:
            raise DatasetError(f"limit must be at least 1, got {limit}")
        items = items[:limit]
    return items


def box_to_input(
    box: Box, original: tuple[int, int], size: int, crop: str = "centre", crop_fraction: float = IMAGENET_CROP_FRACTION
) -> Box:
    """Where a box of the original file lands in the model's input, after the
    same resize (and centre crop) as ``data.images.fit_image``.

    Args:
        box: ``(xmin, ymin, xmax, ymax)`` in pixels of the original.
        original: ``(height, width)`` of the original.
        size: Side of the model's input.
        crop: ``"centre"`` or ``"none"``.
        crop_fraction: As in ``data.images.resize_centre_crop``.

    Returns:
        The box in input pixels, clipped to the input (may be empty if cropped away).
    """
    height, width = original
    if crop in ("centre", "center"):
        # The same arithmetic as resize_centre_crop, so the box follows the pixels exactly.
        scale = max(size / crop_fraction / height, size / crop_fraction / width)
        new_height, new_width = max(size, int(round(height * scale))), max(size, int(round(width * scale)))
        top, left = (new_height - size) // 2, (new_width - size) // 2
    else:
        new_height, new_width, top, left = size, size, 0, 0
    sy, sx = new_height / height, new_width / width
    xmin, ymin, xmax, ymax = box
    clipped = [np.clip(v, 0, size) for v in (xmin * sx - left, ymin * sy - top, xmax * sx - left, ymax * sy - top)]
    return tuple(float(v) for v in clipped)  # type: ignore[return-value]


def box_mask(box: Box, size: int) -> np.ndarray:
    """``(size, size)`` bool, True on the pixels whose centres fall inside the box."""
    centres = np.arange(size) + 0.5
    xmin, ymin, xmax, ymax = box
    rows = (centres >= ymin) & (centres <= ymax)
    cols = (centres >= xmin) & (centres <= xmax)
    return rows[:, None] & cols[None, :]
