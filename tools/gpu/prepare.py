"""Pack what a lent GPU machine needs for tools/gpu/train.py into ``.carry/`` (ignored by git).

    python tools/gpu/prepare.py [--shared ../shared]

The GPU machine (see /work/.library/device/README.md) has JAX but neither Keras nor the data, and
takes at most 64 MiB of working tree. This writes, into ``.carry/``:

- ``fer2013-trainval.npz``: FER2013's Training and PublicTest rows (the first 32,298, in order),
  their faces as lossless WebP mosaics (52 MB against 94 MB for the gzipped CSV, which does not
  fit), labels and usage; plus the same rows of FER+'s ``fer2013new.csv``. PrivateTest stays
  here: the test split is scored on this machine, once, after the model is chosen.
- ``wheels/``: Keras and the two packages it needs that the GPU image lacks, for Python 3.12.

Never commit ``.carry/``: it holds the dataset.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
CARRY = REPO / ".carry"
DATA_FILE = "fer2013-trainval.npz"
MOSAIC = 100  # faces per mosaic side: 4800 x 4800 px, within WebP's 16,383 px limit
SIDE = 48
WHEELS = ("namex", "optree")  # besides keras; the GPU image holds its other requirements
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")


def pack_fer2013(shared: Path, out: Path) -> int:
    """Training + PublicTest faces as WebP mosaics, with labels, usage and FER+ votes; returns the rows."""
    from emodet.data.fer2013 import read_fer2013

    table = read_fer2013(shared / "data" / "fer2013" / "fer2013.csv.gz")
    rows = np.flatnonzero(table.usage != "PrivateTest")
    if not np.array_equal(rows, np.arange(len(rows))):
        raise SystemExit("FER2013's Training and PublicTest rows are expected first, in order")
    faces = table.pixels[rows].reshape(-1, SIDE, SIDE)
    mosaics = [_encode_mosaic(faces[start:start + MOSAIC * MOSAIC]) for start in range(0, len(faces), MOSAIC * MOSAIC)]
    votes_lines = (shared / "data" / "fer2013" / "fer2013new.csv").read_text().splitlines(keepends=True)
    ferplus = "".join(votes_lines[:len(rows) + 1]).encode()
    np.savez_compressed(out / DATA_FILE, emotion=table.emotions[rows].astype(np.uint8),
                        usage=(table.usage[rows] == "PublicTest").astype(np.uint8),  # 0 Training, 1 PublicTest
                        ferplus=np.frombuffer(ferplus, np.uint8), **{f"mosaic{k}": m for k, m in enumerate(mosaics)})
    return len(rows)


def _encode_mosaic(faces: np.ndarray) -> np.ndarray:
    padded = np.zeros((MOSAIC * MOSAIC, SIDE, SIDE), np.uint8)
    padded[:len(faces)] = faces
    grid = padded.reshape(MOSAIC, MOSAIC, SIDE, SIDE).transpose(0, 2, 1, 3).reshape(MOSAIC * SIDE, MOSAIC * SIDE)
    ok, encoded = cv2.imencode(".webp", grid, [cv2.IMWRITE_WEBP_QUALITY, 101])  # above 100: lossless
    if not ok:
        raise SystemExit("OpenCV could not encode WebP")
    return encoded.ravel()


def download_wheels(out: Path) -> None:
    import keras

    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    for name in (f"keras=={keras.__version__}", *WHEELS):
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(out), name],
                       check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args()
    (CARRY / "wheels").mkdir(parents=True, exist_ok=True)
    rows = pack_fer2013(args.shared, CARRY)
    download_wheels(CARRY / "wheels")
    size = sum(p.stat().st_size for p in CARRY.rglob("*") if p.is_file()) / 2**20
    print(f"{CARRY}: {rows} FER2013 rows and {len(list((CARRY / 'wheels').glob('*.whl')))} wheels, {size:.1f} MiB")


if __name__ == "__main__":
    main()
