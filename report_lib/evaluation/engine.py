"""The evaluation engine: attribution methods x metrics over an image folder,
one row per image x method x metric, resumable, batched and bounded in memory.

A ``tf.data`` pipeline decodes and resizes images in parallel and prefetches
the next batch while the current one is measured. For each batch, every
method explains all its images in one call, and every metric sends all its
perturbed images (deletion and insertion steps, ROAD fractions, the kept top
half) through the model in large forward batches; with several GPUs these
forwards are split across them by ``tf.distribute.MirroredStrategy``. Each
finished batch is written as its own Parquet part (``results.py``), so a
killed run loses at most the batch in flight and a rerun skips what is done.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from report_lib.data.images import fit_image, load_rgb
from report_lib.evaluation.faithfulness import curve_auc, curve_images, keep_top_fraction
from report_lib.evaluation.folders import EvalItem, box_mask, box_to_input, read_dataset
from report_lib.evaluation.localisation import pointing_game
from report_lib.evaluation.protocol import (METRIC_DEFINITIONS, Protocol, ProtocolCard, expand_metrics,
                                            package_versions)
from report_lib.evaluation.results import CARD_FILE, done_keys, read_results, write_part
from report_lib.evaluation.road import road_images
from report_lib.methods.registry import explain, get_method
from report_lib.models.bundle import ModelBundle

#: Images per batch: each is explained by every method and perturbed for
#: every metric before the batch is written. 8 images x 33 curve steps x
#: 224 px in float32 is about 160 MB of perturbed images at a time.
DEFAULT_BATCH = 8
#: Images per forward pass (per device) of the perturbed images. Small on
#: purpose: on the 2-core CPU EfficientNet-Lite0 ran at about 46 ms per image
#: in batches of 4 to 8 and 80 ms in batches of 32 (activations that no longer
#: fit in the cache); a GPU wants more (--forward-batch).
FORWARD_BATCH = 8
#: Methods that draw random numbers; they run one image at a time with a seed
#: derived from the image id, so a map does not depend on its batch.
SEEDED_METHODS = ("smoothgrad", "random")


@dataclass(frozen=True)
class LoadedBatch:
    """Images of one batch, decoded.

    Attributes:
        items: The images' entries.
        images: ``(n, size, size, 3)`` uint8 (zeros where loading failed).
        boxes: ``(n, 4)`` boxes in input pixels (NaN where none).
        errors: Empty where the image loaded, else why not.
    """

    items: list[EvalItem]
    images: np.ndarray
    boxes: np.ndarray
    errors: list[str]


def image_batches(
    items: Sequence[EvalItem], size: int, batch_size: int, crop: str = "centre", crop_fraction: float = 0.875,
    parallel: int | None = None,
) -> Iterator[LoadedBatch]:
    """Decode and resize images in parallel (``tf.data``), in order, one batch at a time.

    An image that cannot be read comes back as zeros with its error; it never
    stops the pipeline.

    Args:
        items: The images.
        size: Side of the model's input.
        batch_size: Images per batch.
        crop: ``"centre"`` (ImageNet evaluation) or ``"none"`` (squash).
        crop_fraction: See ``data.images.resize_centre_crop``.
        parallel: Images decoded at once; the number of cores by default.

    Yields:
        ``LoadedBatch`` objects, prefetched one ahead.
    """
    items = list(items)

    def load(index: np.ndarray) -> tuple[np.ndarray, np.ndarray, bytes]:
        item = items[int(index)]
        try:
            rgb = load_rgb(item.path)
            image = fit_image(rgb, size, crop, crop_fraction)
            box = box_to_input(item.box, rgb.shape[:2], size, crop, crop_fraction) if item.box else (np.nan,) * 4
            return image, np.asarray(box, np.float32), b""
        except Exception as error:  # any unreadable file is recorded, never fatal
            message = f"{type(error).__name__}: {error}".encode("utf-8", "replace")
            return np.zeros((size, size, 3), np.uint8), np.full(4, np.nan, np.float32), message

    def load_graph(index: tf.Tensor):
        image, box, error = tf.numpy_function(load, [index], [tf.uint8, tf.float32, tf.string], stateful=False)
        image.set_shape((size, size, 3))
        box.set_shape((4,))
        error.set_shape(())
        return image, box, error

    # A fixed parallelism, not AUTOTUNE: with AUTOTUNE, ending the iteration
    # stalled for as long as the last batch had taken to measure (13.7 s of a
    # 41 s run of 16 images in benchmarks/bench_evaluation.py).
    options = tf.data.Options()
    options.autotune.enabled = False
    dataset = (tf.data.Dataset.range(len(items))
               .map(load_graph, num_parallel_calls=parallel or os.cpu_count() or 1, deterministic=True)
               .batch(batch_size)
               .prefetch(1)
               .with_options(options))
    start = 0
    for images, boxes, errors in dataset.as_numpy_iterator():
        count = len(images)
        yield LoadedBatch(items[start : start + count], images, boxes, [e.decode() for e in errors])
        start += count


class Predictor:
    """Softmax probabilities of many images in large batches, on one device or
    split across several with ``tf.distribute.MirroredStrategy``.

    Args:
        bundle: The model (built under ``strategy.scope()`` when a strategy is given).
        strategy: A ``MirroredStrategy``, or ``None`` for the default device.
        batch_size: Images per forward pass per device.
    """

    def __init__(self, bundle: ModelBundle, strategy: tf.distribute.Strategy | None = None,
                 batch_size: int = FORWARD_BATCH) -> None:
        self.bundle, self.strategy, self.batch_size = bundle, strategy, batch_size
        if strategy is not None:
            def replica_forward(pixels: tf.Tensor) -> tf.Tensor:
                return bundle.model(bundle.preprocess(pixels), training=False)

            # strategy.run inside one tf.function: every replica's forward runs as one compiled step.
            self._step = tf.function(lambda values: strategy.run(replica_forward, args=(values,)),
                                     reduce_retracing=True)

    @property
    def devices(self) -> list[str]:
        """The devices the forward passes run on."""
        if self.strategy is None:
            return [tf.config.list_logical_devices()[0].name]
        return list(self.strategy.extended.worker_devices)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """``(n, classes)`` probabilities of ``(n, size, size, 3)`` RGB images in [0, 255]."""
        if self.strategy is None:
            return self.bundle.predict(images, batch_size=self.batch_size)
        replicas = self.strategy.num_replicas_in_sync
        outputs = []
        for start in range(0, len(images), self.batch_size * replicas):
            chunk = np.asarray(images[start : start + self.batch_size * replicas], np.float32)
            parts = np.array_split(chunk, replicas)
            # Every replica needs an input; an empty share gets one image whose result is dropped.
            fed = [part if len(part) else chunk[:1] for part in parts]
            values = self.strategy.experimental_distribute_values_from_function(
                lambda context: tf.constant(fed[context.replica_id_in_sync_group]))
            result = self._step(values)
            for part, local in zip(parts, self.strategy.experimental_local_results(result)):
                outputs.append(np.asarray(local)[: len(part)])
        return np.concatenate(outputs) if outputs else np.zeros((0, len(self.bundle.class_names)), np.float32)


def image_seed(image_id: str, seed: int) -> int:
    """A seed per image, from its id: the same wherever the image falls in a run."""
    return (zlib.crc32(image_id.encode()) + 1_000_003 * seed) % 2**31


def make_strategy(devices: Sequence[str] | None = None) -> tf.distribute.Strategy | None:
    """``MirroredStrategy`` over the given devices, or over all GPUs when there
    are several; ``None`` (the default device) otherwise."""
    if devices is None:
        gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
        devices = gpus if len(gpus) > 1 else None
    if not devices or len(devices) < 2:
        return None
    return tf.distribute.MirroredStrategy(devices=list(devices))


@dataclass
class Evaluation:
    """A planned evaluation, checked before any work: see :func:`evaluate`.

    Attributes:
        bundle: The model.
        items: Every image of the source.
        methods: Method id -> options.
        metrics: Metric ids.
        output: The results folder.
        protocol: The settings.
        todo: Images with at least one row missing.
        card: The protocol card.
    """

    bundle: ModelBundle
    items: list[EvalItem]
    methods: dict[str, dict]
    metrics: tuple[str, ...]
    output: Path
    protocol: Protocol
    todo: list[EvalItem] = field(default_factory=list)
    card: ProtocolCard | None = None


def expected_keys(item: EvalItem, methods: Mapping[str, dict], metrics: Sequence[str]) -> set[tuple[str, str, str]]:
    """The rows an image should have (the pointing game only where a box is given)."""
    return {(item.image_id, method, metric) for method in methods for metric in metrics
            if metric != "pointing_game" or item.box is not None}


def describe_model(bundle: ModelBundle) -> dict:
    """The model's part of the protocol card."""
    preprocess = getattr(bundle.preprocess, "__name__", type(bundle.preprocess).__name__)
    return {"name": bundle.name, "input_size": bundle.input_size, "preprocessing": preprocess,
            "cam_layer": bundle.cam_layer, "classes": len(bundle.class_names), "choice": bundle.choice}


