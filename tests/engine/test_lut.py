"""LUTs: the .cube format read and written, tetrahedral interpolation, the bundled film-log
conversions and the `lut` operator."""

from __future__ import annotations

import os
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.errors import OperatorError
from engine.lut import (
    Lut,
    LutError,
    apply_lut,
    bundled_luts,
    load_lut,
    read_cube,
    write_cube,
)
from engine.lut.film_log import (
    BUNDLED,
    cineon_to_linear,
    linear_to_cineon,
    rec709_decode,
    rec709_encode,
)
from engine.ops.base import Window
from engine.ops.lut import LutOperator
from engine.project import Clip, Project, Recipe, Step, load_project, save_project

RNG = np.random.default_rng(7)


def grid(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (r, g, b) input levels of a size³ table, indexed [blue, green, red]."""
    axis = np.linspace(0.0, 1.0, size, dtype=np.float32)
    b, g, r = np.meshgrid(axis, axis, axis, indexing="ij")
    return r, g, b


def cube_of(fn, size: int = 17, **kwargs) -> Lut:
    r, g, b = grid(size)
    table = np.stack(fn(r, g, b), axis=-1).astype(np.float32)
    return Lut("test", cube=np.ascontiguousarray(table), **kwargs)


def random_frame(h: int = 37, w: int = 53) -> np.ndarray:
    return RNG.random((h, w, 3), dtype=np.float32)


def test_a_3d_table_reproduces_any_linear_colour_transform_exactly() -> None:
    # Tetrahedral interpolation is exact for affine maps, cross-channel ones included: a
    # LUT made from a saturation matrix gives the matrix's output on every pixel.
    m = np.array([[0.8, 0.15, 0.05], [0.1, 0.7, 0.2], [0.02, 0.3, 0.68]], np.float32)
    lut = cube_of(lambda r, g, b: [m[i, 0] * r + m[i, 1] * g + m[i, 2] * b + 0.01 * i
                                   for i in range(3)])
    frame = random_frame()
    expected = frame @ m.T + np.array([0.0, 0.01, 0.02], np.float32)
    np.testing.assert_allclose(apply_lut(frame, lut), expected, atol=2e-6)


def test_grey_is_interpolated_along_the_grey_axis_only() -> None:
    # What makes the interpolation tetrahedral: a grey input lies on the edge of every
    # tetrahedron of its cell, so only the table's grey points decide it. A table whose
    # other points are noise still maps grey exactly as its diagonal says.
    size = 9
    noise = RNG.random((size, size, size, 3), dtype=np.float32)
    diagonal = np.linspace(0.0, 1.0, size, dtype=np.float32) ** 2
    for k in range(size):
        noise[k, k, k] = diagonal[k]
    lut = Lut("noisy", cube=noise)
    levels = RNG.random(500, dtype=np.float32)
    grey = np.repeat(levels[None, :, None], 3, axis=2)
    out = apply_lut(grey, lut)[0]
    expected = np.interp(levels, np.linspace(0, 1, size), diagonal)
    for c in range(3):
        np.testing.assert_allclose(out[:, c], expected, atol=1e-6)


def test_levels_outside_the_domain_are_clamped_to_it_and_domains_scale_the_input() -> None:
    # A table over 0-2 (a scene-referred input): 1.0 is its middle point; beyond 2 clamps.
    lut = cube_of(lambda r, g, b: [r * 2 / 3, g * 2 / 3, b * 2 / 3],
                  cube_domain=(np.zeros(3, np.float32), np.full(3, 2.0, np.float32)))
    frame = np.array([[[1.0, 0.5, 3.0], [-1.0, 2.0, 0.0]]], np.float32)
    np.testing.assert_allclose(apply_lut(frame, lut),
                               [[[1 / 3, 1 / 6, 2 / 3], [0.0, 2 / 3, 0.0]]], atol=1e-6)


def test_a_frame_holding_nan_goes_through_without_an_error() -> None:
    # A NaN left by an earlier step must not stop an export (the Writer makes it black).
    frame = random_frame()
    frame[3, 4] = np.nan
    for lut in (cube_of(lambda r, g, b: [r, g, b], size=5),
                Lut("curve", shaper=np.array([[0, 0, 0], [1, 1, 1]], np.float32))):
        out = apply_lut(frame, lut)
        assert np.isfinite(np.delete(out.reshape(-1, 3), 3 * frame.shape[1] + 4, 0)).all()


def test_a_resolve_file_with_a_shaper_applies_the_1d_curve_then_the_cube(tmp_path: Path) -> None:
    # Resolve writes a 1D shaper (over a wide input range) before the 3D table.
    text = "\n".join([
        "# made by hand", 'TITLE "shaped"', "LUT_1D_SIZE 3", "LUT_1D_INPUT_RANGE 0 4",
        "LUT_3D_SIZE 2", "LUT_3D_INPUT_RANGE 0 1",
        "0 0 0", "0.5 0.5 0.5", "1 1 1",  # the shaper: 0-4 → 0-1, linear
        "0 0 0", "1 0 0", "0 1 0", "1 1 0", "0 0 1", "1 0 1", "0 1 1", "1 1 1",  # identity
    ]) + "\n"
    path = tmp_path / "shaped.cube"
    path.write_text(text)
    lut = read_cube(path)
    assert lut.title == "shaped" and lut.size == "3 → 2³"
    out = apply_lut(np.array([[[2.0, 1.0, 4.0]]], np.float32), lut)
    np.testing.assert_allclose(out, [[[0.5, 0.25, 1.0]]], atol=1e-6)
    # Written and read again, it maps the same.
    write_cube(lut, tmp_path / "again.cube")
    again = read_cube(tmp_path / "again.cube")
    frame = random_frame() * 4
    np.testing.assert_allclose(apply_lut(frame, again), apply_lut(frame, lut), atol=1e-6)


def test_a_written_cube_reads_back_the_same_table_and_is_a_normal_file(tmp_path: Path) -> None:
    lut = cube_of(lambda r, g, b: [g, b, r ** 0.5], size=5,
                  cube_domain=(np.array([0, 0, -0.1], np.float32), np.ones(3, np.float32)))
    path = tmp_path / "look.cube"
    write_cube(lut, path)
    again = read_cube(path)
    assert again.cube is not None and lut.cube is not None
    np.testing.assert_allclose(again.cube, lut.cube, atol=1e-6)
    np.testing.assert_allclose(again.cube_domain[0], [0, 0, -0.1], atol=1e-6)
    text = path.read_text()
    assert text.startswith('TITLE "test"\nLUT_3D_SIZE 5\nDOMAIN_MIN')
    if os.name == "posix":
        assert path.stat().st_mode & 0o044  # readable by others, as any file the user makes
    assert [p.name for p in tmp_path.iterdir()] == ["look.cube"]  # no temporary left


def test_written_luts_are_read_by_other_tools(tmp_path: Path) -> None:
    # Adobe's keywords for a single table, none for the default 0-1 domain: ffmpeg's
    # lut3d refuses Resolve's LUT_3D_INPUT_RANGE, which only a shaper + cube needs.
    path = tmp_path / "plain.cube"
    write_cube(cube_of(lambda r, g, b: [g, b, r], size=3), path)
    assert path.read_text().splitlines()[:2] == ['TITLE "test"', "LUT_3D_SIZE 3"]
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg not installed (the check of the file's keywords above ran)")
    # Pure red through the channel rotation (out = g, b, r) comes out blue in ffmpeg.
    done = subprocess.run(
        [ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         "color=red:s=8x8", "-frames:v", "1", "-vf", f"lut3d=file={path}", "-pix_fmt",
         "rgb24", "-f", "rawvideo", "-"], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    pixel = np.frombuffer(done.stdout, np.uint8)[:3]
    assert pixel[2] > 200 and pixel[0] < 30 and pixel[1] < 30


@pytest.mark.parametrize(("content", "problem"), [
    ("", "no LUT_1D_SIZE or LUT_3D_SIZE"),
    ("LUT_3D_SIZE 2\n0 0 0\n1 1 1\n", "the table has 2 rows where its size (2³) needs 8 (rows from line 2)"),
    ("LUT_3D_SIZE two\n", "line 1: the size 'two' is not a whole number"),
    ("LUT_3D_SIZE 1000\n", "line 1: size 1000 is outside 2-256"),
    ("LUT_1D_SIZE 2\n0 0 0\n1 x 1\n", "line 3: expected 3 numbers, got '1 x 1'"),
    ("LUT_1D_SIZE 2\n0 0 0\nTITLE \"late\"\n1 1 1\n", "line 3: keyword TITLE after the table began"),
    ("LUT_1D_SIZE 2\nDOMAIN_MIN 1 1 1\nDOMAIN_MAX 0 1 1\n0 0 0\n1 1 1\n", "maximum must be above"),
    ("LUT_1D_SIZE 2\n0 0 0\nnan 1 1\n", "not a finite number"),
])
def test_a_bad_cube_file_is_one_line_naming_the_file(tmp_path: Path, content: str,
                                                      problem: str) -> None:
    path = tmp_path / "bad.cube"
    path.write_text(content)
    with pytest.raises(LutError) as caught:
        read_cube(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and problem in message and "\n" not in message


def test_a_missing_file_names_the_bundled_luts(tmp_path: Path) -> None:
    with pytest.raises(LutError, match=r"no such LUT file \(bundled LUTs: cineon-to-rec709"):
        load_lut(tmp_path / "gone.cube")
    with pytest.raises(LutError, match="is a folder"):
        read_cube(tmp_path)


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "look.cube"
    path.write_text("LUT_1D_SIZE 2\n0 0 0\n1 1 1\n")
    first = load_lut(path)
    assert load_lut(path) is first  # parsed once while unchanged
    path.write_text("LUT_1D_SIZE 2\n0 0 0\n0.5 0.5 0.5\n")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    assert load_lut(path) is not first
    assert load_lut(path).shaper[1, 0] == pytest.approx(0.5)  # type: ignore[index]


def test_the_shipped_luts_are_what_the_film_log_module_makes() -> None:
    assert set(bundled_luts()) == set(BUNDLED)
    for name, make in BUNDLED.items():
        shipped, made = load_lut(name), make()
        assert shipped.title == made.title
        np.testing.assert_allclose(shipped.shaper, made.shaper, atol=1e-6)  # type: ignore[arg-type]


def test_cineon_log_is_converted_with_kodak_s_reference_points() -> None:
    view = load_lut("cineon-to-rec709")
    codes = np.arange(1024, dtype=np.float32) / 1023
    shown = apply_lut(np.repeat(codes[None, :, None], 3, axis=2), view)[0, :, 0]
    assert shown[95] == pytest.approx(0.0, abs=1e-6)  # black
    assert shown[685] == pytest.approx(1.0, abs=1e-6)  # reference white
    assert np.all(shown[:95] == 0) and np.all(shown[685:] == pytest.approx(1.0))
    assert np.all(np.diff(shown[95:686]) > 0)  # every code between them a distinct level
    # 18 % grey: black's offset o = 10^(−590·0.002/0.6) = 0.01080, so its code is
    # 685 + 300·log10(0.18·(1 − o) + o) = 467.8; Rec. 709 shows it at 0.409.
    assert float(linear_to_cineon(np.array(0.18))) * 1023 == pytest.approx(467.8, abs=0.1)
    assert float(rec709_encode(np.array(0.18))) == pytest.approx(0.409, abs=0.001)
    # The two bundled LUTs undo each other between black and white.
    back = apply_lut(apply_lut(np.repeat(codes[None, 95:686, None], 3, axis=2), view),
                     load_lut("rec709-to-cineon"))[0, :, 0]
    assert np.abs(back - codes[95:686]).max() < 0.5 / 1023
    levels = np.linspace(0, 1, 101)
    np.testing.assert_allclose(cineon_to_linear(linear_to_cineon(levels)), levels, atol=1e-12)
    np.testing.assert_allclose(rec709_decode(rec709_encode(levels)), levels, atol=1e-12)


def window_of(frame: np.ndarray) -> Window:
    return Window(frames=(frame,), indices=(0,), center=0, shot=(0, 0))


def test_the_lut_operator_applies_the_file_mixed_by_strength_and_masks_what_it_changed(
        tmp_path: Path) -> None:
    path = tmp_path / "warm.cube"
    write_cube(cube_of(lambda r, g, b: [np.minimum(r * 1.2, 1), g, b * 0.8]), path)
    frame = random_frame(64, 96)
    frame[:, :48] = 0.0  # black stays black: nothing changed there
    full = LutOperator.from_mapping({"file": str(path)}).process(window_of(frame))
    np.testing.assert_allclose(full.frame, apply_lut(frame, load_lut(path)), atol=1e-6)
    half = LutOperator.from_mapping({"file": str(path), "strength": 0.5}).process(window_of(frame))
    np.testing.assert_allclose(half.frame, (full.frame + frame) / 2, atol=1e-5)
    assert full.mask is not None and full.mask.shape == (64, 96)
    assert full.mask[:, :40].max() == 0.0 and full.mask[:, 56:].mean() > 0.5
    named = LutOperator.from_mapping({"file": "cineon-to-rec709"}).process(window_of(frame))
    np.testing.assert_allclose(named.frame, apply_lut(frame, load_lut("cineon-to-rec709")))


def test_the_lut_operator_names_itself_and_the_file_when_it_cannot_work(tmp_path: Path) -> None:
    with pytest.raises(OperatorError, match=r"^lut: .*gone\.cube: no such LUT file"):
        LutOperator.from_mapping({"file": str(tmp_path / "gone.cube")})
    with pytest.raises(OperatorError, match=r"^lut: no LUT file chosen .*cineon-to-rec709"):
        LutOperator.from_mapping({}).process(window_of(random_frame()))
    with pytest.raises(OperatorError, match="^lut: strength must be at most 1"):
        LutOperator.from_mapping({"strength": 2})


def test_a_project_keeps_its_lut_step_and_display_lut(tmp_path: Path) -> None:
    media = tmp_path / "scan.mov"
    media.write_bytes(b"x")
    own = tmp_path / "luts" / "print.cube"
    own.parent.mkdir()
    own.write_text("LUT_1D_SIZE 2\n0 0 0\n1 1 1\n")
    recipe = Recipe.of([Step.create("lut", {"file": "cineon-to-rec709", "strength": 0.8})])
    for display, stored in (("cineon-to-rec709", "cineon-to-rec709"),
                            (str(own), "luts/print.cube")):
        project = Project(clips=[Clip(str(media), 10, default_recipe=recipe,
                                      display_lut=display)])
        path = save_project(project, tmp_path / "p.nitrate")
        assert f'"display_lut": "{stored}"' in path.read_text()  # relative: the folder can move
        loaded = load_project(path)
        assert loaded.clip.default_recipe == recipe
        assert loaded.display_lut(loaded.clip) == display
    plain = save_project(Project(clips=[Clip(str(media), 10)]), tmp_path / "q.nitrate")
    assert "display_lut" not in plain.read_text()


def test_a_review_copy_goes_through_the_view_lut_and_says_so(index_clip,
                                                               tmp_path: Path) -> None:
    import av

    from engine.errors import LutError
    from engine.media import open_reader, output_format_for
    from engine.pipeline import ShotPlan
    from engine.render import RenderJob, render
    from engine.render.export import choose_route
    from engine.render.resume import fingerprint

    clip = index_clip("view_lut.mov", codec="prores", frames=6)
    out = tmp_path / "review.mkv"
    fmt = output_format_for(out, "ffv1")
    job = RenderJob(clip, out, ShotPlan.single(6, Recipe()), codec="ffv1", audio=False,
                    view_lut="rec709-to-cineon")
    steps = list(render(job))
    assert steps[-1].route == "float"  # untouched frames, but the LUT changes them all
    lut = load_lut("rec709-to-cineon")
    with open_reader(clip) as source, open_reader(out) as review:
        assert choose_route(job, source, fmt, 5, None).reason == (
            "through the LUT rec709-to-cineon")
        for i in range(6):
            expected = np.round(apply_lut(source.read(i), lut) * 255)
            assert np.abs(review.read(i) * 255 - expected).max() <= 1.0
    with av.open(str(out)) as container:
        comment = container.metadata.get("comment") or container.metadata.get("COMMENT")
    assert "viewed through the LUT rec709-to-cineon (a review copy)" in comment
    # A resumed export through another LUT (or none) is another job.
    plain = RenderJob(clip, out, job.plan, codec="ffv1", audio=False)
    assert fingerprint(job, fmt, 5, Fraction(25), 48) != fingerprint(plain, fmt, 5,
                                                                     Fraction(25), 48)
    # A LUT that cannot be read stops the export before anything is written.
    with pytest.raises(LutError, match="missing.cube"):
        list(render(RenderJob(clip, tmp_path / "x.mkv", job.plan,
                              view_lut=str(tmp_path / "missing.cube"))))
    assert not (tmp_path / "x.mkv").exists()
