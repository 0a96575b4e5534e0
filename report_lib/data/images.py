"""Load images from a sample name, a file, a URL or an array, as RGB at the
model's input size, with clear errors for everything that can go wrong."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from report_lib.data.samples import SAMPLES

ImageSource = Union[str, Path, np.ndarray, Image.Image, bytes]

URL_TIMEOUT_SECONDS = 10.0
URL_MAX_BYTES = 20 * 1024 * 1024

# Largest image decoded, in pixels, checked from the file's header before any
# decoding. 50 MP takes every ImageNet photograph (well under 25 MP) and a
# 48 MP phone photo (8064 x 6048), and decodes to at most 150 MB of RGB; a
# 12000 x 12000 image (144 MP, ~0.4 GB and seconds to decode) is refused.
# A few kilobytes of PNG can declare such a size, so the limit guards uploads
# and URLs. Raise it (``report_lib.data.images.MAX_PIXELS = ...``) for larger
# photographs; Pillow's own bomb check still refuses more than
# ``2 * PIL.Image.MAX_IMAGE_PIXELS`` (179 MP by default).
MAX_PIXELS = 50_000_000

# The common ImageNet evaluation protocol (torchvision's reference scripts,
# timm's default crop_pct): resize the shorter side to size / 0.875 (256 for
# 224), then cut the central size x size square.
IMAGENET_CROP_FRACTION = 0.875
CROPS = ("none", "centre")


class ImageLoadError(ValueError):
    """An image could not be loaded; the message says which and why."""


def _check_pixels(image: Image.Image, origin: str) -> None:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageLoadError(
            f"{origin} is {width} x {height} = {width * height / 1e6:.0f} megapixels, over the limit of "
            f"{MAX_PIXELS / 1e6:g} MP (report_lib.data.images.MAX_PIXELS); it was not decoded, which would take "
            f"about {width * height * 3 / 1e9:.1f} GB. Downscale it first, or raise the limit."
        )


def _decode(data: bytes, origin: str) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            # Our own limit, checked next, is lower and says more than Pillow's warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))  # reads the header only
        with opened as image:
            _check_pixels(image, origin)
            image.load()
            return _to_rgb(image, origin)
    except Image.DecompressionBombError as error:
        # Pillow refuses at open(), before our check, what is over twice its own limit.
        raise ImageLoadError(
            f"{origin} is too large to decode ({error}); the limit here is {MAX_PIXELS / 1e6:g} megapixels "
            "(report_lib.data.images.MAX_PIXELS) and it was not decoded. Downscale it first."
        ) from None
    except UnidentifiedImageError:
        raise ImageLoadError(f"{origin} is not an image (unrecognised format)") from None
    except (OSError, SyntaxError) as error:
        raise ImageLoadError(f"{origin} is a truncated or corrupt image: {error}") from None


def _to_rgb(image: Image.Image, origin: str) -> np.ndarray:
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        # Composite on white so transparent areas don't turn black.
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"))


def _read_url(url: str, timeout: float, max_bytes: int) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "report_lib"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            content_type = response.headers.get("Content-Type", "")
            if content_type and not content_type.startswith("image/"):
                raise ImageLoadError(f"{url} is not an image (Content-Type: {content_type})")
            length = response.headers.get("Content-Length")
            if length and int(length) > max_bytes:
                raise ImageLoadError(f"{url} is too large ({int(length)} bytes > limit {max_bytes})")
            data = response.read(max_bytes + 1)
    except ImageLoadError:
        raise
    except urllib.error.HTTPError as error:
        raise ImageLoadError(f"{url} could not be fetched: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ImageLoadError(f"{url} is unreachable (timeout {timeout:g} s): {reason}") from None
    if len(data) > max_bytes:
        raise ImageLoadError(f"{url} is too large (more than {max_bytes} bytes)")
    return data


def _array_to_rgb(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise ImageLoadError(
            f"an image array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got shape {array.shape}"
        )
    if min(array.shape[:2]) < 1:
        raise ImageLoadError(f"an image array needs at least one pixel; got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise ImageLoadError(f"an image array must be numeric; got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ImageLoadError("an image array must not contain NaN or infinity")
        # Floats in [0, 1] are the skimage convention; anything larger is taken as 0..255.
        array = array * 255.0 if array.max() <= 1.0 else array
    array = np.clip(array, 0, 255).astype(np.uint8)
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    elif array.shape[-1] == 4:
        array = _to_rgb(Image.fromarray(array, "RGBA"), "array")
    return array


def load_rgb(source: ImageSource, *, timeout: float = URL_TIMEOUT_SECONDS, max_bytes: int = URL_MAX_BYTES) -> np.ndarray:
    """Load an image at its own size as an RGB ``uint8`` array.

    Args:
        source: A sample name (see ``SAMPLES``), a file path, an http(s) URL,
            a numpy array (grayscale, RGB or RGBA), a PIL image, or the
            bytes of an image file (e.g. an upload).
        timeout: Seconds to wait for a URL.
        max_bytes: Largest download accepted from a URL.

    Returns:
        Array of shape ``(height, width, 3)``, dtype ``uint8``.

    Raises:
        ImageLoadError: The source is missing, not an image, truncated,
            unreachable, too large (bytes from a URL, or pixels over
            ``MAX_PIXELS``, refused before decoding) or of the wrong shape.
    """
    if isinstance(source, Image.Image):
        _check_pixels(source, "the PIL image")  # it may still be lazily unloaded
        return _to_rgb(source, "PIL image")
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _decode(bytes(source), "the uploaded file")
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source)
    if isinstance(source, str) and source in SAMPLES:
        return _array_to_rgb(SAMPLES[source].load())
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        return _decode(_read_url(source, timeout, max_bytes), source)
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.exists():
            known = ", ".join(SAMPLES)
            raise ImageLoadError(f"no such file: {path} (sample names are: {known})")
        if path.is_dir():
            raise ImageLoadError(f"{path} is a folder, not an image file")
        return _decode(path.read_bytes(), str(path))
    raise ImageLoadError(f"cannot load an image from a {type(source).__name__}")


def resize_rgb(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize an RGB image to the model's input size (bilinear, aspect not kept,
    as Keras' ``load_img(target_size=...)`` does).

    Args:
        image: ``(H, W, 3)`` uint8 array.
        size: Target side, or ``(height, width)``.

    Returns:
        ``(height, width, 3)`` uint8 array.
    """
    height, width = (size, size) if isinstance(size, int) else size
    if image.shape[:2] == (height, width):
        return image
    return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))


