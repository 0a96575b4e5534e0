"""Every method of report_lib against its tf-keras-vis counterpart, or a plain
eager baseline where tf-keras-vis has none, in the same process, on the
embedded EfficientNet-Lite0 and on VGG16 with random weights (its speed does
not depend on the weights, so no download is needed).

Each side is called once untimed (tracing and other first-call costs), then
``--repeats`` times; the table shows the median of those calls and the ratio
baseline / report_lib. Peak memory is TensorFlow's own count of the tensor
memory (activations, gradients, batches) allocated during the first call,
above what was allocated before it; NumPy arrays are not counted. (The
process' resident set was tried first: memory freed while loading the model
stays resident and is reused, which hid most of the methods' needs.)

Usage:
    python benchmarks/run.py [--models efficientnet_lite0,vgg16] [--repeats 3] [--methods Grad-CAM,occlusion]
                             [--json build/benchmarks.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import report_lib  # noqa: F401  (sets TensorFlow's environment before it starts)

import numpy as np
import tensorflow as tf

from report_lib.data.images import load_images
from report_lib.methods.registry import explain, method_title
from report_lib.models.bundle import ModelBundle
from report_lib.models.registry import efficientnet_lite0_bundle, vgg16_bundle

SAMPLES = ("chelsea", "coffee", "motorcycle", "grace_hopper")
CLASSES = (285, 967, 665, 652)  # the embedded model's top-1 classes of the samples
ATTENTION_IMAGES = 2
SMOOTHGRAD_SAMPLES = 16
SCORECAM_CHANNELS = 32
OCCLUSION_PATCH, OCCLUSION_STRIDE = 32, 16
CURVE_STEPS = 32
FEATUREVIS_STEPS = 20
FEATUREVIS_CLASSES = 4
PATCH_STEPS, PATCH_BATCH = 10, 8

LOADERS: dict[str, Callable[[], ModelBundle]] = {
    "efficientnet_lite0": efficientnet_lite0_bundle,
    "vgg16": lambda: vgg16_bundle(weights=None),
}


@dataclass
class Case:
    """One method: report_lib's call and the baseline's, on the same work."""

    method: str
    work: str
    baseline: str
    ours: Callable[[], object]
    theirs: Callable[[], object]


@dataclass
class Timing:
    """Median seconds of the repeated calls and peak memory of the first one."""

    seconds: float
    first_seconds: float
    peak_mb: float | None


def _tensor_memory() -> dict[str, int] | None:
    try:
        return tf.config.experimental.get_memory_info("CPU:0")
    except (ValueError, RuntimeError):  # allocator without statistics
        return None


def measure(call: Callable[[], object], repeats: int) -> Timing:
    """Time ``call``: one first call (with its peak tensor memory), then the
    median of ``repeats`` more.

    Args:
        call: The work.
        repeats: Timed calls after the first.

    Returns:
        The timing; ``peak_mb`` is ``None`` where TensorFlow keeps no memory statistics.
    """
    before = _tensor_memory()
    if before is not None:
        tf.config.experimental.reset_memory_stats("CPU:0")
    start = time.perf_counter()
    call()
    first = time.perf_counter() - start
    after = _tensor_memory()
    peak_mb = (after["peak"] - before["current"]) / 2**20 if before is not None and after is not None else None
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return Timing(statistics.median(seconds), first, peak_mb)


def eagerly(call: Callable[[], object]) -> Callable[[], object]:
    """The same report_lib code with every ``tf.function`` run as plain eager Python."""

    def run():
        tf.config.run_functions_eagerly(True)
        try:
            return call()
        finally:
            tf.config.run_functions_eagerly(False)

    return run


def attention_cases(bundle: ModelBundle, images: np.ndarray, classes: list[int]) -> list[Case]:
    """Saliency, SmoothGrad and the CAM family against tf-keras-vis 0.8.7."""
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.scorecam import Scorecam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    inputs = bundle.preprocess(tf.constant(images, tf.float32)).numpy()
    score = CategoricalScore(classes)
    saliency = Saliency(bundle.model, model_modifier=ReplaceToLinear(), clone=True)
    cam_options = {"penultimate_layer": bundle.cam_layer}
    gradcam = Gradcam(bundle.model, model_modifier=ReplaceToLinear(), clone=True)
    gradcam_pp = GradcamPlusPlus(bundle.model, model_modifier=ReplaceToLinear(), clone=True)
    scorecam = Scorecam(bundle.model, model_modifier=ReplaceToLinear(), clone=True)
    work = f"{len(images)} images"
    return [
        Case(method_title("saliency"), work, "tf-keras-vis Saliency",
             lambda: explain("saliency", bundle, images, classes), lambda: saliency(score, inputs)),
        Case(method_title("smoothgrad"), f"{work} x {SMOOTHGRAD_SAMPLES} samples", "tf-keras-vis Saliency(smooth_samples)",
             lambda: explain("smoothgrad", bundle, images, classes, samples=SMOOTHGRAD_SAMPLES),
             lambda: saliency(score, inputs, smooth_samples=SMOOTHGRAD_SAMPLES, smooth_noise=0.2)),
        Case(method_title("gradcam"), work, "tf-keras-vis Gradcam",
             lambda: explain("gradcam", bundle, images, classes), lambda: gradcam(score, inputs, **cam_options)),
        Case(method_title("gradcam_plus_plus"), work, "tf-keras-vis GradcamPlusPlus",
             lambda: explain("gradcam_plus_plus", bundle, images, classes), lambda: gradcam_pp(score, inputs, **cam_options)),
        Case(method_title("scorecam"), f"{work}, {SCORECAM_CHANNELS} channels", "tf-keras-vis Scorecam(max_N)",
             lambda: explain("scorecam", bundle, images, classes, max_channels=SCORECAM_CHANNELS),
             lambda: scorecam(score, inputs, max_N=SCORECAM_CHANNELS, **cam_options)),
    ]


def _one_image_at_a_time(bundle: ModelBundle, images: np.ndarray, class_id: int) -> np.ndarray:
    """The plain baseline of batched prediction: one eager model call per image."""
    return np.array([float(bundle.model(bundle.preprocess(tf.constant(image[None], tf.float32)))[0, class_id])
                     for image in images])


def perturbation_cases(bundle: ModelBundle, image: np.ndarray, class_id: int) -> list[Case]:
    """Occlusion and the deletion curve, which tf-keras-vis does not have:
    against one eager model call per perturbed image."""
    from report_lib.evaluation.faithfulness import curve_images, deletion_insertion
    from report_lib.methods.occlusion import occluded_copies, patch_positions, sensitivity_map

    positions = patch_positions(bundle.input_size, OCCLUSION_PATCH, OCCLUSION_STRIDE)
    heatmap = explain("gradcam", bundle, image[None], class_id)[0]

    return [
        Case("occlusion", f"{len(positions)} positions", "eager, one image per call",
             lambda: sensitivity_map(bundle, image, class_id, patch=OCCLUSION_PATCH, stride=OCCLUSION_STRIDE),
             lambda: _one_image_at_a_time(bundle, occluded_copies(image, positions, OCCLUSION_PATCH), class_id)),
        Case("deletion curve", f"{CURVE_STEPS} steps", "eager, one image per call",
             lambda: deletion_insertion(bundle, image, class_id, heatmap, "deletion", steps=CURVE_STEPS),
             lambda: _one_image_at_a_time(bundle, curve_images(image, heatmap, "deletion", CURVE_STEPS), class_id)),
    ]


def optimization_cases(bundle: ModelBundle, images: np.ndarray) -> list[Case]:
    """Activation maximization (against tf-keras-vis' ActivationMaximization
    with the same recipe), Lucid's recipe and the adversarial patch (against
    the same code run eagerly)."""
    from tf_keras_vis.activation_maximization import ActivationMaximization
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    from report_lib.methods.adversarial_patch import PatchRecipe, train_patch
    from report_lib.methods.featurevis import visualize
    from report_lib.methods.objectives import class_logit

    classes = list(CLASSES[:FEATUREVIS_CLASSES])
    objectives = [class_logit(c) for c in classes]
    maximizer = ActivationMaximization(bundle.model, model_modifier=ReplaceToLinear(), clone=True)

    def activation_maximization(count: int) -> Case:
        # One class is the explorer's and a test's case; four, a figure's batch.
        seed_input = tf.random.uniform((count, bundle.input_size, bundle.input_size, 3), 0, 255, seed=0)
        return Case("activation maximization", f"{count} class{'es' if count > 1 else ''} x {FEATUREVIS_STEPS} steps",
                    "tf-keras-vis ActivationMaximization",
                    lambda: visualize(bundle, objectives[:count], "tf-keras-vis", steps=FEATUREVIS_STEPS, progress=False),
                    lambda: maximizer(CategoricalScore(classes[:count]), seed_input=seed_input, steps=FEATUREVIS_STEPS))

    def lucid():
        return visualize(bundle, objectives, "lucid", steps=FEATUREVIS_STEPS, progress=False)

    def patch():
        return train_patch(bundle, images, 859, PatchRecipe(steps=PATCH_STEPS, batch_size=PATCH_BATCH), progress=False)

    work = f"{len(classes)} classes x {FEATUREVIS_STEPS} steps"
    return [
        activation_maximization(1),
        activation_maximization(len(classes)),
        Case("feature vis., Lucid recipe", work, "same code, eager", lucid, eagerly(lucid)),
        Case("adversarial patch", f"{PATCH_STEPS} steps x {PATCH_BATCH} images", "same code, eager",
             patch, eagerly(patch)),
    ]


def model_cases(name: str) -> list[Case]:
    """Load a model and set up every case on it."""
    bundle = LOADERS[name]()
    images = load_images(list(SAMPLES), bundle.input_size)
    classes = list(CLASSES[:ATTENTION_IMAGES])
    return (attention_cases(bundle, images[:ATTENTION_IMAGES], classes)
            + perturbation_cases(bundle, images[0], CLASSES[0])
            + optimization_cases(bundle, images))


def run_model(name: str, repeats: int, methods: set[str] | None) -> list[dict]:
    """Benchmark every case on one model; prints one table row per case as it goes."""
    rows = []
    for case in model_cases(name):
        if methods and case.method not in methods:
            continue
        theirs = measure(case.theirs, repeats)
        ours = measure(case.ours, repeats)
        row = {"model": name, "method": case.method, "work": case.work, "baseline": case.baseline,
               "baseline_timing": asdict(theirs), "report_lib_timing": asdict(ours),
               "speed_up": theirs.seconds / ours.seconds}
        rows.append(row)
        print(format_row(row), flush=True)
    return rows


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{max(value, 0.0):.0f}"


TABLE_HEADER = ("| model | method | work | baseline | baseline s | report_lib s | speed-up "
                "| peak tensor MB, baseline | peak tensor MB, report_lib |\n"
                "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")


def format_row(row: dict) -> str:
    """One markdown table row of a result."""
    theirs, ours = row["baseline_timing"], row["report_lib_timing"]
    return (f"| {row['model']} | {row['method']} | {row['work']} | {row['baseline']} | {theirs['seconds']:.3f} "
            f"| {ours['seconds']:.3f} | {row['speed_up']:.1f}x | {_mb(theirs['peak_mb'])} | {_mb(ours['peak_mb'])} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="efficientnet_lite0,vgg16", help="comma-separated: " + ", ".join(LOADERS))
    parser.add_argument("--repeats", type=int, default=3, help="timed calls after the first (median shown)")
    parser.add_argument("--methods", default="", help="comma-separated subset of the method names (default: all)")
    parser.add_argument("--json", type=Path, default=Path("build/benchmarks.json"), help="where to save the results")
    args = parser.parse_args()
    import keras

    keras.config.disable_interactive_logging()  # tf-keras-vis' Score-CAM would print progress bars into the table
    unknown = set(args.models.split(",")) - set(LOADERS)
    if unknown:
        parser.error(f"unknown model(s) {sorted(unknown)}; choose from {list(LOADERS)}")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    # Split on commas not followed by a space: "feature vis., Lucid recipe" is one method name.
    methods = set(re.split(r",(?! )", args.methods)) if args.methods else None
    print(f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"TensorFlow {tf.__version__}; median of {args.repeats} calls after a first, untimed one; "
          f"peak tensor memory of the first call\n")
    print(TABLE_HEADER, flush=True)
    rows = [row for name in args.models.split(",") for row in run_model(name, args.repeats, methods)]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"python": sys.version, "tensorflow": tf.__version__, "cores": os.cpu_count(),
                                     "repeats": args.repeats, "results": rows}, indent=1))
    print(f"\nsaved {args.json}")


if __name__ == "__main__":
    main()
