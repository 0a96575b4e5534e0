"""Images that installed packages ship, with their credits: the sample
photographs of the course and the large pictures of the offline texture set.
Nothing is downloaded; importing this module does not start TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class SampleImage:
    """An image that an installed package ships, with its credit."""

    name: str
    description: str
    credit: str
    load: Callable[[], np.ndarray]


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        image = getattr(data, name)()
        # stereo_motorcycle returns (left, right, disparity)
        return image[0] if isinstance(image, tuple) else image

    return load


def _matplotlib(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data(filename) as handle:
            return np.asarray(Image.open(handle).convert("RGB"))

    return load


SAMPLES: dict[str, SampleImage] = {
    sample.name: sample
    for sample in (
        SampleImage("chelsea", "Chelsea the cat", "Stefan van der Walt, via scikit-image (CC0)", _skimage("chelsea")),
        SampleImage("coffee", "a cup of espresso", "Rachel Michetti, via scikit-image (CC0)", _skimage("coffee")),
        SampleImage(
            "motorcycle",
            "a motorcycle, left view of a stereo pair",
            "Middlebury stereo data set (Scharstein et al. 2014), via scikit-image",
            _skimage("stereo_motorcycle"),
        ),
        SampleImage(
            "grace_hopper",
            "Rear Admiral Grace Hopper in uniform",
            "U.S. Navy photograph (public domain), via matplotlib's sample data",
            _matplotlib("grace_hopper.jpg"),
        ),
        SampleImage("astronaut", "astronaut Eileen Collins", "NASA (public domain), via scikit-image", _skimage("astronaut")),
        SampleImage("rocket", "a rocket on the launch pad", "NASA/SpaceX (public domain), via scikit-image", _skimage("rocket")),
        # Colour photographs of no everyday object: they train the adversarial patch (section 06).
        SampleImage("retina", "a human retina, fundus photograph", "Häggström, Mikael (2014), CC0, via scikit-image",
                    _skimage("retina")),
        SampleImage("immunohistochemistry", "colonic tissue stained for immunohistochemistry, a micrograph",
                    "Center for Microscopy and Molecular Imaging (CMMI), no known copyright restrictions, via scikit-image", _skimage("immunohistochemistry")),
        SampleImage("hubble_deep_field", "the Hubble eXtreme Deep Field", "NASA (public domain), via scikit-image",
                    _skimage("hubble_deep_field")),
    )
}


#: Offline stand-in of the transfer-learning data: large grey-level
#: scikit-image pictures, one class each (see ``data.datasets.texture_crops``).
TEXTURE_CLASSES: dict[str, str] = {
    "brick": "a brick wall (scikit-image, CC0)",
    "grass": "grass (scikit-image, CC0)",
    "gravel": "gravel (scikit-image, CC0)",
    "moon": "the surface of the moon (NASA, public domain, via scikit-image)",
    "camera": "the cameraman (scikit-image; owned by MIT)",
    "cell": "a cell under a microscope (scikit-image, CC0)",
    "coins": "Greek coins (Brooklyn Museum, via scikit-image)",
    "hubble_deep_field": "Hubble deep field (NASA, public domain, via scikit-image)",
}


def sample_credits(names: list[str] | None = None) -> str:
    """Return a Markdown list crediting the sample images.

    Args:
        names: Samples to credit; all of them by default.

    Returns:
        One Markdown bullet per image.
    """
    chosen = names or list(SAMPLES)
    return "\n".join(f"- **{SAMPLES[n].name}** ({SAMPLES[n].description}): {SAMPLES[n].credit}" for n in chosen if n in SAMPLES)


def texture_credits() -> str:
    """Markdown credits of the offline texture set's source pictures."""
    return "\n".join(f"- **{name}** (texture set): {credit}" for name, credit in TEXTURE_CLASSES.items())
