import pytest

from report_lib.config import PROFILES, figures_dir, get_profile, repo_root


def test_quick_profile_does_less_of_everything():
    quick, full = PROFILES["quick"], PROFILES["full"]
    for field in ("smoothgrad_samples", "scorecam_max_channels", "lucid_steps", "tf_keras_vis_steps",
                  "images_per_class", "filters_per_layer", "first_layer_filters", "example_crops"):
        assert getattr(quick, field) < getattr(full, field), field
    assert full.steps("lucid") == 512 and full.steps("tf-keras-vis") == 200


def test_smoke_profile_does_no_more_than_quick():
    quick, smoke = PROFILES["quick"], PROFILES["smoke"]
    for field in ("smoothgrad_samples", "scorecam_max_channels", "lucid_steps", "images_per_class",
                  "filters_per_layer", "example_crops", "patch_steps", "evaluation_photos", "evaluation_composites",
                  "evaluation_steps", "sanity_images", "transfer_epochs"):
        assert getattr(smoke, field) <= getattr(quick, field), field
    # Coarser occlusion grids are cheaper; at least two photographs in total, so 09 has a spread to show.
    assert smoke.occlusion_stride >= quick.occlusion_stride
    assert smoke.evaluation_photos + smoke.evaluation_composites >= 2


def test_profile_from_argument_env_and_default(monkeypatch):
    monkeypatch.delenv("REPORT_PROFILE", raising=False)
    assert get_profile().name == "full"
    monkeypatch.setenv("REPORT_PROFILE", "quick")
    assert get_profile().name == "quick"
    assert get_profile("full").name == "full"


def test_unknown_profile(monkeypatch):
    with pytest.raises(ValueError, match="choose one of \\['full', 'quick', 'smoke'\\]"):
        get_profile("fast")


def test_figures_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("REPORT_OUTPUT_DIR", raising=False)
    assert figures_dir("x", tmp_path / "a") == tmp_path / "a"
    monkeypatch.setenv("REPORT_OUTPUT_DIR", str(tmp_path / "b"))
    assert figures_dir("03_attention") == tmp_path / "b" / "03_attention"
    assert (tmp_path / "b" / "03_attention").is_dir()


def test_repo_root_is_this_checkout():
    assert (repo_root() / "notebooks").is_dir()


def test_data_file_in_a_checkout():
    from report_lib.config import data_file

    assert data_file("occlusions.json").read_text().startswith("{")
    with pytest.raises(FileNotFoundError, match="no data file"):
        data_file("missing.json")


def test_section_notebooks_are_the_numbered_ones(tmp_path):
    from report_lib.config import section_notebooks

    for name in ("02_b.ipynb", "01_a.ipynb", "scratch.ipynb", "03_c.txt"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in section_notebooks(tmp_path)] == ["01_a.ipynb", "02_b.ipynb"]
