"""The clip dataset, its collate, the resumable sampler and the loader."""

from __future__ import annotations

import re
import shutil
import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from PIL import Image

from vworld.config import load_config
from vworld.data import (
    NoReadableVideosError,
    ResumableSampler,
    SkippedFileWarning,
    VideoClipDataset,
    VideoDataConfig,
    build_video_loader,
    collate_clips,
    denormalize,
    normalize,
)
from vworld.data.synthetic import make_synthetic_videos
from vworld.masks import MaskConfig, vjepa2_mask_configs


def _cfg(path, **kw) -> VideoDataConfig:
    base = dict(path=str(path), frames_per_clip=8, frame_step=2, crop_size=32, num_workers=0)
    base.update(kw)
    return VideoDataConfig(**base)


def test_normalize_roundtrip():
    x = torch.randint(0, 256, (2, 3, 4, 8, 8), dtype=torch.uint8)
    y = normalize(x)
    assert y.dtype == torch.float32
    assert torch.allclose(denormalize(y), x.float() / 255, atol=1e-6)
    assert torch.allclose(normalize(x.float() / 255), y, atol=1e-6)
    with pytest.raises(ValueError, match="3 channels"):
        normalize(torch.zeros(4, 2, 8, 8))


@pytest.mark.parametrize("backend", ["auto", "pyav"])
def test_clip_shape_frame_step(video_dir, backend):
    ds = VideoClipDataset(_cfg(video_dir, backend=backend), seed=0)
    assert len(ds) == 4 and ds.num_skipped_at_open == 0
    item = ds[(0, 1)]
    assert item["index"] == 1
    clip = item["clip"]
    assert clip.shape == (3, 8, 32, 32) and clip.dtype == torch.float32
    px = denormalize(clip)
    assert 0.05 < px.mean() < 0.95  # real pixels, correctly normalised
    assert (clip[:, 0] - clip[:, -1]).abs().mean() > 0.01  # the shapes move


