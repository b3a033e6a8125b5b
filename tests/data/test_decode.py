"""Decoding through vworld.data.decode: decord and PyAV agree; AV1 goes to PyAV."""

from __future__ import annotations

import re

import numpy as np
import pytest

from vworld.data.decode import VideoDecodeError, available_backends, open_video, probe_codec


@pytest.mark.skipif("decord" not in available_backends(), reason="decord not installed")
def test_decord_and_pyav_agree_on_h264(h264_video):
    a = open_video(h264_video, backend="decord")
    b = open_video(h264_video, backend="pyav")
    assert (a.num_frames, a.height, a.width) == (b.num_frames, b.height, b.width) == (24, 64, 64)
    assert a.fps == pytest.approx(b.fps)
    idx = [0, 3, 7, 23, 12]
    fa, fb = a.get_frames(idx), b.get_frames(idx)
    assert fa.shape == fb.shape == (5, 64, 64, 3)
    assert fa.dtype == fb.dtype == np.uint8
    # The same bitstream through two ffmpeg builds: equal up to colour-conversion rounding.
    assert np.abs(fa.astype(int) - fb.astype(int)).mean() < 2.0
    # And the frames really are different frames (order respected).
    assert np.abs(fa[0].astype(int) - fa[2].astype(int)).mean() > 1.0


def test_auto_backend_reads_h264(h264_video):
    r = open_video(h264_video)
    assert r.num_frames == 24
    assert r.get_frames([1, 1, 0]).shape == (3, 64, 64, 3)


def test_av1_goes_to_pyav(av1_video):
    assert probe_codec(av1_video) in ("av1", "libdav1d", "libaom-av1")
    r = open_video(av1_video)
    assert r.backend == "pyav"
    assert r.num_frames == 12
    frames = r.get_frames([0, 11, 5])
    assert frames.shape == (3, 64, 64, 3)


def test_bad_files_raise_decode_error(bad_files):
    for path in bad_files.values():
        with pytest.raises(VideoDecodeError, match=re.escape(path.name)):
            open_video(path)
