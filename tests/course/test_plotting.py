import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import matplotlib.pyplot as plt

from report_lib.course.plotting import (
    Panel,
    caption_frame,
    encode_figure,
    method_panel,
    overlay,
    plot_curves,
    plot_explanation,
    plot_maps,
    plot_top5,
    plot_top5_before_after,
    save_fig,
)
from report_lib.methods.registry import MapStyle
from report_lib.models.classes import Prediction

IMAGES = np.random.default_rng(0).integers(0, 255, (3, 16, 16, 3), dtype=np.uint8)


def test_overlay_blends_and_checks_shapes():
    blended = overlay(IMAGES[0], np.ones((16, 16)), alpha=0.5, cmap="gray")
    np.testing.assert_allclose(blended, 0.5 * IMAGES[0] / 255 + 0.5, atol=1e-6)
    with pytest.raises(ValueError, match="does not match"):
        overlay(IMAGES[0], np.ones((8, 8)))


def test_top5_figure_has_one_chart_per_image(tmp_path, imagenet_shaped_bundle):
    probabilities = np.random.default_rng(1).dirichlet(np.ones(1000), size=3)
    fig = plot_top5(IMAGES, imagenet_shaped_bundle.decode(probabilities), ["a", "b", "c"], columns=2)
    charts = [axis for axis in fig.axes if axis.patches]
    assert len(charts) == 3 and all(len(axis.patches) == 5 for axis in charts)
    path = save_fig(fig, "top5", tmp_path / "figs")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_map_grid_shapes_and_jpeg():
    panels = [Panel("A", np.random.default_rng(2).random((3, 16, 16))),
              method_panel("gradcam", np.random.default_rng(3).random((3, 4, 4)), "coarse"),
              method_panel("saliency", np.random.default_rng(4).random((3, 16, 16)))]
    fig = plot_maps(IMAGES, panels, ["x", "y", "z"])
    assert len([axis for axis in fig.axes if axis.get_label() != "<colorbar>"]) == 3 * 4
    assert [fig.axes[i].get_title() for i in (1, 2, 3)] == ["A", "coarse", "saliency"]
    # The coarse map is shown alone, at its own 4 x 4 resolution; gradient maps alone, in grey.
    assert fig.axes[2].images[0].get_array().shape == (4, 4)
    assert fig.axes[3].images[0].get_cmap().name == "gray" and fig.axes[3].images[0].get_array().ndim == 2
    assert fig.axes[1].images[0].get_array().shape == (16, 16, 3)  # overlaid on the image
    # One colour bar per column of maps, in the column's unit or from low to high.
    bars = [axis for axis in fig.axes if axis.get_label() == "<colorbar>"]
    assert len(bars) == 3 and bars[2].get_xlabel().startswith("gradient magnitude\n(each map")


def test_grids_strips_and_examples():
    from report_lib.course.plotting import plot_examples, plot_image_grid, plot_snapshots

    fig = plot_image_grid(IMAGES, ["a", "b", "c"], columns=2, title="filters")
    assert sum(1 for axis in fig.axes if axis.images) == 3
    fig = plot_snapshots({1: IMAGES, 50: IMAGES}, ["x", "y", "z"])
    assert [axis.get_title() for axis in fig.axes[:2]] == ["step 1", "step 50"]
    fig = plot_examples(IMAGES[:2], np.zeros((2, 3, 8, 8, 3), np.uint8), ["c1", "c2"])
    assert len(fig.axes) == 2 * 4


def test_animation_gif_has_every_frame():
    import io

    from PIL import Image

    from report_lib.course.plotting import animation_gif, side_by_side

    frames = [side_by_side(np.full((2, 8, 8, 3), value, np.uint8)) for value in (0, 120, 250)]
    assert frames[0].shape == (8, 20, 3)
    gif = Image.open(io.BytesIO(animation_gif(frames)))
    assert gif.n_frames == 3 and gif.size == (20, 8)
    with pytest.raises(ValueError):
        animation_gif([])


def test_explanation_figure_wraps_panels_and_highlights_the_class():
    image = np.zeros((16, 16, 3), np.uint8)
    maps = [Panel(f"method {i}", np.full((1, 16, 16), i / 6), MapStyle()) for i in range(6)]
    predictions = [Prediction(i, "", f"class {i}", p) for i, p in enumerate([0.5, 0.3, 0.1, 0.05, 0.05])]
    fig = plot_explanation(image, maps, predictions, explained=1, title="x", panels_per_row=4)
    drawn = [axis for axis in fig.axes if axis.get_label() != "<colorbar>"]
    panels, bars = drawn[:-1], drawn[-1]
    assert [a.get_title() for a in panels] == ["x", *(m.title for m in maps)]
    assert len(fig.axes) - len(drawn) == len(maps)  # a colour bar under every map
    rows = {a.get_subplotspec().rowspan.start for a in panels}
    assert rows == {0, 1}  # 7 panels, 4 per row
    orange = [i for i, patch in enumerate(bars.patches)
              if patch.get_facecolor()[:3] == matplotlib.colors.to_rgb("tab:orange")]
    assert [predictions[::-1][i].name for i in orange] == ["class 1"]  # bars run bottom-up
    plt.close(fig)