def plan(
    source: str | Path,
    bundle: ModelBundle,
    methods: Sequence[str] | Mapping[str, dict],
    metrics: Sequence[str],
    output: str | Path,
    protocol: Protocol = Protocol(),
    limit: int | None = None,
) -> Evaluation:
    """Check everything and work out what is left to do, before any image is decoded.

    Args: see :func:`evaluate`.

    Returns:
        The plan.

    Raises:
        ValueError: Unknown method or metric, a bad folder or label
            (``DatasetError``), or results in ``output`` made with another protocol.
    """
    options = {m: {} for m in methods} if not isinstance(methods, Mapping) else {m: dict(o) for m, o in methods.items()}
    if not options:
        raise ValueError("name at least one method")
    for method in options:
        get_method(method)  # unknown ids fail here, with the valid ones listed
    chosen = expand_metrics(metrics)
    items = read_dataset(source, bundle.class_names, bundle.wnids, limit)
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise ValueError(f"the output {output} is a file; give a folder for the results")
    card = ProtocolCard(model=describe_model(bundle), protocol=protocol.settings(),
                        methods={m: _jsonable(o) for m, o in options.items()}, metrics=list(chosen),
                        definitions={m: METRIC_DEFINITIONS[m] for m in chosen}, source=str(source),
                        image_ids=[item.image_id for item in items], versions=package_versions())
    done: set = set()
    if (output / CARD_FILE).exists():
        previous = ProtocolCard.read(output / CARD_FILE)
        conflicts = card.conflicts(previous)
        if conflicts:
            raise ValueError(f"{output} holds results made with other settings ({'; '.join(conflicts)}); "
                             "write to another folder")
        card.image_ids = sorted(set(previous.image_ids) | set(card.image_ids))
        card.methods = {**previous.methods, **card.methods}
        card.metrics = [m for m in expand_metrics([*previous.metrics, *card.metrics])]
        card.definitions = {m: METRIC_DEFINITIONS[m] for m in card.metrics}
        done = done_keys(read_results(output))
    todo = [item for item in items if not expected_keys(item, options, chosen) <= done]
    return Evaluation(bundle, items, options, chosen, output, protocol, todo, card)


