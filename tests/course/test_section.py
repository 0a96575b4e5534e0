import dataclasses
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import report_lib.course.section as section
from report_lib.course.section import banner, package_versions, start_section


def test_start_section_announces_and_records(monkeypatch, tmp_path, capsys, tiny_bundle):
    chosen = dataclasses.replace(tiny_bundle, choice="auto fell back to the embedded model: test")
    monkeypatch.setattr(section, "load_model", lambda name, *args: chosen)
    run = start_section("99_demo", "auto", "quick", seed=3, output_dir=tmp_path)
    printed = capsys.readouterr().out
    assert "MODEL: small_cnn" in printed and "PROFILE: quick" in printed and "fell back" in printed
    fig = plt.figure()
    run.show_figure(fig, "empty")
    assert (tmp_path / "empty.png").exists()
    info = json.loads(run.record().read_text())
    assert info["model"] == "small_cnn" and info["seed"] == 3 and info["profile"]["name"] == "quick"
    assert info["figures"] == ["empty.png"]


def test_banner_is_boxed(tiny_bundle):
    from report_lib.config import get_profile

    tiny_bundle = dataclasses.replace(tiny_bundle, choice="auto fell back to the embedded model: " + "a long reason " * 20)
    lines = banner(tiny_bundle, get_profile("full"), 0).splitlines()
    assert lines[0] == lines[-1] and set(lines[0]) == {"="}
    assert len(lines) > 4 and all(len(line) <= len(lines[0]) for line in lines)


def test_versions_include_keras():
    assert "keras" in package_versions()


def test_show_animation_saves_and_embeds(monkeypatch, tmp_path, tiny_bundle):
    from report_lib.course.plotting import animation_gif

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda data, raw=False: shown.append(data))
    monkeypatch.setattr(section, "load_model", lambda name, *args: tiny_bundle)
    run = start_section("99_demo", output_dir=tmp_path)
    import numpy as np

    run.show_animation(animation_gif([np.zeros((4, 4, 3), np.uint8)] * 2), "anim")
    assert (tmp_path / "anim.gif").read_bytes()[:6] == b"GIF89a"
    assert shown[0]["text/html"].startswith('<img src="data:image/gif;base64,R0lGOD')


def test_machine_description_names_the_cores():
    import os

    from report_lib.course.section import machine_description

    assert machine_description().endswith(f"{os.cpu_count()} cores")
