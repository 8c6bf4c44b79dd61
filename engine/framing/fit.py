"""Framing: the picture area of a scan, cut out and fitted to a delivery size.

A film scan holds more than the picture: the gate's dark or clear surround, frame lines,
perforations, the optical soundtrack of a full-aperture scan. A master keeps the picture
area (the crop, in source pixels) and delivers it at a set size (1920×1080, 2048×1556, …),
fitted one of three ways:

- "fit": scaled to fit inside the size, shape kept; the rest is black (pillar- or
  letterbox), so no picture is lost;
- "fill": scaled to fill the size, shape kept; the excess is cut equally from both sides;
- "stretch": scaled to the size exactly (desqueezing an anamorphic scan).

Framing is applied to the restored frame, after every operator, by every export mode and
by stills: the operators see the whole scan (the stabiliser moves picture in from beyond
the crop, and a cut-away surround would read as the frame's edge). Scaling down uses pixel
area averaging (no aliasing on a 4K to HD reduction); scaling up uses bicubic
interpolation, clamped to the 0-1 levels it overshoots.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FITS = ("fit", "fill", "stretch")
MIN_PICTURE = 16
"""Smallest picture a crop may leave, and smallest output side (pixels)."""
MAX_SIZE = 16384
"""Largest output side (pixels): beyond every delivery format, and what encoders take."""

Box = tuple[float, float, float, float]
"""(x, y, width, height), pixels."""


@dataclass(frozen=True)
class Framing:
    """How an export frames the picture.

    crop: pixels cut from the (left, top, right, bottom) edges of the source frame.
    size: the output's (width, height) in pixels; None keeps the cropped picture's size.
    fit:  how the cropped picture meets `size`: "fit", "fill" or "stretch" (module
          docstring); unused without a size.
    """

    crop: tuple[int, int, int, int] = (0, 0, 0, 0)
    size: tuple[int, int] | None = None
    fit: str = "fit"

    @property
    def identity(self) -> bool:
        """True when the framing leaves every frame as it is."""
        return not any(self.crop) and self.size is None

    def invalid(self) -> str | None:
        """What is wrong with this framing whatever the source (one line), or None."""
        if len(self.crop) != 4 or not all(_is_int(v) and v >= 0 for v in self.crop):
            return "the crop must be four whole numbers of pixels, 0 or more"
        if self.size is not None and (len(self.size) != 2 or not all(
                _is_int(v) and MIN_PICTURE <= v <= MAX_SIZE for v in self.size)):
            return (f"the output size must be two whole numbers of pixels from "
                    f"{MIN_PICTURE} to {MAX_SIZE}")
        if self.fit not in FITS:
            return f"the fit must be one of {', '.join(FITS)}, not {self.fit!r}"
        return None

    def problem(self, width: int, height: int) -> str | None:
        """Why this framing cannot frame a width × height source (one line), or None."""
        invalid = self.invalid()
        if invalid is not None:
            return invalid
        left, top, right, bottom = self.crop
        if width - left - right < MIN_PICTURE or height - top - bottom < MIN_PICTURE:
            return (f"the crop {left},{top},{right},{bottom} (left, top, right, bottom) "
                    f"leaves less than {MIN_PICTURE}x{MIN_PICTURE} pixels of the "
                    f"{width}x{height} picture")
        return None

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) in pixels of the framed output of a width × height source."""
        if self.size is not None:
            return self.size
        left, top, right, bottom = self.crop
        return width - left - right, height - top - bottom

    def source_box(self, width: int, height: int) -> Box:
        """The part of a width × height source that reaches the output, in source pixels:
        the crop, less what "fill" cuts from its sides."""
        left, top, right, bottom = self.crop
        box_w, box_h = width - left - right, height - top - bottom
        if self.size is None or self.fit != "fill":
            return float(left), float(top), float(box_w), float(box_h)
        out_w, out_h = self.size
        if box_w * out_h > out_w * box_h:  # wider than the output: cut the sides
            kept = box_h * out_w / out_h
            return left + (box_w - kept) / 2, float(top), kept, float(box_h)
        kept = box_w * out_h / out_w
        return float(left), top + (box_h - kept) / 2, float(box_w), kept

    def picture_box(self, width: int, height: int) -> Box:
        """Where the picture lands in the output (output pixels): all of it but for the
        black bars of "fit"."""
        out_w, out_h = self.output_size(width, height)
        if self.size is None or self.fit != "fit":
            return 0.0, 0.0, float(out_w), float(out_h)
        _, _, box_w, box_h = self.source_box(width, height)
        scale = min(out_w / box_w, out_h / box_h)
        pic_w, pic_h = box_w * scale, box_h * scale
        return (out_w - pic_w) / 2, (out_h - pic_h) / 2, pic_w, pic_h

    def to_json(self) -> dict[str, object]:
        """The framing as JSON data (projects, resumable exports' fingerprints)."""
        return {"crop": list(self.crop), "size": None if self.size is None else list(self.size),
                "fit": self.fit}

    @classmethod
    def from_json(cls, value: object) -> Framing:
        """The framing of `to_json`'s data; ValueError (one line) for anything else. Whether
        the crop leaves enough of a source is checked where its size is known."""
        if not isinstance(value, dict):
            raise ValueError("the framing must be an object")
        crop, size = value.get("crop", [0, 0, 0, 0]), value.get("size")
        if not isinstance(crop, list) or (size is not None and not isinstance(size, list)):
            raise ValueError("the crop and the size must be lists of pixels")
        framing = cls(crop=tuple(crop), size=None if size is None else tuple(size),
                      fit=value.get("fit", "fit"))
        invalid = framing.invalid()
        if invalid is not None:
            raise ValueError(invalid)
        return framing

    def describe(self, width: int, height: int) -> str:
        """One line for logs and reports, e.g. "crop 40,0,40,0 px → 1920x1080 (fit)"."""
        if self.identity:
            return "the whole frame"
        out_w, out_h = self.output_size(width, height)
        parts = []
        if any(self.crop):
            parts.append("crop {},{},{},{} px".format(*self.crop))
        parts.append(f"{out_w}x{out_h}" + (f" ({self.fit})" if self.size is not None else ""))
        return " → ".join(parts)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _whole(box: Box) -> tuple[int, int, int, int]:
    """`box` rounded to whole pixels, at least one pixel each way."""
    x, y, w, h = box
    x0, y0 = round(x), round(y)
    return x0, y0, max(1, round(x + w) - x0), max(1, round(y + h) - y0)