def test_clip_indices_frame_step_and_fps(video_dir):
    ds = VideoClipDataset(_cfg(video_dir, frames_per_clip=4, frame_step=3), seed=0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        idx = ds.clip_indices(24, 10.0, rng)
        assert np.all(np.diff(idx) == 3) and idx[0] >= 0 and idx[-1] < 24
    ds = VideoClipDataset(_cfg(video_dir, frames_per_clip=4, fps=5.0), seed=0)
    for _ in range(20):
        idx = ds.clip_indices(24, 10.0, rng)  # 10 fps video sampled at 5 fps: every 2nd frame
        assert np.all(np.diff(idx) == 2) and idx[-1] < 24
    idx = ds.clip_indices(40, 30.0, rng)  # 30 fps at 5 fps: every 6th
    assert np.all(np.diff(idx) == 6)
    assert ds[(0, 0)]["clip"].shape == (3, 4, 32, 32)


def test_short_video_pad_and_skip(video_dir, short_video, tmp_path):
    shutil.copy(short_video, tmp_path / "short.mp4")
    shutil.copy(sorted(video_dir.glob("*.mp4"))[0], tmp_path / "long.mp4")
    pad = VideoClipDataset(_cfg(tmp_path, short_video="pad"), seed=0)
    assert len(pad) == 2
    i = [p.name for p in pad.paths].index("short.mp4")
    assert pad.clip_indices(5, 10.0, np.random.default_rng(0)).tolist() == [0, 2, 4, 4, 4, 4, 4, 4]
    clip = pad[i]["clip"]
    assert clip.shape == (3, 8, 32, 32)
    assert torch.equal(clip[:, 2], clip[:, 7])  # padded with the last frame
    skip = VideoClipDataset(_cfg(tmp_path, short_video="skip"), seed=0)
    assert [p.name for p in skip.paths] == ["long.mp4"] and skip.num_too_short == 1


def test_bad_files_skipped_with_warning_and_counted(mixed_dir, bad_files):
    with pytest.warns(SkippedFileWarning) as record:
        ds = VideoClipDataset(_cfg(mixed_dir), seed=0)
    assert len(ds) == 2
    assert ds.num_skipped_at_open == 4
    messages = " ".join(str(w.message) for w in record)
    for path in bad_files.values():
        assert path.name in messages
        assert sum(path.name in str(w.message) for w in record) == 1  # once per file


def test_file_broken_after_open_is_skipped_not_replaced(video_dir, tmp_path):
    for p in sorted(video_dir.glob("*.mp4"))[:2]:
        shutil.copy(p, tmp_path / p.name)
    ds = VideoClipDataset(_cfg(tmp_path), seed=0)
    broken = ds.paths[0]
    broken.write_bytes(b"gone bad")
    with pytest.warns(SkippedFileWarning, match=re.escape(broken.name)):
        item = ds[0]
    assert item == {"skipped": str(broken), "index": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning for the same file
        assert "skipped" in ds[(1, 0)]
    batch = collate_clips([ds[0], ds[1], ds[1]])
    assert batch["clips"].shape == (2, 3, 8, 32, 32)
    assert batch["num_skipped"] == 1 and batch["skipped"] == [str(broken)]
    assert batch["indices"].tolist() == [1, 1]
    assert collate_clips([ds[0]])["clips"] is None


def test_nothing_readable_raises(bad_files, tmp_path):
    with (
        pytest.warns(SkippedFileWarning),
        pytest.raises(NoReadableVideosError, match=re.escape(str(tmp_path))),
    ):
        VideoClipDataset(_cfg(tmp_path))
    empty = tmp_path / "nothing_here"
    empty.mkdir()
    with pytest.raises(NoReadableVideosError, match="nothing_here"):
        VideoClipDataset(_cfg(empty))


def test_image_folder_gives_static_clips(tmp_path):
    rng = np.random.default_rng(0)
    for k in range(2):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(
            tmp_path / f"{k}.png"
        )
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(tmp_path / "a.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.warns(SkippedFileWarning, match=r"broken\.jpg"):
        ds = VideoClipDataset(_cfg(tmp_path), seed=0)
    assert len(ds) == 3 and ds.num_skipped_at_open == 1
    clip = ds[0]["clip"]
    assert clip.shape == (3, 8, 32, 32)
    assert torch.equal(clip[:, 0], clip[:, 7]) and clip.std() > 0.1
    with pytest.raises(NoReadableVideosError):
        VideoClipDataset(_cfg(tmp_path, image_repeat=False))


def test_path_lists(video_dir, tmp_path):
    names = sorted(p.name for p in video_dir.glob("*.mp4"))[:3]
    (tmp_path / "list.txt").write_text("\n".join(str(video_dir / n) for n in names) + "\n")
    assert len(VideoClipDataset(_cfg(tmp_path / "list.txt"))) == 3
    (tmp_path / "list.csv").write_text(
        "label,path\n" + "".join(f"0,{video_dir / n}\n" for n in names[:2])
    )
    assert len(VideoClipDataset(_cfg(tmp_path / "list.csv"))) == 2
    with pytest.raises(ValueError, match="shortpath"):
        VideoDataConfig(path="x", short_video="shortpath")
    with pytest.raises(ValueError, match=r"VideoDataConfig\.path"):
        VideoClipDataset(VideoDataConfig())


@dataclass
class _Recipe:
    data: VideoDataConfig = field(default_factory=VideoDataConfig)
    masks: list[MaskConfig] = field(default_factory=vjepa2_mask_configs)


def test_configs_nest_and_load_from_dotted_overrides():
    r = load_config(_Recipe, None, ["data.path=/x", "data.fps=5", "data.rrc_scale=[0.5,1.0]"])
    assert r.data.path == "/x" and r.data.fps == 5.0 and tuple(r.data.rrc_scale) == (0.5, 1.0)
    assert [m.num_blocks for m in r.masks] == [8, 2]


def test_augmentation_deterministic_per_seed_epoch_index(video_dir):
    a = VideoClipDataset(_cfg(video_dir), seed=3)
    b = VideoClipDataset(_cfg(video_dir), seed=3)
    assert torch.equal(a[(2, 1)]["clip"], b[(2, 1)]["clip"])
    assert not torch.equal(a[(2, 1)]["clip"], a[(3, 1)]["clip"])
    c = VideoClipDataset(_cfg(video_dir), seed=4)
    assert not torch.equal(a[(2, 1)]["clip"], c[(2, 1)]["clip"])


def _take(it, n):
    return [next(it) for _ in range(n)]


def test_sampler_resume_matches_uninterrupted():
    full = _take(iter(ResumableSampler(10, seed=7, rank=1, world_size=2)), 23)
    for start in (0, 3, 5, 11):
        resumed = _take(
            iter(ResumableSampler(10, seed=7, rank=1, world_size=2, start_index=start)), 23 - start
        )
        assert resumed == full[start:]
    epochs = [[i for e, i in full if e == k] for k in range(3)]
    assert epochs[0] != epochs[1]  # a new permutation every epoch
    other = _take(iter(ResumableSampler(10, seed=8, rank=1, world_size=2)), 5)
    assert other != full[:5]


@pytest.mark.parametrize("n", [10, 7])
def test_two_ranks_partition_an_epoch(n):
    r0 = ResumableSampler(n, seed=0, rank=0, world_size=2, num_epochs=1)
    r1 = ResumableSampler(n, seed=0, rank=1, world_size=2, num_epochs=1)
    a, b = [i for _, i in r0], [i for _, i in r1]
    assert len(a) == len(b) == len(r0) == -(-n // 2)
    assert set(a) | set(b) == set(range(n))
    if n % 2 == 0:
        assert not set(a) & set(b)


def test_loader_resume_reproduces_clips(video_dir):
    cfg = _cfg(video_dir, crop_size=16, frames_per_clip=4)
    first = _take(iter(build_video_loader(cfg, batch_size=3, seed=1)), 3)
    resumed = _take(iter(build_video_loader(cfg, batch_size=3, seed=1, start_index=3)), 2)
    for x, y in zip(first[1:], resumed):
        assert torch.equal(x["indices"], y["indices"])
        assert torch.equal(x["clips"], y["clips"])
    assert first[0]["clips"].shape == (3, 3, 4, 16, 16)


def test_loader_with_workers(tmp_path):
    make_synthetic_videos(tmp_path, num_videos=3, frames=12, size=32)
    cfg = _cfg(tmp_path, crop_size=16, frames_per_clip=4, num_workers=2)
    loader = build_video_loader(cfg, batch_size=2, seed=0)
    assert loader.persistent_workers
    batches = _take(iter(loader), 3)
    assert all(b["clips"].shape == (2, 3, 4, 16, 16) for b in batches)
    single = _take(
        iter(build_video_loader(_cfg(tmp_path, crop_size=16, frames_per_clip=4), 2, 0)), 3
    )
    assert all(torch.equal(a["clips"], b["clips"]) for a, b in zip(batches, single))


def test_synthetic_videos_are_distinct_and_deterministic(tmp_path):
    a = make_synthetic_videos(tmp_path / "a", num_videos=2, frames=6, size=32, seed=5)
    b = make_synthetic_videos(tmp_path / "b", num_videos=2, frames=6, size=32, seed=5)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert a[0].read_bytes() != a[1].read_bytes()
