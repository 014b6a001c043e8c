"""Inputs named by URI (``file://`` here; ``s3://`` and others go through the same pyarrow calls)."""

import cv2
import numpy as np
import pytest

from emodet.errors import MediaError
from emodet.inference.remote import is_remote, list_inputs, read_remote_image


def test_uris_are_listed_and_read_like_local_paths(tmp_path, fer_splits):
    (tmp_path / "sub").mkdir()
    for i, face in enumerate(fer_splits["test"].images[:3, :, :, 0]):
        cv2.imwrite(str(tmp_path / "sub" / f"face{i}.png"), face)
    (tmp_path / "notes.txt").write_text("not media")
    listed = list_inputs(f"file://{tmp_path}")
    assert listed == [(f"file://{tmp_path}/sub/face{i}.png", "image", None) for i in range(3)]
    assert list_inputs(f"file://{tmp_path}/**/face[12].png") == listed[1:]
    image = read_remote_image(listed[0][0])
    assert image.shape == (48, 48, 3) and np.array_equal(image[..., 0], fer_splits["test"].images[0, :, :, 0])
    assert is_remote("s3://bucket/x.jpg") and not is_remote("rtsp://camera/stream") and not is_remote("/a/b.jpg")


def test_uris_that_name_nothing_are_errors_that_say_so(tmp_path):
    ((name, kind, error),) = list_inputs(f"file://{tmp_path}/missing/")
    assert kind is None and "does not exist" in error
    ((_, _, error),) = list_inputs(f"file://{tmp_path}/*.jpg")
    assert "nothing matches" in error
    ((_, _, error),) = list_inputs("nosuchscheme://x/y")
    assert "no filesystem reads nosuchscheme://x/y" in error and "check the scheme" in error
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(MediaError, match=f"file://{tmp_path}/bad.jpg is not an image file"):
        read_remote_image(f"file://{tmp_path}/bad.jpg")
