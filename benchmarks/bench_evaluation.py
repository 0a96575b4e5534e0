"""Evaluation engine throughput and memory.

Throughput: for each method, images per second of the engine (tf.data
loading, batched explanations, batched perturbation forwards) with deletion,
insertion, average drop and increase in confidence, against a per-image loop
in the same process on the same images and settings: explain one image,
build its perturbed images, and predict them one at a time, as per-sample
metric loops do. Two loops: one ``keras.Model.predict`` call per image (as
Quantus' TensorFlow wrapper calls the model), and report_lib's own compiled
forward pass one image per call (so that part of the gap is batching alone). Both sides are called once on two images first
(tracing), and the loop gets its images already decoded.

Memory: peak resident memory of the command on 100 and on 1,000 images
(augmented crops of the sample photographs), each in a fresh process.

Usage: python benchmarks/bench_evaluation.py [--images 16] [--steps 32] [--memory 100,1000]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import report_lib  # noqa: F401  (sets TensorFlow's environment before it starts)

import numpy as np
from PIL import Image

from report_lib.config import get_profile
from report_lib.data.images import augmented_crops
from report_lib.data.samples import SAMPLES
from report_lib.evaluation.engine import evaluate
from report_lib.evaluation.faithfulness import curve_auc, curve_images, keep_top_fraction
from report_lib.evaluation.protocol import Protocol
from report_lib.methods.registry import explain, method_options, method_title
from report_lib.models.registry import efficientnet_lite0_bundle

METHODS = ("saliency", "smoothgrad", "gradcam", "gradcam_plus_plus", "scorecam", "occlusion", "random")


def write_crops(folder: Path, count: int, seed: int = 0) -> Path:
    """``count`` augmented crops of the sample photographs as JPEG files, listed in a CSV (no labels)."""
    folder.mkdir(parents=True, exist_ok=True)
    crops = augmented_crops(list(SAMPLES), count, size=256, seed=seed)
    lines = ["path,label,box"]
    for index, crop in enumerate(crops):
        Image.fromarray(crop).save(folder / f"crop{index:05d}.jpg", quality=92)
        lines.append(f"crop{index:05d}.jpg,,")
    (folder / "list.csv").write_text("\n".join(lines) + "\n")
    return folder / "list.csv"


def compiled_forward(bundle):
    """One image per call through report_lib's compiled forward pass."""
    return lambda image: bundle.predict(image[None], batch_size=1)[0]


def keras_predict(bundle):
    """One image per ``keras.Model.predict`` call, as Quantus' TensorFlow model wrapper calls it."""
    return lambda image: bundle.model.predict(np.asarray(bundle.preprocess(image[None])), verbose=0)[0]


def per_image_loop(bundle, images: np.ndarray, method: str, options: dict, protocol: Protocol, forward) -> list[float]:
    """Deletion, insertion and AD/IC one image and one forward at a time.

    Args:
        forward: ``image -> probabilities`` for one image (``compiled_forward`` or ``keras_predict``).
    """
    values = []
    for image in images:
        probabilities = forward(image)
        target = int(probabilities.argmax())
        full = probabilities[target]
        heat = explain(method, bundle, image[None], [target], **options)[0]
        for mode in ("deletion", "insertion"):
            steps = curve_images(image, heat, mode, protocol.steps, protocol.baseline, protocol.insertion_blur_sigma)
            values.append(curve_auc([forward(s)[target] for s in steps]))
        kept = forward(keep_top_fraction(image, heat, protocol.keep_fraction))[target]
        values.append(100 * max(0.0, full - kept) / full)
    return values


