"""Evaluate attribution methods on an image folder, from the command line.

    python -m report_lib.evaluate IMAGES --model efficientnet_lite0 \\
        --methods gradcam,gradcam_plus_plus,scorecam --metrics deletion,insertion,ad_ic \\
        --output results/lite0

IMAGES is a folder of class sub-folders (named by WordNet id or class name),
a folder of ``<wnid>_*.JPEG`` files, or a CSV of ``path,label[,box]``. The
results folder gets one Parquet part per finished batch and ``protocol.json``;
rerunning the same command resumes. This module only parses arguments; the
work is done by ``report_lib.evaluation.engine``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from report_lib.config import get_profile
from report_lib.evaluation.protocol import METRIC_GROUPS, METRICS, Protocol


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m report_lib.evaluate", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="image folder, or CSV of path,label[,box]")
    parser.add_argument("--output", required=True, help="results folder (created; reused to resume)")
    parser.add_argument("--model", default="efficientnet_lite0",
                        help="vgg16, efficientnet_lite0, auto, or a .keras/.h5 classifier")
    parser.add_argument("--preprocessing", default=None, help="for a model file: caffe, lite, tf, unit or none")
    parser.add_argument("--class-names", default=None, help="for a model file: comma-separated class names")
    parser.add_argument("--methods", default="gradcam,gradcam_plus_plus,scorecam",
                        help="comma-separated method ids (default: %(default)s)")
    parser.add_argument("--metrics", default="deletion,insertion,ad_ic",
                        help=f"comma-separated, from {', '.join(METRICS)} or the groups "
                             f"{', '.join(METRIC_GROUPS)} (default: %(default)s)")
    parser.add_argument("--profile", default="full", help="sets method options (SmoothGrad samples, "
                        "Score-CAM channels, occlusion stride): full or quick")
    parser.add_argument("--target", default="label", choices=("label", "predicted"),
                        help="class explained: the folder's label or the model's top-1")
    parser.add_argument("--crop", default="centre", choices=("centre", "none"),
                        help="centre: ImageNet evaluation crop (default); none: squash")
    parser.add_argument("--steps", type=int, default=32, help="deletion/insertion steps")
    parser.add_argument("--keep-fraction", type=float, default=0.5, help="share of pixels kept for AD/IC")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8, help="images per batch (explained and written together)")
    parser.add_argument("--forward-batch", type=int, default=8,
                        help="perturbed images per forward pass per device (8 suits a CPU; more for a GPU)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate the first N images only")
    parser.add_argument("--gpus", default="auto",
                        help="auto: MirroredStrategy over all GPUs when there are several; 1: one device")
    parser.add_argument("--cpu-devices", type=int, default=1,
                        help="split the CPU into N logical devices and mirror across them (tries the "
                             "multi-device path without GPUs)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--summary", action="store_true", help="print the summary table when done")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = _parser().parse_args(argv)
    import tensorflow as tf  # after parsing, so --help is instant

    from report_lib.evaluation.engine import evaluate, make_strategy, plan
    from report_lib.evaluation.summary import summarize, summary_markdown
    from report_lib.evaluation.results import read_results
    from report_lib.methods.registry import get_method, method_options
    from report_lib.models.registry import load_model

    devices = None
    if args.cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.cpu_devices)
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    elif args.gpus != "auto":
        gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
        devices = gpus[: int(args.gpus)] if gpus else None
    try:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        for method in methods:
            get_method(method)
        profile = get_profile(args.profile)
        options = {m: method_options(m, profile, args.seed) for m in methods}
        protocol = Protocol(steps=args.steps, keep_fraction=args.keep_fraction, target=args.target, crop=args.crop,
                            seed=args.seed)
        strategy = make_strategy(devices)
        names = args.class_names.split(",") if args.class_names else None
        if strategy is not None:
            with strategy.scope():  # the weights are mirrored on every device
                bundle = load_model(args.model, args.preprocessing, names)
        else:
            bundle = load_model(args.model, args.preprocessing, names)
        metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
        job = plan(args.source, bundle, options, metrics, args.output, protocol, args.limit)
        print(f"{len(job.items)} images, {len(job.todo)} to do; methods {', '.join(options)}; "
              f"metrics {', '.join(job.metrics)}; results in {job.output}", file=sys.stderr)
        evaluate(args.source, bundle, options, metrics, args.output, protocol, batch_size=args.batch_size,
                 forward_batch=args.forward_batch, strategy=strategy, limit=args.limit,
                 progress=not args.no_progress)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.summary:
        print(summary_markdown(summarize(read_results(args.output))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
