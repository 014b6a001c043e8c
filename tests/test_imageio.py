"""Decoding every kind of image file users have, and refusing the broken ones clearly."""

import io

import numpy as np
import pytest
from conftest import SAMPLES, load_sample
from PIL import Image

from emodet.errors import MediaError
from emodet.imageio import MAX_PIXELS, as_rgb_array, read_image


@pytest.fixture(scope="module")
def astronaut():
    return load_sample("astronaut.jpg")


def test_colour_modes_become_rgb_uint8(tmp_path, astronaut):
    gray = astronaut.mean(axis=-1).astype(np.uint8)
    Image.fromarray(gray).save(tmp_path / "gray.png")
    Image.fromarray(np.dstack([astronaut, np.full(gray.shape, 255, np.uint8)]), "RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "deep.png")
    Image.fromarray(astronaut).convert("P").save(tmp_path / "palette.gif")
    for name in ("gray.png", "rgba.png", "deep.png", "palette.gif"):
        image = read_image(tmp_path / name)
        assert image.shape == (512, 512, 3) and image.dtype == np.uint8, name
    assert np.abs(read_image(tmp_path / "deep.png")[..., 0].astype(int) - gray).max() <= 1  # scaled, not clipped
    assert np.array_equal(read_image(tmp_path / "rgba.png"), astronaut)


def test_exif_orientation_is_applied(tmp_path, astronaut):
    wide = astronaut[:300]  # 512 wide, 300 high: the face is upright
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": store the pixels rotated the other way
    Image.fromarray(np.rot90(wide, k=1)).save(tmp_path / "rotated.jpg", exif=exif.tobytes(), quality=95)
    upright = read_image(tmp_path / "rotated.jpg")
    assert upright.shape == (300, 512, 3)
    assert np.abs(upright.astype(int) - wide).mean() < 6  # JPEG noise only


@pytest.mark.parametrize("content, fragment", [
    (b"", "0-byte"),
    (b"this is a text file, not a photo", "not an image file"),
])
def test_non_images_name_the_file(tmp_path, content, fragment):
    path = tmp_path / "input.jpg"
    path.write_bytes(content)
    with pytest.raises(MediaError, match=fragment) as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_truncated_image(tmp_path):
    data = (SAMPLES / "astronaut.jpg").read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(MediaError, match="damaged or truncated"):
        read_image(path)


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    side = int(MAX_PIXELS ** 0.5) + 100
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, format="PNG")  # a tiny file that decodes to ~80 MP
    path = tmp_path / "bomb.png"
    path.write_bytes(buffer.getvalue())
    assert path.stat().st_size < 2_000_000
    with pytest.raises(MediaError, match="decompression bombs"):
        read_image(path)


def test_arrays_and_pil_images(astronaut):
    assert as_rgb_array(astronaut[..., 0]).shape == (512, 512, 3)
    assert np.array_equal(as_rgb_array(Image.fromarray(astronaut)), astronaut)
    with pytest.raises(MediaError, match="must be uint8"):
        as_rgb_array(astronaut.astype(np.float32) / 255)
    with pytest.raises(MediaError, match="got shape"):
        as_rgb_array(np.zeros((2, 2, 2, 2), np.uint8))
