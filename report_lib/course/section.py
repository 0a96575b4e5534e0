"""What every section notebook does first: resolve its parameters, seed the
random sources, load the model, say loudly which model runs, and record the
run so that the HTML report can show it."""

from __future__ import annotations

import json
import os
import platform
import sys
import textwrap
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import keras

from report_lib.config import RUN_FILE, Profile, build_dir, figures_dir, get_profile
from report_lib.course.plotting import save_fig
from report_lib.models.bundle import ModelBundle
from report_lib.models.registry import load_model
BANNER_WIDTH = 78
_VERSIONED_PACKAGES = ("tensorflow", "tensorflow-cpu", "keras", "tf-keras-vis", "numpy", "matplotlib", "scikit-image")


@dataclass
class SectionRun:
    """A section's resolved settings and model."""

    section: str
    bundle: ModelBundle
    profile: Profile
    seed: int
    output_dir: Path
    started: float
    figures: list[str] = field(default_factory=list)

    def show_figure(self, fig, name: str) -> None:
        """Save a figure as ``<output_dir>/<name>.png`` (or ``.jpg`` for
        photographic grids, see ``plotting.encode_figure``), show the same
        file inline and close the figure.

        Args:
            fig: Matplotlib figure.
            name: File stem; the path is recorded in ``run.json``.
        """
        import matplotlib.pyplot as plt
        from IPython.display import Image, display

        path = save_fig(fig, name, self.output_dir)
        display(Image(data=path.read_bytes(), format="png" if path.suffix == ".png" else "jpeg"))
        plt.close(fig)
        self.figures.append(path.name)

    def show_animation(self, gif: bytes, name: str, width: int | None = None) -> None:
        """Save a GIF as ``<output_dir>/<name>.gif`` and show it playing inline.

        It is embedded as an HTML image, which notebooks, nbconvert's HTML
        report and GitHub all play.

        Args:
            gif: The GIF's bytes (``plotting.animation_gif``).
            name: File stem.
            width: Display width in pixels; natural size when ``None``.
        """
        import base64

        from IPython.display import display

        path = self.output_dir / f"{name}.gif"
        path.write_bytes(gif)
        size = f' width="{width}"' if width else ""
        html = f'<img src="data:image/gif;base64,{base64.b64encode(gif).decode()}"{size} alt="{name}">'
        display({"text/html": html, "text/plain": f"<animation {path.name}>"}, raw=True)
        self.figures.append(path.name)

    def finish(self) -> None:
        """Record the run and say where its figures went and how long it took."""
        path = self.record()
        folder = os.path.relpath(self.output_dir, build_dir().parent)
        count = f"{len(self.figures)} figure{'s' if len(self.figures) != 1 else ''}"
        print(f"{count} saved to {folder} in {time.time() - self.started:.0f} s ({path.name} records the run)")

    def record(self, **extra) -> Path:
        """Write ``run.json`` (model, why, profile, seed, versions, time) to the output folder."""
        info = {
            "section": self.section,
            "model": self.bundle.name,
            "model_choice": self.bundle.choice,
            "profile": asdict(self.profile),
            "seed": self.seed,
            "seconds": round(time.time() - self.started, 1),
            "python": sys.version.split()[0],
            "machine": machine_description(),
            "packages": package_versions(),
            "figures": self.figures,
            **extra,
        }
        path = self.output_dir / RUN_FILE
        path.write_text(json.dumps(info, indent=2))
        return path


def machine_description() -> str:
    """Operating system, architecture, CPU model and core count, for the run header."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {cpu or 'unknown CPU'}, {os.cpu_count()} cores"


def package_versions() -> dict[str, str]:
    """Installed versions of the packages the results depend on."""
    versions = {}
    for name in _VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def banner(bundle: ModelBundle, profile: Profile, seed: int) -> str:
    """The loud, boxed line that says which model runs and why."""
    line = f"MODEL: {bundle.name}   PROFILE: {profile.name}   SEED: {seed}"
    why = textwrap.wrap(f"why: {bundle.choice}", width=BANNER_WIDTH - 4, subsequent_indent="     ")
    rule = "=" * BANNER_WIDTH
    return "\n".join([rule, f"  {line}", *(f"  {text}" for text in why), rule])


def start_section(
    section: str,
    model_name: str = "auto",
    profile: str | None = None,
    seed: int = 0,
    output_dir: str | Path | None = None,
    preprocessing: str | None = None,
    class_names: list[str] | None = None,
) -> SectionRun:
    """Set up a section notebook.

    Args:
        section: Notebook stem, e.g. ``"03_attention"``.
        model_name: ``auto``, ``vgg16``, ``efficientnet_lite0`` or a ``.keras``/``.h5`` file.
        profile: ``full``, ``quick`` or ``None`` (``$REPORT_PROFILE``, else full).
        seed: Seed for Python, NumPy and TensorFlow.
        output_dir: Where figures go; ``build/figures/<section>`` by default.
        preprocessing: For a model file: how pixels become its input (``models.PREPROCESSING``).
        class_names: For a model file: its class names.

    Returns:
        The run, after printing the model banner and writing ``run.json``.
    """
    started = time.time()
    keras.utils.set_random_seed(seed)
    resolved_profile = get_profile(profile)
    bundle = load_model(model_name, preprocessing, class_names)
    run = SectionRun(section, bundle, resolved_profile, seed, figures_dir(section, output_dir), started)
    print(banner(bundle, resolved_profile, seed))
    run.record()
    return run