def resize_centre_crop(
    image: np.ndarray, size: int | tuple[int, int], crop_fraction: float = IMAGENET_CROP_FRACTION
) -> np.ndarray:
    """Resize keeping the aspect ratio, then cut the centre (ImageNet evaluation).

    The image is scaled (bilinear) so that it covers ``size / crop_fraction``
    in both directions, i.e. its shorter side becomes ``size / crop_fraction``
    for a square target (256 for 224 at the default 0.875), and the central
    ``size`` is kept. ``crop_fraction=1`` keeps the largest centred region.

    Args:
        image: ``(H, W, 3)`` uint8 array.
        size: Target side, or ``(height, width)``.
        crop_fraction: Fraction of the resized image's shorter side kept, in (0, 1].

    Returns:
        ``(height, width, 3)`` uint8 array.
    """
    if not 0 < crop_fraction <= 1:
        raise ValueError(f"crop_fraction must be in (0, 1], got {crop_fraction}")
    height, width = (size, size) if isinstance(size, int) else size
    old_height, old_width = image.shape[:2]
    scale = max(height / crop_fraction / old_height, width / crop_fraction / old_width)
    # round() can fall a pixel short of the target when the aspect is extreme.
    new_height = max(height, int(round(old_height * scale)))
    new_width = max(width, int(round(old_width * scale)))
    resized = resize_rgb(image, (new_height, new_width))
    top, left = (new_height - height) // 2, (new_width - width) // 2
    return resized[top : top + height, left : left + width]


def fit_image(
    image: np.ndarray,
    size: int | tuple[int, int],
    crop: str = "none",
    crop_fraction: float = IMAGENET_CROP_FRACTION,
) -> np.ndarray:
    """Bring an RGB image to the model's input size.

    Args:
        image: ``(H, W, 3)`` uint8 array.
        size: Target side, or ``(height, width)``.
        crop: ``"none"``: squash to the size, aspect not kept (the course's
            default, as Keras' ``load_img(target_size=...)``). ``"centre"``:
            the ImageNet evaluation convention, ``resize_centre_crop``; use it
            to measure accuracy on photographs.
        crop_fraction: See ``resize_centre_crop``.

    Returns:
        ``(height, width, 3)`` uint8 array.
    """
    crop = "centre" if crop == "center" else crop
    if crop not in CROPS:
        raise ValueError(f"crop must be one of {CROPS}, got {crop!r}")
    if crop == "centre":
        return resize_centre_crop(image, size, crop_fraction)
    return resize_rgb(image, size)


