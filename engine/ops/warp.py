"""One sub-pixel warp of a whole frame, shared by the operators that move the picture
(stabilize's weave correction, reframe's reposition): the frame keeps its size, the strip
the picture uncovers is filled, and what was filled is known for the mask."""

from __future__ import annotations

import cv2
import numpy as np

BORDERS = {
    "reflect": cv2.BORDER_REFLECT_101,
    "replicate": cv2.BORDER_REPLICATE,
    "black": cv2.BORDER_CONSTANT,
}
"""How an uncovered strip is filled: the picture mirrored, its edge repeated, or black."""


def about_centre(m: np.ndarray, width: int, height: int) -> np.ndarray:
    """The 3×3 matrix `m` (defined about the frame's centre) in pixel coordinates of a
    `width` × `height` frame."""
    cx, cy = (width - 1) / 2, (height - 1) / 2
    to_centre = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]])
    from_centre = np.array([[1.0, 0.0, cx], [0.0, 1.0, cy], [0.0, 0.0, 1.0]])
    return from_centre @ m @ to_centre


def warp_frame(frame: np.ndarray, sample: np.ndarray, border: str,
               interpolation: int = cv2.INTER_LINEAR) -> tuple[np.ndarray, np.ndarray]:
    """`frame` resampled through `sample` (2×3: output pixel → where it is read in the
    frame), at the frame's size, the uncovered strip filled the `border` way (BORDERS).
    Returns (picture, inside): `inside` is True where the output shows the frame's picture,
    False where it was filled."""
    h, w = frame.shape[:2]
    out = cv2.warpAffine(frame, sample, (w, h), flags=interpolation | cv2.WARP_INVERSE_MAP,
                         borderMode=BORDERS[border], borderValue=(0.0, 0.0, 0.0))
    # The picture's area in the output is the frame's rectangle mapped forward: a
    # quadrilateral, drawn directly (a full-size warp of a mask would cost as much as the
    # frame's).
    forward = np.linalg.inv(np.vstack([sample, [0.0, 0.0, 1.0]]))[:2]
    rect = np.array([[0.0, 0.0], [w - 1.0, 0.0], [w - 1.0, h - 1.0], [0.0, h - 1.0]])
    quad = rect @ forward[:, :2].T + forward[:, 2]
    inside = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(inside, np.round(quad * 16).astype(np.int32), 1, cv2.LINE_8, 4)
    return out, inside.view(bool)
