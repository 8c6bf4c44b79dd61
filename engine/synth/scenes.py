"""Generated clean scenes: textured, moving, deterministic test footage.

Restoration operators must be tested on footage that looks like footage: fine texture they
could mistake for dust or grain, edges that a careless filter blurs, a camera that pans
(so "the same pixel" is not the same content from frame to frame) and objects that move
fast (so a temporal filter that ignores motion smears them). Flat colour fields would hide
every one of those failures.

All frames are float32 (height, width, 3), RGB, levels 0-1, kept within about 0.06-0.94
so synthetic damage (dark dirt, bright dust, flicker) stays visible and is not clipped.
Speeds are given for a 320-pixel-wide frame and scaled with the width, so a scene looks
the same at every size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MOTIONS = ("pan+objects", "pan", "objects", "none")

# Levels the scene is squeezed into: headroom for bright dust and footroom for dark dirt.
_LOW, _HIGH = 0.06, 0.94
# Reference width for speeds: "up to ~8 px/frame at 320 px wide".
_REF_WIDTH = 320.0


def _noise_field(rng: np.random.Generator, width: int, height: int, cell: float) -> np.ndarray:
    """Smooth value noise (mean ~0, unit-ish range) with features about `cell` pixels big."""
    gw = max(2, int(np.ceil(width / cell)) + 2)
    gh = max(2, int(np.ceil(height / cell)) + 2)
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)


def texture(rng: np.random.Generator, width: int, height: int, scale: float = 1.0) -> np.ndarray:
    """Colour texture (height, width, 3) in levels 0-1: multi-scale noise, a gradient, edges.

    `scale` multiplies the feature sizes (pixels); octaves from ~2 px to ~1/3 of the frame
    give both the fine detail a dust detector must not eat and the broad shading of a set.
    """
    octaves = [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]
    # Fine octaves weaker than coarse ones: a 1/f-like spectrum, as in natural images.
    weights = [0.10, 0.14, 0.20, 0.28, 0.36, 0.45, 0.55]
    luma = np.zeros((height, width), np.float32)
    for cell, w in zip(octaves, weights, strict=True):
        luma += w * _noise_field(rng, width, height, cell * scale)
    chroma = np.stack(
        [_noise_field(rng, width, height, 48.0 * scale) for _ in range(2)], axis=-1
    )
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    ramp = (np.cos(angle) * xx / max(width, 1) + np.sin(angle) * yy / max(height, 1)) * 0.6
    luma = luma / (np.std(luma) + 1e-6) * 0.12 + 0.5 + ramp - ramp.mean()

    # Base colour plus two chroma fields mixed in through a random matrix.
    base = rng.uniform(0.3, 0.7, size=3).astype(np.float32)
    mix = rng.normal(0.0, 0.05, size=(2, 3)).astype(np.float32)
    img = luma[..., None] * (base / base.mean()) + chroma @ mix

    # Hard edges: rectangles, lines and discs of distinct tones, as in sets and signage.
    n_shapes = max(3, int(width * height / 6000))
    for _ in range(n_shapes):
        tone = tuple(float(v) for v in rng.uniform(0.1, 0.9, size=3))
        kind = rng.integers(0, 3)
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(max(3, width // 40), max(4, width // 8)))
        if kind == 0:
            cv2.rectangle(img, (x0, y0), (x0 + size, y0 + size // 2), tone, -1, cv2.LINE_AA)
        elif kind == 1:
            x1, y1 = int(rng.integers(0, width)), int(rng.integers(0, height))
            thick = int(rng.integers(1, 4))
            cv2.line(img, (x0, y0), (x1, y1), tone, thick, cv2.LINE_AA)
        else:
            cv2.circle(img, (x0, y0), size // 2, tone, -1, cv2.LINE_AA)
    # Shapes carry a little of the noise too, so no region is perfectly flat.
    img += 0.04 * _noise_field(rng, width, height, 3.0 * scale)[..., None]
    return np.clip(img, _LOW, _HIGH).astype(np.float32)


@dataclass(frozen=True)
class _Sprite:
    rgb: np.ndarray        # (h, w, 3) levels 0-1
    alpha: np.ndarray      # (h, w) 0-1, soft edge
    start: tuple[float, float]   # position of the sprite's top-left at frame 0 (pixels)
    velocity: tuple[float, float]  # pixels per frame


def _make_sprite(rng: np.random.Generator, width: int, height: int, speed: float) -> _Sprite:
    sw = int(rng.integers(max(6, width // 10), max(8, width // 4)))
    sh = int(rng.integers(max(6, height // 8), max(8, height // 3)))
    rgb = texture(rng, sw, sh, scale=0.5)
    # Tint the object so it stands out from the background.
    rgb = np.clip(rgb * rng.uniform(0.6, 1.4, size=3).astype(np.float32), _LOW, _HIGH)
    alpha = np.zeros((sh, sw), np.float32)
    if rng.random() < 0.5:
        cv2.ellipse(alpha, (sw // 2, sh // 2), (sw // 2 - 1, sh // 2 - 1), 0, 0, 360, 1.0, -1)
    else:
        cv2.rectangle(alpha, (1, 1), (sw - 2, sh - 2), 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 0.8)
    direction = rng.uniform(-0.35, 0.35) + (0.0 if rng.random() < 0.5 else np.pi)
    vx, vy = speed * np.cos(direction), speed * np.sin(direction)
    start = (float(rng.uniform(0, width - sw)), float(rng.uniform(0, max(1, height - sh))))
    return _Sprite(rgb, alpha, start, (float(vx), float(vy)))


def _composite(frame: np.ndarray, sprite: _Sprite, x: float, y: float) -> None:
    """Paint `sprite` with its top-left at subpixel (x, y) onto `frame` in place."""
    h, w = frame.shape[:2]
    m = np.float32([[1, 0, x], [0, 1, y]])
    rgb = cv2.warpAffine(sprite.rgb, m, (w, h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(sprite.alpha, m, (w, h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    a = alpha[..., None]
    frame *= 1.0 - a
    frame += rgb * a


def _wrap(pos: float, extent: int, size: int) -> float:
    """Wrap a sprite coordinate so it re-enters from the other side after leaving."""
    span = extent + size
    return (pos + size) % span - size


def moving_scene(
    n_frames: int, width: int, height: int, *, seed: int = 0, motion: str = "pan+objects"
) -> list[np.ndarray]:
    """Clean frames of a textured scene with a slow camera pan and moving objects.

    n_frames, width, height: frames and pixels. motion: "pan+objects", "pan", "objects" or
    "none". The pan drifts about 0.5-1 px/frame (at 320 px wide) along a gently curving
    path; four objects move at about 1, 2.5, 5 and 8 px/frame, wrapping round the frame.
    Same arguments, same frames (bit for bit).
    """
    if n_frames < 0 or width < 8 or height < 8:
        raise ValueError(f"moving_scene: need n_frames >= 0 and at least 8x8 pixels, got "
                         f"{n_frames} frames of {width}x{height}")
    if motion not in MOTIONS:
        raise ValueError(f"moving_scene: motion must be one of {', '.join(MOTIONS)}, got {motion!r}")
    rng = np.random.default_rng([seed, 0x5CE9E])
    px = width / _REF_WIDTH  # speeds below are for 320 px wide
    pan = "pan" in motion
    objects = "objects" in motion

    pan_speed = rng.uniform(0.5, 1.0) * px if pan else 0.0
    pan_dir = rng.uniform(0, 2 * np.pi)
    # A curving path (heading turns slowly) so the motion is not one pure translation.
    turn = rng.uniform(-0.02, 0.02)
    t = np.arange(n_frames, dtype=np.float64)
    heading = pan_dir + turn * t
    path_x = np.concatenate([[0.0], np.cumsum(pan_speed * np.cos(heading))[:-1]]) if n_frames else t
    path_y = np.concatenate([[0.0], np.cumsum(pan_speed * np.sin(heading))[:-1]]) if n_frames else t
    margin_x = int(np.ceil(np.abs(path_x).max(initial=0.0))) + 2
    margin_y = int(np.ceil(np.abs(path_y).max(initial=0.0))) + 2
    canvas = texture(rng, width + 2 * margin_x, height + 2 * margin_y, scale=max(px, 0.25))

    sprites: list[_Sprite] = []
    if objects:
        for speed in (1.0, 2.5, 5.0, 8.0):
            sprites.append(_make_sprite(rng, width, height, speed * px))

    frames: list[np.ndarray] = []
    for i in range(n_frames):
        # Camera moves by (path_x, path_y): the background moves the opposite way.
        m = np.float32([[1, 0, -(margin_x + path_x[i])], [0, 1, -(margin_y + path_y[i])]])
        frame = cv2.warpAffine(canvas, m, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)
        for s in sprites:
            sh, sw = s.alpha.shape
            x = _wrap(s.start[0] + s.velocity[0] * i, width, sw)
            y = _wrap(s.start[1] + s.velocity[1] * i, height, sh)
            _composite(frame, s, x, y)
        frames.append(np.ascontiguousarray(frame, dtype=np.float32))
    return frames


def static_scene(n_frames: int, width: int, height: int, *, seed: int = 0) -> list[np.ndarray]:
    """Clean textured frames with no motion at all (every frame identical, copies).

    Useful where motion would blur what is being measured (flicker, colour, weave).
    """
    return moving_scene(n_frames, width, height, seed=seed, motion="none")