def load_image(
    source: ImageSource,
    size: int | tuple[int, int] = 224,
    crop: str = "none",
    crop_fraction: float = IMAGENET_CROP_FRACTION,
    **kwargs,
) -> np.ndarray:
    """Load an image as RGB at the model's input size.

    Args:
        source: See ``load_rgb``.
        size: Target side, or ``(height, width)``.
        crop: ``"none"`` (squash, the default) or ``"centre"`` (resize the
            shorter side to ``size / crop_fraction``, then centre-crop: the
            ImageNet evaluation convention). See ``fit_image``.
        crop_fraction: See ``resize_centre_crop``.
        **kwargs: ``timeout`` and ``max_bytes`` for URLs.

    Returns:
        ``(height, width, 3)`` uint8 array.
    """
    return fit_image(load_rgb(source, **kwargs), size, crop, crop_fraction)


def load_images(
    sources: list[ImageSource],
    size: int | tuple[int, int] = 224,
    crop: str = "none",
    crop_fraction: float = IMAGENET_CROP_FRACTION,
    **kwargs,
) -> np.ndarray:
    """Load several images into one ``(n, height, width, 3)`` uint8 batch.

    Args:
        sources: Items accepted by ``load_rgb``.
        size: Target side, or ``(height, width)``.
        crop: ``"none"`` or ``"centre"``, see ``load_image``.
        crop_fraction: See ``resize_centre_crop``.
        **kwargs: ``timeout`` and ``max_bytes`` for URLs.

    Returns:
        The stacked batch.
    """
    if not sources:
        raise ImageLoadError("no images given")
    return np.stack([load_image(source, size, crop, crop_fraction, **kwargs) for source in sources])


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def expand_sources(sources: ImageSource | list[ImageSource]) -> list[ImageSource]:
    """Replace every folder among the sources by the image files in it (sorted).

    Args:
        sources: One source or a list (sample names, files, folders, URLs, arrays).

    Returns:
        A flat list of sources.
    """
    items = sources if isinstance(sources, list) else [sources]
    expanded: list[ImageSource] = []
    for item in items:
        if isinstance(item, (str, Path)) and not (isinstance(item, str) and item in SAMPLES) and Path(item).is_dir():
            files = sorted(p for p in Path(item).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise ImageLoadError(f"the folder {item} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
            expanded.extend(files)
        else:
            expanded.append(item)
    return expanded


def augmented_crops(
    sources: list[ImageSource], count: int, size: int = 224, seed: int = 0, min_fraction: float = 0.3
) -> np.ndarray:
    """Random square crops, some mirrored, of full-resolution images.

    A handful of photographs becomes a small data set: each crop shows part of
    an image at another position and scale.

    Args:
        sources: Images to crop (anything ``load_rgb`` accepts).
        count: Number of crops.
        size: Side of the returned crops.
        seed: Seeds the choice of image, position, scale and mirroring.
        min_fraction: Smallest crop side, as a fraction of the image's shorter side.

    Returns:
        ``(count, size, size, 3)`` uint8.
    """
    return augmented_crops_with_sources(sources, count, size, seed, min_fraction)[0]


def augmented_crops_with_sources(
    sources: list[ImageSource], count: int, size: int = 224, seed: int = 0, min_fraction: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`augmented_crops` (the same crops for the same seed), with the index
    in ``sources`` of the photograph each crop comes from.

    Returns:
        ``(count, size, size, 3)`` uint8 crops and ``(count,)`` source indices.
    """
    if count < 0 or not 0 < min_fraction <= 1:
        raise ValueError("count must be >= 0 and min_fraction in (0, 1]")
    originals = [load_rgb(source) for source in sources]
    rng = np.random.default_rng(seed)
    crops = np.zeros((count, size, size, 3), np.uint8)
    origins = np.zeros(count, int)
    for index in range(count):
        origins[index] = rng.integers(len(originals))
        image = originals[origins[index]]
        height, width = image.shape[:2]
        side = int(min(height, width) * rng.uniform(min_fraction, 1.0))
        top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
        crop = resize_rgb(image[top : top + side, left : left + side], size)
        crops[index] = crop[:, ::-1] if rng.random() < 0.5 else crop
    return crops, origins


def image_label(source: ImageSource) -> str:
    """A short label for an image source, for titles and file names."""
    if isinstance(source, str) and source in SAMPLES:
        return source
    if isinstance(source, (str, Path)):
        return Path(str(source).split("?")[0]).stem or "image"
    return "array"