def _jsonable(options: Mapping) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()}


def evaluate(
    source: str | Path,
    model: ModelBundle,
    methods: Sequence[str] | Mapping[str, dict],
    metrics: Sequence[str],
    output: str | Path,
    protocol: Protocol = Protocol(),
    *,
    batch_size: int = DEFAULT_BATCH,
    forward_batch: int = FORWARD_BATCH,
    strategy: tf.distribute.Strategy | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> Path:
    """Evaluate methods x metrics on every image of a folder or CSV list.

    Resumable: rows already in ``output`` are skipped, so rerunning after a
    crash (or with more images, methods or metrics) does only what is missing.
    An unreadable image gets rows with its error and NaN values and never
    stops the run.

    Args:
        source: Image folder (class sub-folders, or ``<wnid>_*.JPEG`` files)
            or CSV of ``path,label[,box]``; see ``folders.read_dataset``.
        model: The model (for several GPUs, load it under ``strategy.scope()``).
        methods: Method ids, or id -> options for ``methods.registry.explain``.
        metrics: Metric ids or groups (``road``, ``ad_ic``, ``curves``, ``all``).
        output: Results folder: Parquet parts and ``protocol.json``.
        protocol: Every setting that changes the numbers.
        batch_size: Images per batch (explained together, written together).
        forward_batch: Perturbed images per forward pass, per device.
        strategy: ``make_strategy(...)`` to split forwards across devices.
        limit: Evaluate the first ``limit`` images only.
        progress: Show a progress bar (images/s, ETA).

    Returns:
        The results folder; read it with ``results.read_results``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    job = plan(source, model, methods, metrics, output, protocol, limit)
    predictor = Predictor(job.bundle, strategy, forward_batch)
    job.output.mkdir(parents=True, exist_ok=True)
    job.card.devices = predictor.devices
    job.card.write(job.output / CARD_FILE)
    if not job.todo:
        return job.output
    done = done_keys(read_results(job.output))
    bar = tqdm(total=len(job.todo), unit="img", desc=f"evaluating {len(job.methods)} methods", disable=not progress)
    for batch in image_batches(job.todo, job.bundle.input_size, batch_size, protocol.crop, protocol.crop_fraction):
        rows = evaluate_batch(job, batch, predictor, done)
        if rows:
            write_part(job.output, rows)
        bar.update(len(batch.items))
    bar.close()
    return job.output


def evaluate_batch(job: Evaluation, batch: LoadedBatch, predict: Callable[[np.ndarray], np.ndarray],
                   done: set) -> list[dict]:
    """The rows of one batch: every method and metric not yet done on its images.

    Args:
        job: The plan.
        batch: Decoded images.
        predict: Images -> probabilities (a ``Predictor``).
        done: Keys already written (the batch's rows are skipped where present).

    Returns:
        Row dicts (``results.SCHEMA``).
    """
    protocol, rows = job.protocol, []
    ok = [i for i, error in enumerate(batch.errors) if not error]
    for i, error in enumerate(batch.errors):
        if error:
            item = batch.items[i]
            rows += [_row(item, -1, method, metric, np.nan, np.nan, None, error)
                     for (_, method, metric) in sorted(expected_keys(item, job.methods, job.metrics) - done)]
    if not ok:
        return rows
    items = [batch.items[i] for i in ok]
    images = batch.images[ok].astype(np.float32)
    boxes = batch.boxes[ok]
    probabilities = predict(images)
    targets = np.array([item.label if protocol.target == "label" and item.label >= 0 else int(p.argmax())
                        for item, p in zip(items, probabilities)])
    full = probabilities[np.arange(len(items)), targets]
    seeds = [image_seed(item.image_id, protocol.seed) for item in items]
    for method, options in job.methods.items():
        wanted = [{m for m in job.metrics if (item.image_id, method, m) not in done
                   and (m != "pointing_game" or item.box is not None)} for item in items]
        if not any(wanted):
            continue
        maps = _explain(method, options, job.bundle, images, targets, seeds)
        scores = measure(predict, images, targets, full, maps, boxes, seeds, protocol,
                         sorted(set().union(*wanted)))
        for k, item in enumerate(items):
            for metric in sorted(wanted[k]):
                value, curve = scores[metric][k]
                rows.append(_row(item, int(targets[k]), method, metric, value, float(full[k]), curve, ""))
    return rows


def _explain(method: str, options: dict, bundle: ModelBundle, images: np.ndarray, targets: np.ndarray,
             seeds: Sequence[int]) -> np.ndarray:
    if method in SEEDED_METHODS:
        return np.concatenate([explain(method, bundle, images[k : k + 1], targets[k : k + 1],
                                       **{**options, "seed": seeds[k]}) for k in range(len(images))])
    return explain(method, bundle, images, targets, **options)


def measure(
    predict: Callable[[np.ndarray], np.ndarray],
    images: np.ndarray,
    targets: np.ndarray,
    full: np.ndarray,
    maps: np.ndarray,
    boxes: np.ndarray,
    seeds: Sequence[int],
    protocol: Protocol,
    metrics: Sequence[str],
) -> dict[str, list[tuple[float, list[float] | None]]]:
    """Every metric for a batch of images and one method's maps, batched.

    Args:
        predict: Images -> probabilities.
        images: ``(n, size, size, 3)`` float32 RGB.
        targets: Class scored per image.
        full: Target probability on the whole image.
        maps: ``(n, size, size)`` raw maps.
        boxes: ``(n, 4)`` boxes in input pixels, NaN where none.
        seeds: One seed per image.
        protocol: The settings.
        metrics: Metric ids to compute.

    Returns:
        Metric -> one ``(value, curve or None)`` per image (NaN for the pointing
        game where an image has no box).
    """
    n = len(images)
    scores: dict[str, list] = {}

    def target_probabilities(stack: np.ndarray, per_image: int) -> np.ndarray:
        probs = predict(stack.reshape(-1, *images.shape[1:]))
        return probs[np.arange(n * per_image), np.repeat(targets, per_image)].reshape(n, per_image)

    for mode in ("deletion", "insertion"):
        if mode in metrics:
            stack = np.stack([curve_images(image, heat, mode, protocol.steps, protocol.baseline,
                                           protocol.insertion_blur_sigma) for image, heat in zip(images, maps)])
            curves = target_probabilities(stack, protocol.steps + 1)
            scores[mode] = [(curve_auc(curve), curve.tolist()) for curve in curves]
    for order in ("morf", "lerf"):
        if f"road_{order}" in metrics:
            stack = np.stack([road_images(image, heat, protocol.road_fractions, order, protocol.road_noise,
                                          seed, 255.0) for image, heat, seed in zip(images, maps, seeds)])
            curves = target_probabilities(stack, len(protocol.road_fractions))
            scores[f"road_{order}"] = [(float(curve.mean()), curve.tolist()) for curve in curves]
    if "average_drop" in metrics or "increase_in_confidence" in metrics:
        kept = np.stack([keep_top_fraction(image, heat, protocol.keep_fraction, protocol.baseline)
                         for image, heat in zip(images, maps)])
        masked = target_probabilities(kept, 1)[:, 0]
        drop = 100.0 * np.maximum(0.0, full - masked) / np.maximum(full, 1e-12)
        scores["average_drop"] = [(float(d), None) for d in drop]
        scores["increase_in_confidence"] = [(100.0 * float(m > f), None) for m, f in zip(masked, full)]
    if "pointing_game" in metrics:
        size = images.shape[1]
        values = []
        for heat, box in zip(maps, boxes):
            if np.isnan(box).any():
                values.append((float("nan"), None))
            else:
                hit = pointing_game(heat[None], box_mask(tuple(box), size)[None], protocol.pointing_tolerance)[0]
                values.append((float(hit), None))
        scores["pointing_game"] = values
    return scores


def _row(item: EvalItem, target: int, method: str, metric: str, value: float, probability: float,
         curve: list[float] | None, error: str) -> dict:
    return {"image_id": item.image_id, "label": item.label, "target": target, "method": method, "metric": metric,
            "value": float(value), "probability": probability, "curve": curve, "error": error}

