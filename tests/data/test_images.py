import io
import struct
import threading
import time
import warnings
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

import report_lib.data.images as images_module
from report_lib.data.images import (
    ImageLoadError,
    augmented_crops,
    expand_sources,
    image_label,
    load_image,
    load_images,
    load_rgb,
    resize_centre_crop,
)
from report_lib.data.samples import SAMPLES, sample_credits


def _png_bytes(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format="PNG")
    return buffer.getvalue()


RED = np.zeros((20, 30, 3), np.uint8)
RED[..., 0] = 200


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_sample_loads_offline(name):
    image = load_image(name, 224)
    assert image.shape == (224, 224, 3) and image.dtype == np.uint8
    assert image.std() > 10  # a real photograph, not a blank


def test_credits_name_every_sample():
    credits = sample_credits()
    assert all(f"**{name}**" in credits for name in SAMPLES)


def test_file_and_resize(tmp_path):
    path = tmp_path / "red.png"
    path.write_bytes(_png_bytes(RED))
    assert load_rgb(path).shape == (20, 30, 3)
    resized = load_image(str(path), (10, 12))
    assert resized.shape == (10, 12, 3)
    assert resized[..., 0].min() == 200


def test_grayscale_and_rgba_are_converted(tmp_path):
    grey = np.full((8, 8), 90, np.uint8)
    (tmp_path / "grey.png").write_bytes(_png_bytes(grey))
    assert load_rgb(tmp_path / "grey.png")[0, 0].tolist() == [90, 90, 90]
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 2] = 255
    rgba[:4, ..., 3] = 255  # top half opaque blue, bottom half transparent
    (tmp_path / "rgba.png").write_bytes(_png_bytes(rgba, "RGBA"))
    image = load_rgb(tmp_path / "rgba.png")
    assert image[0, 0].tolist() == [0, 0, 255]
    assert image[7, 0].tolist() == [255, 255, 255]  # transparency becomes white, not black


def test_arrays():
    assert load_rgb(np.full((5, 5), 0.5))[0, 0].tolist() == [127, 127, 127]
    assert load_rgb(np.full((5, 5, 1), 7, np.uint8)).shape == (5, 5, 3)
    assert load_rgb(np.zeros((5, 5, 4), np.uint8)).shape == (5, 5, 3)
    assert load_images([RED, RED], 16).shape == (2, 16, 16, 3)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((4, 4, 2)), "must be \\(H, W\\)"),
        (np.zeros((2, 4, 4, 3)), "got shape \\(2, 4, 4, 3\\)"),
        (np.zeros((0, 4, 3)), "at least one pixel"),
        (np.full((4, 4, 3), np.nan), "NaN"),
        (np.array([["a"]]), "numeric"),
    ],
)
def test_bad_arrays(array, message):
    with pytest.raises(ImageLoadError, match=message):
        load_rgb(array)


def test_missing_file_names_the_path_and_the_samples(tmp_path):
    with pytest.raises(ImageLoadError, match="no such file: .*nope.jpg.*sample names are: chelsea"):
        load_rgb(tmp_path / "nope.jpg")


def test_folder_text_and_truncated_files(tmp_path):
    with pytest.raises(ImageLoadError, match="is a folder"):
        load_rgb(tmp_path)
    (tmp_path / "notes.jpg").write_text("not really a jpeg")
    with pytest.raises(ImageLoadError, match="not an image"):
        load_rgb(tmp_path / "notes.jpg")
    noisy = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    (tmp_path / "cut.png").write_bytes(_png_bytes(noisy)[:2000])
    with pytest.raises(ImageLoadError, match="truncated or corrupt"):
        load_rgb(tmp_path / "cut.png")


def test_bytes_of_an_uploaded_file():
    np.testing.assert_array_equal(load_rgb(_png_bytes(RED)), RED)
    np.testing.assert_array_equal(load_rgb(memoryview(_png_bytes(RED))), RED)
    with pytest.raises(ImageLoadError, match="uploaded file is not an image"):
        load_rgb(b"%PDF-1.4 not a picture")


def test_empty_list_and_unknown_type():
    with pytest.raises(ImageLoadError, match="no images"):
        load_images([])
    with pytest.raises(ImageLoadError, match="cannot load an image from a int"):
        load_rgb(42)


def test_labels():
    assert image_label("chelsea") == "chelsea"
    assert image_label("https://example.org/pics/dog.jpg?x=1") == "dog"
    assert image_label(RED) == "array"


# --- URLs, served from this machine's loopback ------------------------------


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, status, content_type, body, length=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/red.png":
            self._send(200, "image/png", _png_bytes(RED))
        elif self.path == "/page":
            self._send(200, "text/html", b"<html>hello</html>")
        elif self.path == "/huge.png":
            self._send(200, "image/png", b"", length=10**9)
        elif self.path == "/cut.png":
            self._send(200, "image/png", _png_bytes(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))[:1500])
        elif self.path == "/slow.png":
            time.sleep(2.0)
            self._send(200, "image/png", _png_bytes(RED))
        else:
            self._send(404, "text/plain", b"missing")


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_url_image(server):
    assert load_rgb(f"{server}/red.png").shape == (20, 30, 3)


@pytest.mark.parametrize(
    ("path", "message", "options"),
    [
        ("/missing.png", "HTTP 404", {}),
        ("/page", "not an image \\(Content-Type: text/html\\)", {}),
        ("/huge.png", "too large", {}),
        ("/cut.png", "truncated or corrupt", {}),
        ("/slow.png", "unreachable \\(timeout 0.5 s\\)", {"timeout": 0.5}),
    ],
)
def test_bad_urls(server, path, message, options):
    with pytest.raises(ImageLoadError, match=message):
        load_rgb(f"{server}{path}", **options)


