"""Finding the spot of dirt a restorer clicks (engine.ops.region.spot_around)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.ops.region import spot_around


def picture(seed: int = 1) -> np.ndarray:
    """Smooth textured luma (levels 0-1), 120x160."""
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.random((120, 160)).astype(np.float32), (0, 0), 3)
    return 0.45 + 0.06 * (texture - texture.mean()) / texture.std()


@pytest.mark.parametrize("level", [0.05, 0.95])  # a dark speck, a white one
def test_a_clicked_spot_is_boxed_with_its_soft_edge(level: float) -> None:
    luma = picture()
    cv2.circle(luma, (60, 50), 6, level, -1)  # pixels 54-66 each way
    assert spot_around(luma, 60, 50) == (52, 42, 17, 17)
    # Clicked off centre, or on its very edge, the same spot.
    assert spot_around(luma, 55.5, 47.2) == (52, 42, 17, 17)
    assert spot_around(luma, 53.6, 50) == (52, 42, 17, 17)


def test_nothing_is_found_where_nothing_stands_out_or_on_an_edge() -> None:
    luma = picture()
    assert spot_around(luma, 100, 60) is None  # plain picture
    luma[:, 100:] += 0.3  # the edge of a bright wall: picture, not a spot
    assert spot_around(luma, 100.5, 60) is None
    line = picture()
    cv2.line(line, (0, 30), (159, 90), 0.05, 2)  # a long dark line across the frame
    assert spot_around(line, 80, 60) is None


def test_cli_repair_spot_boxes_the_speck_on_the_frame(tmp_path, capsys) -> None:
    from app.cli import run_cli
    from engine.project import Clip, Project, load_project, save_project
    from engine.synth.clip_file import write_frames

    scenery = cv2.resize(picture(), (320, 180))
    frames = [np.repeat(scenery[..., None], 3, axis=2) for _ in range(6)]
    cv2.circle(frames[4], (100, 60), 4, (0.1, 0.1, 0.1), -1)
    media = write_frames(tmp_path / "speck.mkv", frames)
    project = save_project(Project(clips=[Clip(str(media), 6)]), tmp_path / "p.nitrate")
    assert run_cli(["repair", str(project), "--frames", "4", "--spot", "101,59"]) == 0
    (repair,) = load_project(project).clip.repairs
    x, y, w, h = repair.region
    assert (repair.start, repair.end) == (4, 4)
    assert x <= 96 and y <= 56 and x + w >= 105 and y + h >= 65 and w <= 20 and h <= 20
    capsys.readouterr()
    # Frame 3 has no speck there: a one-line error, and the project is left as it was.
    before = project.read_text()
    assert run_cli(["repair", str(project), "--frames", "3", "--spot", "101,59"]) == 1
    assert "no spot of dirt stands out at 101,59 on frame 3" in capsys.readouterr().err
    assert project.read_text() == before
    assert run_cli(["repair", str(project), "--frames", "3-4", "--spot", "101,59"]) == 2
    assert "--spot marks one speck on one frame" in capsys.readouterr().err
