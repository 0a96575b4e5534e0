"""The evaluation engine on tiny folders of synthetic squares: rows, protocol
card, resumption (also after SIGKILL), unreadable images, clear errors before
any work, and the same numbers on two logical devices as on one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from report_lib.data.synthetic import CLASS_NAMES, synthetic_objects
from report_lib.evaluation.engine import evaluate, image_batches, image_seed, plan
from report_lib.evaluation.folders import DatasetError, box_mask, box_to_input, read_dataset
from report_lib.evaluation.protocol import Protocol, expand_metrics
from report_lib.evaluation.results import CARD_FILE, part_files, read_results

QUICK = Protocol(steps=4, road_fractions=(0.25, 0.5), crop="none", pointing_tolerance=1)


def write_folder(root: Path, count: int = 6, seed: int = 3) -> tuple[Path, Path]:
    """Class sub-folders of PNG squares, and a CSV of the same files with boxes."""
    data = synthetic_objects(count, seed=seed)
    lines = ["path,label,box"]
    for index, (image, label, (top, left, bottom, right)) in enumerate(zip(data.images, data.labels, data.boxes)):
        relative = Path(CLASS_NAMES[label]) / f"img{index:03d}.png"
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / relative)
        lines.append(f"{relative.as_posix()},{CLASS_NAMES[label]},{left} {top} {right} {bottom}")
    (root / "list.csv").write_text("\n".join(lines) + "\n")
    return root, root / "list.csv"


def by_key(folder: Path) -> dict[tuple[str, str, str], float]:
    rows = read_results(folder).to_pylist()
    return {(r["image_id"], r["method"], r["metric"]): r["value"] for r in rows}


# --- input formats and errors --------------------------------------------------------------------------


def test_folder_and_csv_give_the_same_images_and_labels(tmp_path, tiny_bundle):
    root, table = write_folder(tmp_path)
    from_folder = read_dataset(root, tiny_bundle.class_names)
    from_csv = read_dataset(table, tiny_bundle.class_names)
    assert [i.image_id for i in from_folder] == [i.image_id for i in from_csv]
    assert [i.label for i in from_folder] == [i.label for i in from_csv]
    assert all(i.box is None for i in from_folder) and all(i.box is not None for i in from_csv)
    assert read_dataset(table, tiny_bundle.class_names, limit=2) == from_csv[:2]


def test_wnid_file_names_and_folders(tmp_path, imagenet_shaped_bundle):
    bundle = imagenet_shaped_bundle
    pixel = Image.fromarray(np.zeros((4, 4, 3), np.uint8))
    pixel.save(tmp_path / "n01440764_10026.JPEG")  # tench, ImageNet class 0
    (tmp_path / "n02123045").mkdir()
    pixel.save(tmp_path / "n02123045" / "a.png")  # tabby, class 281
    (tmp_path / "tabby").mkdir()
    pixel.save(tmp_path / "tabby" / "b.png")
    items = read_dataset(tmp_path, bundle.class_names, bundle.wnids)
    assert {i.image_id: i.label for i in items} == {"n01440764_10026.JPEG": 0, "n02123045/a.png": 281,
                                                    "tabby/b.png": 281}


def test_every_problem_is_listed_before_any_work(tmp_path, tiny_bundle):
    root, _ = write_folder(tmp_path)
    (root / "green square").mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / "green square" / "x.png")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / "loose.png")
    with pytest.raises(DatasetError) as error:
        read_dataset(root, tiny_bundle.class_names)
    assert "2 problem(s)" in str(error.value) and "green square" in str(error.value) and "loose.png" in str(error.value)
    with pytest.raises(DatasetError, match="does not exist"):
        read_dataset(tmp_path / "missing", tiny_bundle.class_names)
    bad = root / "bad.csv"
    existing = sorted(root.glob("*/img*.png"))[0].relative_to(root).as_posix()
    bad.write_text(f"path,label,box\nnope.png,red square,\n{existing},red,1 2 3\n")
    with pytest.raises(DatasetError) as error:
        read_dataset(bad, tiny_bundle.class_names)
    assert "no file" in str(error.value) and "four numbers" in str(error.value)
    (tmp_path / "header.csv").write_text("file,class\nx.png,red\n")
    with pytest.raises(DatasetError, match="path,label"):
        read_dataset(tmp_path / "header.csv", tiny_bundle.class_names)


@pytest.mark.parametrize("methods, metrics, message", [
    (["gradcam", "gradcamm"], ["deletion"], "unknown method 'gradcamm'"),
    (["gradcam"], ["deletion", "pointing"], "unknown metric 'pointing'"),
])
def test_bad_method_or_metric_fails_before_anything_is_written(tmp_path, tiny_bundle, methods, metrics, message):
    root, _ = write_folder(tmp_path / "images")
    with pytest.raises(ValueError, match=message):
        evaluate(root, tiny_bundle, methods, metrics, tmp_path / "out", QUICK, progress=False)
    assert not (tmp_path / "out").exists()


def test_metric_groups_expand_in_a_fixed_order():
    assert expand_metrics(["ad_ic", "road", "deletion"]) == (
        "deletion", "road_morf", "road_lerf", "average_drop", "increase_in_confidence")


def test_box_follows_the_centre_crop():
    # A 64 x 128 image, crop_fraction 1: scaled by 0.5 to 32 x 64, central 32 columns kept (offset 16).
    assert box_to_input((32, 0, 96, 64), (64, 128), 32, "centre", 1.0) == (0.0, 0.0, 32.0, 32.0)
    assert box_to_input((0, 0, 32, 64), (64, 128), 32, "centre", 1.0) == (0.0, 0.0, 0.0, 32.0)  # cropped away
    assert box_to_input((0, 0, 64, 32), (64, 128), 32, "none") == (0.0, 0.0, 16.0, 16.0)
    mask = box_mask((2, 4, 6, 5), 8)
    assert mask.sum() == 4 * 1 and mask[4, 2:6].all()


def test_pipeline_decodes_in_order_and_reports_bad_files(tmp_path, tiny_bundle):
    root, table = write_folder(tmp_path, count=5)
    items = read_dataset(table, tiny_bundle.class_names)
    Path(items[2].path).write_bytes(b"not a png")
    batches = list(image_batches(items, 32, batch_size=2, crop="none"))
    assert [len(b.items) for b in batches] == [2, 2, 1]
    flat = [image for b in batches for image in b.images]
    assert np.array_equal(flat[0], np.asarray(Image.open(items[0].path)))
    errors = [e for b in batches for e in b.errors]
    assert errors[2] and not any(errors[:2] + errors[3:])
    assert np.allclose(batches[0].boxes[0], items[0].box)


# --- the engine ----------------------------------------------------------------------------------------


def test_one_row_per_image_method_metric_and_a_protocol_card(tmp_path, tiny_bundle):
    _, table = write_folder(tmp_path / "images", count=6)
    out = evaluate(table, tiny_bundle, ["gradcam", "random"], ["all"], tmp_path / "out", QUICK, batch_size=4,
                   progress=False)
    rows = read_results(out).to_pylist()
    assert len(rows) == 6 * 2 * 7 and len(part_files(out)) == 2
    assert all(r["error"] == "" and np.isfinite(r["value"]) for r in rows)
    curves = [r for r in rows if r["metric"] == "deletion"]
    assert all(len(r["curve"]) == QUICK.steps + 1 for r in curves)
    # A curve starts at the whole image's probability.
    assert all(abs(r["curve"][0] - r["probability"]) < 1e-4 for r in curves)
    card = json.loads((out / CARD_FILE).read_text())
    assert card["protocol"]["keep_fraction"] == 0.5 and card["protocol"]["score"] == "softmax"
    assert card["model"]["name"] == "small_cnn" and len(card["image_ids"]) == 6 and "numpy" in card["versions"]
    assert set(card["metrics"]) == set(expand_metrics(["all"])) and "average_drop" in card["definitions"]
    # The trained CNN's Grad-CAM points at the square; a random map mostly does not.
    hits = {m: np.mean([r["value"] for r in rows if r["method"] == m and r["metric"] == "pointing_game"])
            for m in ("gradcam", "random")}
    assert hits["gradcam"] > hits["random"]


def test_rerun_skips_what_is_done_and_adds_only_what_is_new(tmp_path, tiny_bundle):
    root, _ = write_folder(tmp_path / "images", count=4)
    out = tmp_path / "out"
    evaluate(root, tiny_bundle, ["gradcam"], ["deletion", "ad_ic"], out, QUICK, batch_size=2, progress=False)
    first = by_key(out)
    parts = len(part_files(out))
    evaluate(root, tiny_bundle, ["gradcam"], ["deletion", "ad_ic"], out, QUICK, batch_size=2, progress=False)
    assert len(part_files(out)) == parts
    evaluate(root, tiny_bundle, ["gradcam", "saliency"], ["deletion", "ad_ic"], out, QUICK, batch_size=2,
             progress=False)
    after = by_key(out)
    assert len(after) == 4 * 2 * 3 and {k: after[k] for k in first} == first
    with pytest.raises(ValueError, match="other settings"):
        evaluate(root, tiny_bundle, ["gradcam"], ["deletion"], out, Protocol(steps=8, crop="none"), progress=False)


def test_an_unreadable_image_is_recorded_and_skipped(tmp_path, tiny_bundle):
    root, _ = write_folder(tmp_path / "images", count=5)
    broken = root / "red square" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out = evaluate(root, tiny_bundle, ["gradcam"], ["deletion", "insertion"], tmp_path / "out", QUICK,
                   batch_size=4, progress=False)
    rows = read_results(out).to_pylist()
    bad = [r for r in rows if r["image_id"] == "red square/broken.png"]
    assert len(bad) == 2 and all(np.isnan(r["value"]) and "ImageLoadError" in r["error"] for r in bad)
    good = [r for r in rows if r["image_id"] != "red square/broken.png"]
    assert len(good) == 5 * 2 and all(np.isfinite(r["value"]) and not r["error"] for r in good)
    # Recorded means done: a rerun does not retry it.
    assert plan(root, tiny_bundle, ["gradcam"], ["deletion", "insertion"], out, QUICK).todo == []


def test_an_image_scores_the_same_whatever_its_batch(tmp_path, tiny_bundle):
    root, _ = write_folder(tmp_path / "images", count=5)
    args = (root, tiny_bundle, ["smoothgrad", "random"], ["deletion", "road_morf"])
    one = by_key(evaluate(*args, tmp_path / "a", QUICK, batch_size=1, progress=False))
    many = by_key(evaluate(*args, tmp_path / "b", QUICK, batch_size=5, progress=False))
    assert one.keys() == many.keys()
    assert max(abs(one[k] - many[k]) for k in one) < 1e-5
    assert image_seed("a.png", 0) == image_seed("a.png", 0) != image_seed("b.png", 0)


# --- the command in a subprocess: SIGKILL and two logical devices --------------------------------------


def _command(model: Path, source: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "report_lib.evaluate", str(source), "--output", str(out), "--model", str(model),
            "--preprocessing", "unit", "--class-names", ",".join(CLASS_NAMES), "--crop", "none", "--steps", "8",
            "--profile", "quick", "--no-progress", *extra]


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory, tiny_bundle) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    tiny_bundle.model.save(path)
    return path


def test_a_killed_run_keeps_whole_batches_and_resumes(tmp_path, tiny_model_file):
    root, _ = write_folder(tmp_path / "images", count=120)
    out = tmp_path / "out"
    # Occlusion at stride 1 makes each batch slow enough to kill the run half-way.
    command = _command(tiny_model_file, root, out, "--methods", "gradcam,occlusion", "--metrics", "deletion",
                       "--batch-size", "4")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(part_files(out)) < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be killed: " + process.stderr.read().decode()[-500:]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed = read_results(out).to_pylist()  # readable: only whole parts count
    assert 0 < len(killed) < 120 * 2 and len(killed) % (4 * 2) == 0
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    rows = read_results(out).to_pylist()
    keys = [(r["image_id"], r["method"]) for r in rows]
    assert len(keys) == len(set(keys)) == 120 * 2
    before = {(r["image_id"], r["method"]): r["value"] for r in killed}
    assert all(r["value"] == before[(r["image_id"], r["method"])] for r in rows if (r["image_id"], r["method"]) in before)


def test_mirrored_strategy_on_two_logical_devices_gives_the_same_numbers(tmp_path, tiny_model_file):
    _, table = write_folder(tmp_path / "images", count=10)
    results = {}
    for devices in (1, 2):
        out = tmp_path / f"out{devices}"
        done = subprocess.run(_command(tiny_model_file, table, out, "--methods", "gradcam,saliency", "--metrics",
                                       "curves,ad_ic,pointing_game", "--batch-size", "4", "--forward-batch", "3",
                                       "--cpu-devices", str(devices)), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        results[devices] = by_key(out)
        card = json.loads((out / CARD_FILE).read_text())
        assert len(card["devices"]) == devices
    assert results[1].keys() == results[2].keys() and len(results[1]) == 10 * 2 * 5
    # Equal to float32 rounding (average drop is in percent, hence the relative tolerance).
    keys = sorted(results[1])
    assert np.allclose([results[1][k] for k in keys], [results[2][k] for k in keys], rtol=1e-5, atol=1e-5)


def test_the_command_reports_a_bad_label_clearly(tmp_path, tiny_model_file):
    root, _ = write_folder(tmp_path / "images", count=2)
    (root / "purple").mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / "purple" / "x.png")
    done = subprocess.run(_command(tiny_model_file, root, tmp_path / "out"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "purple" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
