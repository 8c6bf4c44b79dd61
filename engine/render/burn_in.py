"""Burn-in: timecode, frame and shot written into the picture of a review copy.

A client, a curator or a QC sheet refers to a moment of a review copy by its timecode; a
burn-in makes every frame say where it is: the export's timecode and the source frame
number at the bottom left, the shot at the bottom right, white on a dark band so they read
on any picture. Drawn after the framing, at a size that follows the picture's height, so a
small proxy and a 4K master read alike. Masters are never burnt in unless asked.
"""

from __future__ import annotations

import cv2
import numpy as np

TEXT_HEIGHT = 0.035
"""Height of the burnt-in text, as a share of the picture's height."""
MIN_TEXT_PX = 9
"""Smallest text height in pixels: below it, Hershey glyphs stop reading."""
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BAND = 0.65
"""Opacity of the dark band under the text."""


def burn_in(picture: np.ndarray, left: str, right: str = "", top: bool = False) -> np.ndarray:
    """A copy of `picture` (float32 (H, W, 3) RGB, levels 0-1) with `left` written at its
    bottom left and `right` at its bottom right (with `top`, at its top corners)."""
    out = picture.copy()
    height, width = out.shape[:2]
    text_px = max(MIN_TEXT_PX, round(height * TEXT_HEIGHT))
    scale = cv2.getFontScaleFromHeight(_FONT, text_px, 1)
    thickness = max(1, round(text_px / 12))
    margin = max(2, text_px // 2)
    for text, at_right in ((left, False), (right, True)):
        if not text:
            continue
        (w, h), base = cv2.getTextSize(text, _FONT, scale, thickness)
        x = width - margin - w if at_right else margin
        y = margin + h if top else height - margin - base
        x0, y0 = max(0, x - margin // 2), max(0, y - h - margin // 2)
        x1, y1 = min(width, x + w + margin // 2), min(height, y + base + margin // 2)
        out[y0:y1, x0:x1] *= 1.0 - _BAND
        # OpenCV draws text on 8-bit pictures only: the glyphs' coverage is drawn on an
        # 8-bit mask of the band and laid over the float picture in white.
        ink = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.putText(ink, text, (x - x0, y - y0), _FONT, scale, 255, thickness, cv2.LINE_AA)
        cover = ink.astype(np.float32)[..., None] / 255.0
        band = out[y0:y1, x0:x1]
        out[y0:y1, x0:x1] = band * (1.0 - cover) + cover
    return out
