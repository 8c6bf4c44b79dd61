"""Editing shots by hand: split, merge, move a boundary; recipes follow the new boundaries."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import ProjectError
from engine.pipeline import Evaluator
from engine.project import Clip, Recipe, Shot, Step
from engine.project.shot_edit import merge_shots, move_boundary, split_shot

BRIGHTER = Recipe.of([Step.create("color", {"exposure": 1.0})])


class LevelSource:
    """Frame i is a flat grey of level i/100, so any mixing of frames is visible."""

    def read(self, index: int) -> np.ndarray:
        return np.full((6, 8, 3), index / 100, np.float32)


def level(frame: np.ndarray) -> float:
    return float(frame.mean()) * 100


def clip() -> Clip:
    return Clip(path="reel.mov", frame_count=100,
                shots=[Shot(0, 39, note="a"), Shot(40, 99, recipe=BRIGHTER, reviewed=True)],
                default_recipe=Recipe.of([Step.create("temporal_average", {"radius": 2})]))


def spans(shots: list[Shot]) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in shots]


def test_split_makes_the_frame_the_first_of_a_new_shot_keeping_the_recipe() -> None:
    c = clip()
    shots = split_shot(c, 60)
    assert spans(shots) == [(0, 39), (40, 59), (60, 99)]
    assert shots[1].recipe is BRIGHTER and shots[2].recipe is BRIGHTER
    assert shots[2].reviewed and shots[0].note == "a"
    assert spans(c.shots) == [(0, 39), (40, 99)]  # the clip itself is untouched
    c.shots = shots
    c.validate()


def test_split_returns_new_shot_objects() -> None:
    c = clip()
    shots = split_shot(c, 10)
    shots[-1].reviewed = False
    assert c.shots[-1].reviewed  # the undo stack's old list is not changed through the new


@pytest.mark.parametrize(("frame", "message"), [
    (40, "a shot already starts there"), (0, "a shot already starts there"),
    (100, "outside the clip"), (-1, "outside the clip"), (True, "outside the clip"),
])
def test_bad_splits_are_refused(frame, message) -> None:
    with pytest.raises(ProjectError, match=message) as info:
        split_shot(clip(), frame)
    assert str(info.value).startswith("reel.mov: cannot split")


def test_merge_keeps_the_first_recipe_and_needs_a_next_shot() -> None:
    c = clip()
    c.shots = split_shot(c, 70)
    merged = merge_shots(c, 1)
    assert spans(merged) == [(0, 39), (40, 99)] and merged[1].recipe is BRIGHTER
    merged = merge_shots(c, 0)
    assert spans(merged) == [(0, 69), (70, 99)] and merged[0].recipe is None
    assert not merged[0].reviewed  # only one of the two had been reviewed
    with pytest.raises(ProjectError, match="last shot"):
        merge_shots(c, 2)
    with pytest.raises(ProjectError, match="no shot 5"):
        merge_shots(c, 5)


def test_move_boundary_grows_and_shrinks_the_neighbour() -> None:
    c = clip()
    assert spans(move_boundary(c, 1, 30)) == [(0, 29), (30, 99)]
    assert spans(move_boundary(c, 1, 99)) == [(0, 98), (99, 99)]
    assert spans(move_boundary(c, 1, 1)) == [(0, 0), (1, 99)]


@pytest.mark.parametrize(("index", "start", "message"), [
    (0, 5, "first shot"), (1, 0, "within 1-99"), (1, 100, "within 1-99"), (2, 50, "no shot 2"),
])
def test_bad_boundary_moves_are_refused(index, start, message) -> None:
    with pytest.raises(ProjectError, match=message):
        move_boundary(clip(), index, start)


def test_recipes_and_windows_follow_a_moved_boundary() -> None:
    c = clip()
    c.shots = move_boundary(c, 1, 30)
    ev = Evaluator(LevelSource())
    plan = c.plan()
    # Frame 30 now opens the brighter shot: its own recipe, not the default's average.
    assert level(ev.evaluate(30, plan).restored) == pytest.approx(60.0, abs=1e-3)
    # Frame 29 ends the first shot: the average of 27, 28, 29 only (never 30 or 31).
    assert level(ev.evaluate(29, plan).restored) == pytest.approx(28.0, abs=1e-3)
    c.shots = split_shot(c, 50)
    c.shots[2].recipe = None  # the second half back on the default recipe
    plan = c.plan()
    assert level(ev.evaluate(49, plan).restored) == pytest.approx(98.0, abs=1e-3)
    assert level(ev.evaluate(50, plan).restored) == pytest.approx(51.0, abs=1e-3)  # 50..52