def apply_framing(picture: np.ndarray, framing: Framing,
                  source_size: tuple[int, int] | None = None) -> np.ndarray:
    """`picture` (float32 (H, W, 3) RGB, levels 0-1) framed by `framing`.

    `source_size` is the (width, height) in pixels of the source the crop was set on; a
    picture of another size (a recipe that upscales) has the crop scaled to it. The output
    has `framing.output_size` of the source, scaled the same way when no size is set.
    """
    height, width = picture.shape[:2]
    src_w, src_h = source_size or (width, height)
    if framing.identity:
        return picture
    problem = framing.problem(src_w, src_h)
    if problem is not None:
        raise ValueError(problem)
    sx, sy = width / src_w, height / src_h
    bx, by, bw, bh = framing.source_box(src_w, src_h)
    x, y, w, h = _whole((bx * sx, by * sy, bw * sx, bh * sy))
    cut = picture[y:y + h, x:x + w]
    if framing.size is None:
        return np.ascontiguousarray(cut)
    out_w, out_h = framing.size
    px, py, pw, ph = _whole(framing.picture_box(src_w, src_h))
    scaled = resize_picture(cut, pw, ph)
    if (pw, ph) == (out_w, out_h):
        return scaled
    out = np.zeros((out_h, out_w, 3), np.float32)
    out[py:py + ph, px:px + pw] = scaled
    return out


def resize_picture(picture: np.ndarray, width: int, height: int) -> np.ndarray:
    """`picture` scaled to width × height pixels: by pixel area when it shrinks both ways
    (every source pixel counts, so fine detail does not alias), else bicubic, clamped."""
    h, w = picture.shape[:2]
    if (w, h) == (width, height):
        return np.ascontiguousarray(picture)
    if width <= w and height <= h:
        return cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
    scaled = cv2.resize(picture, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(scaled, 0.0, 1.0, out=scaled)
