"""Export: exact frames, ranges with audio in sync, atomic output on failure or cancel."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.errors import MediaError, OperatorError, RenderCancelled
from engine.media import open_reader, probe
from engine.media import writer as writer_module
from engine.pipeline import ShotPlan
from engine.project.recipe import Recipe, Step
from engine.render import CancelToken, RenderJob, render
from engine.render.still import SIDE_BY_SIDE_GAP
from engine.synth.index_clip import decode_audio, find_clicks, read_index, write_index_clip

FPS = Fraction(25)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 frames, 64x48, H.264 with B-frames, PCM audio with a click on frames 12 and 30."""
    path = tmp_path_factory.mktemp("render") / "source.mov"
    return write_index_clip(path, "h264", frames=48, gop=12, bframes=2, audio=True,
                            click_frames=(12, 30))




def run(job: RenderJob, cancel: CancelToken | None = None) -> list:
    return list(render(job, cancel))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "partial" in p.name)


def test_identity_export_keeps_every_frame(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy.mkv"
    progress = run(RenderJob(clip, out, ShotPlan.single(48, Recipe())))
    assert progress[-1].finished and progress[-1].done == 48
    with open_reader(out) as reader:
        assert reader.info.frame_count == 48 and reader.info.fps == FPS
        assert [read_index(f) for f in reader.frames(0, 48)] == list(range(48))
    assert leftovers(tmp_path) == []


def test_ranged_export_keeps_audio_in_sync(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "range.mov"
    run(RenderJob(clip, out, ShotPlan.single(48, Recipe()), start=10, end=39))
    info = probe(out)
    assert info.frame_count == 30
    assert info.audio, "the audio of the range must be in the export"
    with open_reader(out) as reader:
        assert read_index(reader.read(0)) == 10 and read_index(reader.read(29)) == 39
    samples, rate = decode_audio(out)
    duration = samples.shape[1] / rate
    assert abs(duration - 30 / 25) <= 1 / 25  # same duration ±1 frame
    clicks = [round(s * 25 / rate) for s in find_clicks(samples, rate)]
    assert clicks == [12 - 10, 30 - 10]  # each click still on its frame


@pytest.mark.parametrize(("offset", "clicks"), [(0.08, [14 - 10, 32 - 10]), (-0.12, [27 - 10])])
@pytest.mark.parametrize("resumable", [False, True])
def test_the_sound_is_moved_back_into_sync(clip: Path, tmp_path: Path, offset: float,
                                           clicks: list[int], resumable: bool) -> None:
    # 2 frames later: the clicks of frames 12 and 30 land on 14 and 32. 3 frames earlier:
    # the first (now frame 9) falls before the range, the second lands on 27.
    from engine.render.resume import render_resumable

    out = tmp_path / "synced.mov"
    job = RenderJob(clip, out, ShotPlan.single(48, Recipe()), start=10, end=39,
                    audio_offset=offset)
    list(render_resumable(job) if resumable else render(job))
    samples, rate = decode_audio(out)
    assert abs(samples.shape[1] / rate - 30 / 25) <= 1 / 25  # the length is kept
    assert [round(s * 25 / rate) for s in find_clicks(samples, rate)] == clicks
    way = "80 ms (2 frames) later" if offset > 0 else "120 ms (3 frames) earlier"
    assert _comment(out).endswith(f"; sound {way}")


def test_processing_is_applied(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "darker.mkv"
    recipe = Recipe.from_ops(["color"]).with_values("color", exposure=-1.0)
    run(RenderJob(clip, out, ShotPlan.single(48, recipe), start=0, end=4, audio=False))
    with open_reader(clip) as a, open_reader(out) as b:
        ratio = b.read(2).mean() / a.read(2).mean()
    assert 0.45 < ratio < 0.55


def test_cancel_leaves_nothing_under_the_final_name(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "cancelled.mov"
    cancel = CancelToken()
    with pytest.raises(RenderCancelled):
        for progress in render(RenderJob(clip, out, ShotPlan.single(48, Recipe())), cancel):
            if progress.done == 5:
                cancel.cancel()
    assert not out.exists()
    assert leftovers(tmp_path) == []


def test_write_failure_is_a_clear_error_and_cleans_up(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    original = writer_module.Writer.write

    def failing_write(self, frame):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 6:
            raise OSError(28, "No space left on device")
        return original(self, frame)

    monkeypatch.setattr(writer_module.Writer, "write", failing_write)
    out = tmp_path / "full.mkv"
    with pytest.raises(MediaError, match="No space left on device"):
        run(RenderJob(clip, out, ShotPlan.single(48, Recipe())))
    assert not out.exists()
    assert leftovers(tmp_path) == []


def test_an_existing_output_survives_a_failed_export(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "keep.mkv"
    out.write_bytes(b"the restorer's previous export")
    bad = Recipe.from_ops(["color"])
    plan = ShotPlan.single(48, bad)
    with pytest.raises(MediaError, match="outside the clip"):
        run(RenderJob(clip, out, plan, start=40, end=60))
    assert out.read_bytes() == b"the restorer's previous export"


def test_operator_failure_names_the_operator(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.ops.sharpen import SharpenOperator

    def broken(self, window):  # type: ignore[no-untyped-def]
        raise ValueError("kernel exploded")

    monkeypatch.setattr(SharpenOperator, "process", broken)
    out = tmp_path / "broken.mkv"
    with pytest.raises(OperatorError, match="sharpen: failed on frame 0: kernel exploded"):
        run(RenderJob(clip, out, ShotPlan.single(48, Recipe.from_ops(["sharpen"]))))
    assert not out.exists() and leftovers(tmp_path) == []


def test_sequence_export_to_a_folder(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "frames"
    run(RenderJob(clip, out, ShotPlan.single(48, Recipe()), start=3, end=7, codec="png",
                  audio=False))
    with open_reader(out) as reader:
        assert reader.info.frame_count == 5
        assert [read_index(f) for f in reader.frames(0, 5)] == [3, 4, 5, 6, 7]
    assert leftovers(tmp_path) == []


def test_no_export_thread_outlives_its_export(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Frames are evaluated (and decoded) ahead on threads of their own; a finished, a
    # cancelled and a failed export each stop them before returning.
    def export_threads() -> list[str]:
        return [t.name for t in threading.enumerate()
                if t.name.startswith(("nitrate-evaluate", "nitrate-read-ahead"))]

    recipe = Recipe.from_ops(["temporal_average"])
    run(RenderJob(clip, tmp_path / "done.mkv", ShotPlan.single(48, recipe), end=9, audio=False))
    assert export_threads() == []
    cancel = CancelToken()
    with pytest.raises(RenderCancelled):
        for progress in render(RenderJob(clip, tmp_path / "c.mkv", ShotPlan.single(48, recipe)),
                               cancel):
            if progress.done == 3:
                cancel.cancel()
    assert export_threads() == []
    from engine.ops.temporal_average import TemporalAverageOperator

    process = TemporalAverageOperator.process

    def fails_on_frame_6(self, window):  # type: ignore[no-untyped-def]
        if window.index == 6:
            raise ValueError("out of memory")
        return process(self, window)

    monkeypatch.setattr(TemporalAverageOperator, "process", fails_on_frame_6)
    with pytest.raises(OperatorError, match="temporal_average: failed on frame 6"):
        run(RenderJob(clip, tmp_path / "f.mkv", ShotPlan.single(48, recipe)))
    assert export_threads() == []
    assert leftovers(tmp_path) == []


def test_frames_evaluated_side_by_side_are_those_of_one_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An export evaluates two frames at once; the film preset's operators keep memos and
    # shot analyses, and the file must be the same as one thread alone would write.
    import av
    import numpy as np

    from engine import presets
    from engine.render import export
    from engine.synth.damage import DamageSpec, apply_damage
    from engine.synth.scenes import moving_scene

    source = tmp_path / "damaged.mkv"
    spec = DamageSpec(dust=60, scratches=1, flicker=0.1, grain=0.02, weave=1.5, seed=3)
    frames = apply_damage(moving_scene(14, 256, 144, seed=3), spec).frames
    with av.open(str(source), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 256, 144, "bgr0"
        for frame in frames:
            rgb = (np.clip(frame, 0, 1) * 255 + 0.5).astype(np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))

    def export_to(name: str) -> list[bytes]:
        out = tmp_path / name
        plan = ShotPlan.single(14, presets.get_preset("film").recipe)
        run(RenderJob(source, out, plan, audio=False, codec="ffv1"))
        with open_reader(out) as reader:
            return [reader.read(i).tobytes() for i in range(14)]

    together = export_to("together.mkv")
    monkeypatch.setattr(export, "cpu_count", lambda: 1)  # one evaluating thread
    alone = export_to("alone.mkv")
    assert together == alone


def _comment(path: Path) -> str:
    import av

    with av.open(str(path)) as container:
        tags = {k.lower(): v for k, v in container.metadata.items()}
    return tags.get("comment", "")


@pytest.mark.parametrize("name", ["tagged.mov", "tagged.mkv", "tagged.mp4"])
def test_a_video_export_says_how_it_was_made(clip: Path, tmp_path: Path, name: str) -> None:
    from engine.framing import Framing
    from engine.pipeline import PlannedShot
    from engine.project.model import Repair
    from engine.render.resume import render_resumable

    sharpen = Recipe.from_ops(["sharpen"])
    # A LUT step is named with its file: what it did depends on it.
    graded = Recipe.of([Step.create("sharpen"), Step.create("lut", {"file": "cineon-to-rec709"})])
    plan = ShotPlan((PlannedShot(0, 9, sharpen), PlannedShot(10, 19, sharpen, (Repair(12, 12),)),
                     PlannedShot(20, 29, graded), PlannedShot(30, 47, Recipe())))
    job = RenderJob(clip, tmp_path / name, plan, start=10, end=39,
                    framing=Framing(crop=(2, 2, 2, 2)))
    list(render(job))
    expected = ("from source.mov, frames 10-39; frames 10-19: sharpen; frames 20-29: sharpen, "
                "lut (cineon-to-rec709); frames 30-39: no operator; manual repairs: 1, "
                "protections: 0; framing: crop 2,2,2,2 px → 60x44")
    comment = _comment(tmp_path / name)
    assert comment.startswith("Exported by Nitrate ") and comment.endswith(expected)
    # A resumable export, joined from its segments, says the same.
    resumed = tmp_path / f"resumed_{name}"
    list(render_resumable(RenderJob(clip, resumed, plan, start=10, end=39,
                                    framing=Framing(crop=(2, 2, 2, 2)))))
    assert _comment(resumed) == comment


@pytest.mark.parametrize("mode", ["side-by-side", "split"])
def test_a_review_copy_shows_the_scan_beside_the_restored_frame(clip: Path, tmp_path: Path,
                                                                mode: str) -> None:
    import av

    brighter = Recipe.of([Step.create("color", {"exposure": 0.5})])
    plan = ShotPlan.single(48, brighter)

    def export(name: str, recipe_plan: ShotPlan, compare: str = "") -> list[np.ndarray]:
        out = tmp_path / name
        run(RenderJob(clip, out, recipe_plan, end=5, codec="ffv1", audio=False,
                      compare=compare))
        with open_reader(out) as reader:
            return [reader.read(i) for i in range(6)]

    scans = export("scan.mkv", ShotPlan.single(48, Recipe()))
    restored = export("restored.mkv", plan)
    shown = export(f"{mode}.mkv", plan, mode)
    w = scans[0].shape[1]
    below = slice(16, None)  # under the Before / After labels
    for scan, after, both in zip(scans, restored, shown, strict=True):
        if mode == "side-by-side":
            assert both.shape[1] == 2 * w + SIDE_BY_SIDE_GAP
            left, right = both[below, :w], both[below, w + SIDE_BY_SIDE_GAP:]
        else:
            assert both.shape == scan.shape
            left, right = both[below, :w // 2 - 1], both[below, w // 2 + 1:]
            scan, after = scan[:, :w // 2 - 1], after[:, w // 2 + 1:]
        np.testing.assert_array_equal(left, scan[below])
        np.testing.assert_array_equal(right, after[below])
        assert both[:12, :3].mean() < scan[:12, :3].mean()  # the label's dark band
    with av.open(str(tmp_path / f"{mode}.mkv")) as container:
        comment = container.metadata.get("comment") or container.metadata.get("COMMENT")
    assert "the scan and the restored frame" in comment and "(a review copy)" in comment
    # A resumed export of the review copy is another job than the restored one's.
    from engine.media import output_format_for
    from engine.render.resume import fingerprint

    fmt = output_format_for(tmp_path / "x.mkv", "ffv1")
    prints = [fingerprint(RenderJob(clip, tmp_path / "x.mkv", plan, compare=c), fmt, 5, FPS, 48)
              for c in ("", mode)]
    assert prints[0] != prints[1]
    with pytest.raises(MediaError, match="compare 'wipe': choose side-by-side or split"):
        run(RenderJob(clip, tmp_path / "bad.mkv", plan, compare="wipe"))
    assert not (tmp_path / "bad.mkv").exists()


@pytest.mark.parametrize("resumable", [False, True])
def test_a_clip_conformed_to_another_rate_keeps_every_frame_and_its_sound(
        clip: Path, tmp_path: Path, resumable: bool) -> None:
    from engine.render.resume import render_resumable

    out = tmp_path / "conformed.mov"
    job = RenderJob(clip, out, ShotPlan.single(48, Recipe()), fps=Fraction(24),
                    retime="conform")
    list(render_resumable(job) if resumable else render(job))
    info = probe(out)
    assert (info.frame_count, info.fps) == (48, Fraction(24))  # 25 → 24, frame for frame
    with open_reader(out) as reader:
        assert [read_index(f) for f in reader.frames(0, 48)] == list(range(48))
    samples, rate = decode_audio(out)
    assert abs(samples.shape[1] / rate - 48 / 24) <= 1 / rate * 2  # 4 % longer, like the picture
    # The clicks of frames 12 and 30 are still on frames 12 and 30.
    assert [round(s * 24 / rate) for s in find_clicks(samples, rate)] == [12, 30]
    # And the tone between them is lower by as much (its pitch moves with the speed, as a
    # projector run slower lowers it), with no gap in it.
    source, _ = decode_audio(clip)

    def crossings_per_second(x: np.ndarray, first_s: float) -> float:
        tone = x[0, int(first_s * rate):int((first_s + 0.3) * rate)]
        return np.count_nonzero(np.diff(np.signbit(tone))) / 0.3

    assert crossings_per_second(samples, 0.6) == pytest.approx(
        crossings_per_second(source, 0.6) * 24 / 25, rel=0.01)
    silent = np.abs(samples[0, 200:int(1.9 * rate)]) < 1e-6
    assert not np.convolve(silent, np.ones(8), "valid").max(initial=0) >= 8
    assert "conformed from 25 to 24 fps frame for frame" in info.comment