def test_before_after_pairs_each_image_with_its_changed_copy(imagenet_shaped_bundle):
    predictions = imagenet_shaped_bundle.decode(np.eye(1000)[[1, 2, 3, 4]], top=5)
    fig = plot_top5_before_after(IMAGES[:2], IMAGES[1:3], predictions[:2], predictions[2:], ["a", "b"],
                                 ["a, set 1", "b, set 1"])
    titles = [axis.get_title() for axis in fig.axes if axis.get_title()]
    assert titles == ["a", "a, set 1", "b", "b, set 1"]
    plt.close(fig)


def test_plots_stay_png_and_photographs_become_jpeg(tmp_path):
    fig, axis = plt.subplots(figsize=(4, 3))
    axis.plot([0, 1, 2], [1, 0, 2])
    data, kind = encode_figure(fig)
    assert kind == "png" and data[:8] == b"\x89PNG\r\n\x1a\n"
    assert save_fig(fig, "curve", tmp_path).name == "curve.png"
    noise = np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    fig, axis = plt.subplots(figsize=(4, 4))
    axis.imshow(noise)
    data, kind = encode_figure(fig)
    assert kind == "jpeg" and data[:3] == b"\xff\xd8\xff"
    assert save_fig(fig, "photo", tmp_path).name == "photo.jpg"
    plt.close("all")


def test_shared_scale_keeps_units_across_images():
    drops = np.stack([np.full((4, 4), 0.06), np.full((4, 4), 0.23)])
    drops[0, 0, 0] = -0.1  # a rise in probability is not drawn
    panel = method_panel("occlusion", drops, shared_scale=True)
    assert panel.scale == (0.0, pytest.approx(0.23))
    assert panel.maps[0, 1, 1] == pytest.approx(0.06 / 0.23) and panel.maps[1].max() == pytest.approx(1.0)
    assert panel.maps[0, 0, 0] == 0.0
    own = method_panel("occlusion", drops)
    assert own.scale is None and own.maps[0].max() == pytest.approx(1.0, abs=1e-4)  # each map fills [0, 1] alone
    fig = plot_maps(IMAGES[:2, :4, :4], [panel], ["a", "b"])
    bar = [axis for axis in fig.axes if axis.get_label() == "<colorbar>"][0]
    assert bar.get_xlabel() == "probability drop" and bar.get_xlim()[1] == pytest.approx(0.23)
    plt.close(fig)


def test_plot_rates_draws_intervals_and_skips_missing():
    from report_lib.course.plotting import plot_rates
    from report_lib.evaluation.statistics import wilson_interval

    fig = plot_rates([2, 5], {"a": [wilson_interval(1, 4), wilson_interval(4, 4)], "b": [None, wilson_interval(0, 3)]},
                     "x", "rate")
    axis = fig.axes[0]
    assert len(axis.containers) == 2  # one error-bar series each
    assert axis.get_ylim() == (-0.02, 1.02)


def test_plot_maps_with_boxes_outlines_every_picture():
    import numpy as np

    from report_lib.course.plotting import method_panel, plot_maps_with_boxes

    images = np.zeros((2, 16, 16, 3), np.uint8)
    fig = plot_maps_with_boxes(images, [method_panel("gradcam", np.random.default_rng(0).random((2, 16, 16)))],
                               ["a", "b"], [[(0, 0, 8, 8)], [(2, 2, 6, 6), (8, 8, 16, 16)]])
    assert [len(axis.patches) for axis in fig.axes[:4]] == [1, 1, 2, 2]


def test_plot_curves_log_axis_and_limits():
    x = [1, 2, 3]
    fig = plot_curves(x, {"conv1": [1.2, 0.1, 0.01]}, "epoch", "change", log_y=True)
    assert fig.axes[0].get_yscale() == "log"
    fig = plot_curves(x, {"deletion": [0.2, 0.1, 0.0]}, "%", "p", ylim=(0, None))
    low, high = fig.axes[0].get_ylim()
    assert low == 0 and 0.2 <= high < 0.5  # the upper limit follows the data, not a fixed 1


def test_caption_frame_adds_a_band_with_dark_text_above_the_frame():
    frame = np.full((40, 120, 3), 128, np.uint8)
    captioned = caption_frame(frame, "epoch 12")
    assert captioned.shape == (68, 120, 3)
    assert np.array_equal(captioned[28:], frame)  # the frame itself is untouched
    band = captioned[:28]
    assert (band < 100).any() and (band == 255).mean() > 0.5  # dark text on white
