"""Editing a clip's shot list by hand: split, merge, move a boundary.

Cut detection is good, not perfect: a restorer splits a shot at a cut it missed, merges two
shots it split at a flash frame, or moves a boundary by a frame. These are pure functions:
they validate, return a new list of new `Shot`s covering the clip exactly as before, and
leave the clip untouched (the UI wraps each in an undoable command that swaps the lists).
Frames are 0-based clip indices; a shot's `end` is inclusive.

Recipes are immutable and shared between the halves of a split; keyframes are at absolute
clip frames, so they stay where they were on the timeline.
"""

from __future__ import annotations

import dataclasses

from engine.errors import ProjectError
from engine.project.model import Clip, Shot


def _copies(shots: list[Shot]) -> list[Shot]:
    # Fresh objects: the old list (kept by the undo stack) must not change with the new one.
    return [dataclasses.replace(s) for s in shots]


def _check_index(clip: Clip, index: int, what: str) -> None:
    if isinstance(index, bool) or not isinstance(index, int) or \
            not 0 <= index < len(clip.shots):
        raise ProjectError(clip.path, f"cannot {what}: there is no shot {index!r} "
                           f"(shots 0-{len(clip.shots) - 1})")


def split_shot(clip: Clip, frame: int) -> list[Shot]:
    """Shots with the shot containing `frame` split so that `frame` is the first frame of a
    new shot. Both halves keep the recipe, the reviewed mark and the note."""
    if isinstance(frame, bool) or not isinstance(frame, int) or \
            not 0 <= frame < clip.frame_count:
        raise ProjectError(clip.path, f"cannot split at frame {frame!r}: it is outside the "
                           f"clip (0-{clip.frame_count - 1})")
    index = clip.shot_index_at(frame)
    shot = clip.shots[index]
    if frame == shot.start:
        raise ProjectError(clip.path, f"cannot split at frame {frame}: a shot already starts "
                           "there")
    shots = _copies(clip.shots)
    first = dataclasses.replace(shot, end=frame - 1)
    second = dataclasses.replace(shot, start=frame)
    shots[index:index + 1] = [first, second]
    return shots


def merge_shots(clip: Clip, index: int) -> list[Shot]:
    """Shots with shot `index` and the next one merged into one, which keeps the first's
    recipe and note; it counts as reviewed only when both were."""
    _check_index(clip, index, "merge")
    if index == len(clip.shots) - 1:
        raise ProjectError(clip.path, f"cannot merge shot {index}: it is the last shot, there "
                           "is no next shot to merge it with")
    a, b = clip.shots[index], clip.shots[index + 1]
    shots = _copies(clip.shots)
    shots[index:index + 2] = [dataclasses.replace(a, end=b.end,
                                                  reviewed=a.reviewed and b.reviewed)]
    return shots


def move_boundary(clip: Clip, index: int, new_start: int) -> list[Shot]:
    """Shots with shot `index` starting at `new_start`; the previous shot ends just before
    it (it grows or shrinks). Each keeps at least one frame."""
    _check_index(clip, index, "move a boundary")
    if index == 0:
        raise ProjectError(clip.path, "cannot move the start of the first shot: it always "
                           "starts at frame 0")
    prev, shot = clip.shots[index - 1], clip.shots[index]
    if isinstance(new_start, bool) or not isinstance(new_start, int) or \
            not prev.start < new_start <= shot.end:
        raise ProjectError(clip.path, f"cannot start shot {index} at frame {new_start!r}: it "
                           f"must lie within {prev.start + 1}-{shot.end} so both shots keep "
                           "at least one frame")
    shots = _copies(clip.shots)
    shots[index - 1] = dataclasses.replace(prev, end=new_start - 1)
    shots[index] = dataclasses.replace(shot, start=new_start)
    return shots
