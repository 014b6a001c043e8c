"""Decoding image files into the one pixel format the rest of emodet uses: RGB uint8 (H, W, 3).

Everything that reads an image from disk goes through :func:`read_image`, so EXIF rotation,
grayscale / palette / alpha / 16-bit modes and oversized files are handled in one place.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from emodet.errors import MediaError

#: Refuse images with more pixels than this before decoding them (decompression-bomb guard).
MAX_PIXELS = 80_000_000

#: Formats that may hold several frames (GIF, WebP, APNG): only their first frame is analysed.
ANIMATED_SUFFIXES = frozenset({".gif", ".webp", ".png"})

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})


def read_image(path: str | Path) -> np.ndarray:
    """Decode ``path`` to an upright RGB uint8 array, or raise :class:`MediaError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"image {path} does not exist")
    if path.stat().st_size == 0:
        raise MediaError(f"image {path} is an empty (0-byte) file")
    return _decode(path, path)


def decode_image(data: bytes, name: str) -> np.ndarray:
    """Like :func:`read_image` for a file's bytes (read from elsewhere); ``name`` is reported in errors."""
    import io

    if not data:
        raise MediaError(f"image {name} is an empty (0-byte) file")
    return _decode(io.BytesIO(data), name)


def _decode(file, path) -> np.ndarray:
    """Decode an open file or a path; ``path`` is what the errors name."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow warns above its own limit; ours is lower and gives the message.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(file) as img:
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise MediaError(f"image {path} is {width}x{height} pixels, above the {MAX_PIXELS:,}-pixel "
                                     "limit that guards against decompression bombs; downscale it first")
                img = ImageOps.exif_transpose(img)
                return to_rgb(img)
    except MediaError:
        raise
    except UnidentifiedImageError:
        raise MediaError(f"{path} is not an image file emodet can decode (JPEG, PNG, BMP, GIF, WebP, TIFF)") from None
    except PermissionError:
        raise MediaError(f"image {path} cannot be read: permission denied (check the file's permissions)") from None
    except Image.DecompressionBombError as exc:
        raise MediaError(f"image {path} declares more pixels than the {MAX_PIXELS:,}-pixel limit that guards "
                         f"against decompression bombs ({exc}); downscale it first") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"image {path} is damaged or truncated and cannot be decoded ({exc})") from None


def animation_note(path: str | Path) -> str | None:
    """For an animated image (GIF, WebP, APNG): a note that only its first frame was analysed."""
    from PIL import Image

    if Path(path).suffix.lower() not in ANIMATED_SUFFIXES:
        return None
    try:
        with Image.open(path) as img:
            if not getattr(img, "is_animated", False):
                return None
            frames = img.n_frames
    except Exception:  # unreadable files are reported by read_image, not here
        return None
    return (f"animated image with {frames} frames: only the first was analysed; convert it to a video "
            "(e.g. ffmpeg -i in.gif out.mp4) to analyse every frame")


def to_rgb(img) -> np.ndarray:
    """A PIL image of any mode as RGB uint8; 16-bit and float images are scaled to 0..255."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or values.max() > 255 else 255.0
        gray = np.clip(values * (255.0 / top), 0, 255).round().astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Composite over white so transparent regions do not turn black.
        from PIL import Image

        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def as_rgb_array(image) -> np.ndarray:
    """Accept a path, a PIL image or an array (RGB/RGBA/grayscale) and return RGB uint8 (H, W, 3)."""
    if isinstance(image, (str, Path)):
        return read_image(image)
    if hasattr(image, "mode") and hasattr(image, "size"):  # a PIL image
        return to_rgb(image)
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise MediaError(f"image arrays must be uint8 RGB, got dtype {array.dtype}; "
                         "convert with (array * 255).astype('uint8') or pass a file path")
    if array.ndim == 2:
        return np.repeat(array[..., None], 3, axis=-1)
    if array.ndim == 3 and array.shape[-1] == 1:
        return np.repeat(array, 3, axis=-1)
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        return np.ascontiguousarray(array[..., :3])
    raise MediaError(f"image arrays must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got shape {array.shape}")
