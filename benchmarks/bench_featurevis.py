"""Feature visualization speed: report_lib's compiled engine against
tf-keras-vis 0.8.7's eager ActivationMaximization, in the same process, with
the same recipe (jitter 4 px, rotate 1 degree, total variation, L1 norm,
RMSprop), canvas and batch.

The time per image-step is the slope between a short and a long run, so the
one-off costs (tracing, model cloning) of either side do not count; they are
printed separately as the time of a whole 200-step call.

Usage: python benchmarks/bench_featurevis.py [--batch 4] [--short 5] [--long 45]
"""

from __future__ import annotations

import argparse
import os
import time

import report_lib  # noqa: F401  (sets TensorFlow's environment before it starts)

import keras
import tensorflow as tf

from report_lib.methods.featurevis import visualize
from report_lib.models.registry import efficientnet_lite0_bundle, vgg16_bundle
from report_lib.methods.objectives import class_logit

CLASSES = (2, 22, 413, 285, 859, 967, 665, 652)


def _tf_keras_vis_seconds(bundle, batch: int, steps: int) -> float:
    from tf_keras_vis.activation_maximization import ActivationMaximization
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    maximizer = ActivationMaximization(bundle.model, model_modifier=ReplaceToLinear(), clone=True)
    seed_input = tf.random.uniform((batch, bundle.input_size, bundle.input_size, 3), 0, 255, seed=0)
    start = time.perf_counter()
    maximizer(CategoricalScore(list(CLASSES[:batch])), seed_input=seed_input, steps=steps)
    return time.perf_counter() - start


def _report_lib_seconds(bundle, batch: int, steps: int) -> float:
    start = time.perf_counter()
    visualize(bundle, [class_logit(c) for c in CLASSES[:batch]], "tf-keras-vis", steps=steps, progress=False)
    return time.perf_counter() - start


def per_image_step(run, bundle, batch: int, short: int, long: int) -> float:
    """Milliseconds per image-step: the slope between a short and a long run."""
    run(bundle, batch, short)  # warm-up: first-call costs of TensorFlow itself
    seconds_short = run(bundle, batch, short)
    seconds_long = run(bundle, batch, long)
    return 1000 * (seconds_long - seconds_short) / ((long - short) * batch)


def _first_layer_seconds(bundle, batch: int, steps: int, ours: bool) -> float:
    """Channel objectives of the first conv layer, as notebook 02 runs them:
    tf-keras-vis gets the model truncated at that layer but keeps the 224 px
    input (it cannot change the input size); report_lib runs the truncated
    model on the layer's own canvas (48 px)."""
    from report_lib.methods.objectives import channel

    layer = bundle.conv_layers[0]
    start = time.perf_counter()
    if ours:
        visualize(bundle, [channel(layer, c) for c in range(batch)], "tf-keras-vis", steps=steps, progress=False)
    else:
        from tf_keras_vis.activation_maximization import ActivationMaximization

        maximizer = ActivationMaximization(
            keras.Model(bundle.model.inputs, bundle.layer(layer).output), clone=False
        )
        seed_input = tf.random.uniform((batch, bundle.input_size, bundle.input_size, 3), 0, 255, seed=0)
        maximizer(lambda output: [tf.reduce_mean(output[i, ..., i]) for i in range(batch)], seed_input=seed_input, steps=steps)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--short", type=int, default=5)
    parser.add_argument("--long", type=int, default=45)
    parser.add_argument("--models", default="efficientnet_lite0,vgg16")
    args = parser.parse_args()
    loaders = {"efficientnet_lite0": efficientnet_lite0_bundle, "vgg16": lambda: vgg16_bundle(weights=None)}
    print(f"canvas 224 px, batch {args.batch}, {os.cpu_count()} cores, TF {tf.__version__}")
    print(f"{'model':<20}{'tf-keras-vis ms':>18}{'report_lib ms':>16}{'speed-up':>10}")
    for name in args.models.split(","):
        bundle = loaders[name]()
        theirs = per_image_step(_tf_keras_vis_seconds, bundle, args.batch, args.short, args.long)
        ours = per_image_step(_report_lib_seconds, bundle, args.batch, args.short, args.long)
        print(f"{name:<20}{theirs:>18.1f}{ours:>16.1f}{theirs / ours:>9.1f}x", flush=True)
    print(f"\nfirst conv layer, {args.batch} filters, as in notebook 02 (both truncated at the layer;"
          " tf-keras-vis at 224 px, report_lib on a 48 px canvas)")
    for name in args.models.split(","):
        bundle = loaders[name]()
        theirs = per_image_step(lambda b, n, s: _first_layer_seconds(b, n, s, ours=False), bundle, args.batch, args.short, args.long)
        ours = per_image_step(lambda b, n, s: _first_layer_seconds(b, n, s, ours=True), bundle, args.batch, args.short, args.long)
        print(f"{name:<20}{theirs:>18.1f}{ours:>16.1f}{theirs / ours:>9.1f}x", flush=True)


if __name__ == "__main__":
    main()
