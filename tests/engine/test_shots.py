"""Shot detection: cuts at the right frame, and old-film damage never taken for a cut."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from engine.errors import NitrateError, RenderCancelled
from engine.shots import Cut, ShotError, detect_cuts, shots_from_cuts
from engine.synth.damage import DamageSpec, apply_damage
from engine.synth.scenes import moving_scene

FOOTAGE = Path(__file__).resolve().parents[3] / "shared" / "footage"
W, H = 320, 180
# Heavy old-film damage: ±30 % flicker, regional flicker, dust and blotches, a scratch,
# grain, 3 px weave.
HEAVY = DamageSpec(flicker=0.3, local_flicker=0.1, dust=600, scratches=1, grain=0.03,
                   weave=3, seed=3)


@dataclass(frozen=True)
class _Info:
    frame_count: int
    path: str = "test clip"


class FakeReader:
    """In-memory Reader: info.frame_count and a sequential frames(start, stop)."""

    def __init__(self, frames: Sequence[np.ndarray]) -> None:
        self._frames = list(frames)
        self.info = _Info(len(self._frames))
        self.decoded = 0

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        stop = len(self._frames) if stop is None else stop
        for i in range(start, stop):
            self.decoded += 1
            yield self._frames[i]


def _damaged(frames: list[np.ndarray], spec: DamageSpec = HEAVY) -> list[np.ndarray]:
    return apply_damage(frames, spec).frames


@pytest.fixture(scope="module")
def shot_a() -> list[np.ndarray]:
    return moving_scene(16, W, H, seed=21, motion="pan+objects")


@pytest.fixture(scope="module")
def shot_b() -> list[np.ndarray]:
    return moving_scene(16, W, H, seed=22, motion="pan+objects")


def test_hard_cut_found_at_the_first_frame_of_the_new_shot(shot_a, shot_b) -> None:
    cuts = detect_cuts(FakeReader(shot_a + shot_b))
    assert [(c.frame, c.kind) for c in cuts] == [(16, "hard")]
    assert 0.5 <= cuts[0].confidence <= 1.0


def test_hard_cut_found_through_heavy_damage(shot_a, shot_b) -> None:
    cuts = detect_cuts(FakeReader(_damaged(shot_a + shot_b)))
    assert [c.frame for c in cuts] == [16]


def test_heavy_damage_weave_and_dust_make_no_cut(shot_a) -> None:
    frames = _damaged(shot_a)
    assert detect_cuts(FakeReader(frames)) == []


def test_flicker_burst_without_cut_makes_no_cut(shot_a) -> None:
    burst = [f.copy() for f in shot_a]
    for k in range(4, 12):  # alternate frames 35 % brighter and darker
        burst[k] = np.clip(burst[k] * (1.35 if k % 2 else 0.65), 0, 1).astype(np.float32)
    assert detect_cuts(FakeReader(_damaged(burst))) == []


def test_flash_frame_and_big_blotch_make_no_cut(shot_a) -> None:
    frames = [f.copy() for f in shot_a]
    frames[5] = (frames[5] * 0.2 + 0.8).astype(np.float32)  # overexposed frame at a splice
    frames[10][40:120, 60:200] = 0.05  # a blotch over a fifth of the picture
    assert detect_cuts(FakeReader(_damaged(frames))) == []


def test_fade_through_black_is_one_fade_boundary(shot_a, shot_b) -> None:
    out = [(f * (1.0 - (k + 1) / 6.0)).astype(np.float32) for k, f in enumerate(shot_a[10:])]
    black = [np.zeros((H, W, 3), np.float32)] * 3
    into = [(f * ((k + 1) / 7.0)).astype(np.float32) for k, f in enumerate(shot_b[:6])]
    frames = shot_a[:10] + out + black + into + shot_b[6:]
    first_of_b = 10 + len(out) + len(black)
    cuts = detect_cuts(FakeReader(_damaged(frames, DamageSpec(grain=0.03, weave=2, seed=1))))
    # The fade-in's first frame is nearly black itself; a frame either way is the same fade.
    assert len(cuts) == 1 and cuts[0].kind == "fade"
    assert abs(cuts[0].frame - first_of_b) <= 1


def test_range_cuts_in_clip_frame_numbers_and_start_not_a_cut(shot_a, shot_b) -> None:
    reader = FakeReader(shot_a + shot_b)
    assert [c.frame for c in detect_cuts(reader, start=4, end=24)] == [16]
    assert reader.decoded == 20  # exactly the range, once
    assert detect_cuts(FakeReader(shot_a + shot_b), start=16) == []
    assert detect_cuts(FakeReader(shot_a + shot_b), start=3, end=16) == []


def test_progress_reported_up_to_the_total(shot_a, shot_b) -> None:
    calls: list[tuple[int, int]] = []
    detect_cuts(FakeReader(shot_a + shot_b + shot_a), progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (48, 48)
    assert len(calls) >= 2
    done = [d for d, _ in calls]
    assert done == sorted(done) and all(t == 48 for _, t in calls)


def test_cancel_stops_decoding_and_raises(shot_a, shot_b) -> None:
    frames = (shot_a + shot_b) * 3  # 96 frames: several progress periods
    reader = FakeReader(frames)
    polls = []

    def cancel() -> bool:
        polls.append(1)
        return len(polls) >= 2

    with pytest.raises(RenderCancelled, match="cancelled"):
        detect_cuts(reader, cancel=cancel)
    assert reader.decoded < len(frames)


def test_bad_arguments_are_one_line_errors(shot_a) -> None:
    reader = FakeReader(shot_a)
    with pytest.raises(ShotError, match=r"frame range 0-99 is outside the clip \(0-16\)"):
        detect_cuts(reader, end=99)
    with pytest.raises(ShotError, match="sensitivity must be between 0 and 1"):
        detect_cuts(reader, sensitivity=2.0)
    with pytest.raises(NitrateError) as err:
        detect_cuts(reader, start=10, end=5)
    assert "\n" not in str(err.value)


def test_frames_of_another_size_are_a_media_error(shot_a) -> None:
    frames = shot_a[:4] + [np.zeros((H // 2, W, 3), np.float32)]
    with pytest.raises(NitrateError, match="test clip: frame 4 has shape"):
        detect_cuts(FakeReader(frames))


def test_short_clips_have_no_cuts() -> None:
    assert detect_cuts(FakeReader([])) == []
    assert detect_cuts(FakeReader([np.zeros((8, 8, 3), np.float32)])) == []


def test_shots_from_cuts() -> None:
    assert shots_from_cuts(10, [Cut(4, "hard", 0.9), 7]) == [(0, 3), (4, 6), (7, 9)]
    assert shots_from_cuts(10, []) == [(0, 9)]
    assert shots_from_cuts(10, [7, 0, 7]) == [(0, 6), (7, 9)]
    assert shots_from_cuts(0, []) == []
    with pytest.raises(ShotError, match="cut at frame 10 is outside the clip"):
        shots_from_cuts(10, [10])


@pytest.mark.footage
@pytest.mark.skipif(not FOOTAGE.is_dir(), reason="shared footage not present")
def test_real_clip_cuts_found_exactly() -> None:
    from engine.media.reader import open_reader

    # True cuts at 30 and 76 (found by eye, see benchmarks/shots.py); the clip's right half
    # is a static chart that survives the cut.
    with open_reader(FOOTAGE / "scene_cuts.mp4") as reader:
        assert [c.frame for c in detect_cuts(reader, start=20, end=90)] == [30, 76]


@pytest.mark.footage
@pytest.mark.skipif(not FOOTAGE.is_dir(), reason="shared footage not present")
def test_real_old_film_without_cut_gives_none() -> None:
    from engine.media.reader import open_reader

    # One continuous shot with flicker, grain, weave and a huge white blotch on frame 28.
    with open_reader(FOOTAGE / "film_within_our_gates") as reader:
        assert detect_cuts(reader) == []