def test_unreachable_host():
    # A closed port on loopback: refused at once.
    with pytest.raises(ImageLoadError, match="unreachable"):
        load_rgb("http://127.0.0.1:9/cat.jpg", timeout=2)


def test_augmented_crops_are_seeded_and_sized():
    first = augmented_crops(["chelsea", "coffee"], 6, size=32, seed=1)
    again = augmented_crops(["chelsea", "coffee"], 6, size=32, seed=1)
    other = augmented_crops(["chelsea", "coffee"], 6, size=32, seed=2)
    assert first.shape == (6, 32, 32, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert len({crop.tobytes() for crop in first}) == 6
    with pytest.raises(ValueError):
        augmented_crops(["chelsea"], 2, min_fraction=0)


def test_folders_expand_to_their_images(tmp_path):
    (tmp_path / "b.png").write_bytes(_png_bytes(RED))
    (tmp_path / "a.jpg").write_bytes(_png_bytes(RED))
    (tmp_path / "notes.txt").write_text("skip me")
    assert expand_sources(["chelsea", tmp_path]) == ["chelsea", tmp_path / "a.jpg", tmp_path / "b.png"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageLoadError, match="holds no image files"):
        expand_sources(str(tmp_path / "empty"))


# --- ImageNet evaluation crop ------------------------------------------------

def _quadrants(height: int, width: int) -> np.ndarray:
    """A wide image: a 1-pixel red frame; left third blue, the rest green."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 3, 2] = 255
    image[:, width // 3 :, 1] = 255
    return image


def test_centre_crop_keeps_the_aspect_and_cuts_the_middle():
    wide = _quadrants(375, 500)  # the typical ImageNet landscape photograph
    cropped = load_image(wide, 224, crop="centre")
    assert cropped.shape == (224, 224, 3)
    # Shorter side 375 -> 256, longer 500 -> 341; the centre 224 starts at
    # column 58 of 341, past the blue third (which ends at 113): about 55
    # blue columns remain, where squashing would keep 74.
    blue_columns = (cropped[112, :, 2] > 128).sum()
    assert 53 <= blue_columns <= 57, blue_columns
    assert (load_image(wide, 224)[112, :, 2] > 128).sum() in range(73, 76)  # the default still squashes


def test_centre_crop_fraction_and_rectangular_targets():
    tall = np.zeros((400, 200, 3), np.uint8)
    tall[:60] = 255  # a white band at the top
    # crop_fraction=1 keeps the largest centred square, rows 100..300 of 400: no white.
    assert resize_centre_crop(tall, 50, crop_fraction=1.0).max() == 0
    # At 0.875 the square is 175 of the 200 columns wide: rows 113..287.
    assert resize_centre_crop(tall, 50).max() == 0 and resize_centre_crop(tall, 50, 0.5).max() == 0
    assert load_image(tall, 50).max() == 255  # squashing keeps the band
    assert resize_centre_crop(tall, (30, 20)).shape == (30, 20, 3)
    assert load_images([tall, tall], 32, crop="center").shape == (2, 32, 32, 3)  # both spellings
    with pytest.raises(ValueError, match="crop must be"):
        load_image(tall, 32, crop="middle")
    with pytest.raises(ValueError, match="crop_fraction"):
        resize_centre_crop(tall, 32, crop_fraction=0)


def test_centre_crop_of_a_square_image_only_zooms_in():
    image = np.random.default_rng(0).integers(0, 256, size=(256, 256, 3)).astype(np.uint8)
    np.testing.assert_array_equal(resize_centre_crop(image, 224), image[16:240, 16:240])


# --- images too large to decode ----------------------------------------------

def _blank_png(width: int, height: int) -> bytes:
    """A valid 1-bit black PNG, built row by row so the test never holds the pixels."""
    row = b"\x00" + bytes((width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj()
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [12_000, 20_000])  # warned and decoded, or Pillow's own error, before
def test_huge_images_are_refused_before_decoding(tmp_path, side):
    data = _blank_png(side, side)
    assert len(data) < 100_000  # a few tens of kB declare 144 or 400 megapixels
    path = tmp_path / "huge.png"
    path.write_bytes(data)
    for source in (path, data):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no DecompressionBombWarning escapes either
            with pytest.raises(ImageLoadError, match="megapixels.*MAX_PIXELS.*not decoded") as error:
                load_rgb(source)
        # Our message (12000) or Pillow's, quoted in ours (20000: refused inside Image.open).
        assert f"{side} x {side}" in str(error.value) or f"{side * side} pixels" in str(error.value)
        assert time.perf_counter() - start < 1.0


def test_the_pixel_limit_is_a_module_setting(tmp_path, monkeypatch):
    data = _png_bytes(np.zeros((100, 100, 3), np.uint8))
    monkeypatch.setattr(images_module, "MAX_PIXELS", 9_999)
    with pytest.raises(ImageLoadError, match="over the limit"):
        load_rgb(data)
    with pytest.raises(ImageLoadError, match="over the limit"):
        load_rgb(Image.open(io.BytesIO(data)))  # a lazily opened PIL image too
    monkeypatch.setattr(images_module, "MAX_PIXELS", 10_000)
    assert load_rgb(data).shape == (100, 100, 3)


def test_pillows_own_bomb_error_becomes_an_image_load_error(monkeypatch):
    # With our limit raised above Pillow's, Pillow's refusal at open() still ends as ImageLoadError.
    monkeypatch.setattr(images_module, "MAX_PIXELS", 10**12)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageLoadError, match="too large to decode"):
        load_rgb(_png_bytes(np.zeros((100, 100, 3), np.uint8)))