def throughput(count: int, steps: int, methods: tuple[str, ...]) -> list[dict]:
    """One row per method: seconds and images/s of the engine and of the per-image loop."""
    from report_lib.data.images import load_images

    bundle = efficientnet_lite0_bundle()
    profile = get_profile("full")
    protocol = Protocol(steps=steps)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        table = write_crops(Path(tmp) / "images", count)
        warm = write_crops(Path(tmp) / "warm", 2, seed=1)
        images = load_images(sorted((Path(tmp) / "images").glob("*.jpg")), 224, crop="centre").astype(np.float32)
        for method in methods:
            options = method_options(method, profile)
            if method == "occlusion":
                options["stride"] = 16  # as section 09
            metrics = ["curves", "ad_ic"]
            evaluate(warm, bundle, {method: options}, metrics, Path(tmp) / f"warm-{method}", protocol, progress=False)
            seconds = {}
            for name, forward in (("keras", keras_predict(bundle)), ("compiled", compiled_forward(bundle))):
                per_image_loop(bundle, images[:1], method, options, protocol, forward)  # warm-up
                start = time.perf_counter()
                per_image_loop(bundle, images, method, options, protocol, forward)
                seconds[name] = time.perf_counter() - start
            start = time.perf_counter()
            evaluate(table, bundle, {method: options}, metrics, Path(tmp) / f"out-{method}", protocol, progress=False)
            engine_seconds = time.perf_counter() - start
            rows.append({"method": method, "images": count, "engine_s": engine_seconds, "keras_s": seconds["keras"],
                         "compiled_s": seconds["compiled"]})
            print(format_throughput(rows[-1]), flush=True)
    return rows


THROUGHPUT_HEADER = ("| method | images | per-image loop, Keras predict: images/s | per-image loop, compiled forward: "
                     "images/s | engine: images/s | speed-up over Keras loop | over compiled loop |\n"
                     "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")


def format_throughput(row: dict) -> str:
    """A Markdown table row."""
    n = row["images"]
    return (f"| {method_title(row['method'])} | {n} | {n / row['keras_s']:.2f} | {n / row['compiled_s']:.2f} | "
            f"{n / row['engine_s']:.2f} | {row['keras_s'] / row['engine_s']:.1f}x | "
            f"{row['compiled_s'] / row['engine_s']:.1f}x |")


def peak_memory_mb(count: int, steps: int, metrics: str = "ad_ic") -> tuple[float, float]:
    """Peak resident memory (MB) and seconds of the command on ``count`` crops, in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        table = write_crops(Path(tmp) / "images", count)
        command = [sys.executable, "-m", "report_lib.evaluate", str(table), "--output", str(Path(tmp) / "out"),
                   "--model", "efficientnet_lite0", "--methods", "gradcam", "--metrics", metrics,
                   "--steps", str(steps), "--target", "predicted", "--no-progress"]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        seconds = time.perf_counter() - start
    # Linux reports ru_maxrss in kB; each call runs in its own wrapper process (see main), so this is this run's peak.
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=16, help="images per method for the throughput")
    parser.add_argument("--steps", type=int, default=32, help="deletion/insertion steps")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--memory", default="100,1000", help="image counts for the memory runs ('' to skip)")
    parser.add_argument("--memory-steps", type=int, default=8, help="deletion steps in the memory runs")
    parser.add_argument("--memory-metrics", default="ad_ic", help="metrics of the memory runs (Grad-CAM)")
    parser.add_argument("--memory-one", type=int, default=None, help=argparse.SUPPRESS)  # internal: one memory run
    args = parser.parse_args()
    if args.memory_one is not None:
        peak, seconds = peak_memory_mb(args.memory_one, args.memory_steps, args.memory_metrics)
        print(f"{peak:.0f} {seconds:.1f}")
        return
    print(THROUGHPUT_HEADER)
    throughput(args.images, args.steps, tuple(m for m in args.methods.split(",") if m))
    for count in [int(c) for c in args.memory.split(",") if c]:
        done = subprocess.run([sys.executable, __file__, "--memory-one", str(count), "--memory-steps",
                               str(args.memory_steps), "--memory-metrics", args.memory_metrics],
                              check=True, capture_output=True, text=True)
        peak, seconds = done.stdout.split()[-2:]
        print(f"memory: {count} images (Grad-CAM; {args.memory_metrics}): "
              f"peak resident {peak} MB, {seconds} s", flush=True)


if __name__ == "__main__":
    main()
