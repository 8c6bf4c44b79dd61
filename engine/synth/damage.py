"""Synthetic film damage with ground truth, deterministic by seed.

`apply_damage(clean, spec)` turns clean frames (float32 (H, W, 3) RGB, levels 0-1) into
damaged ones and returns what was done: per-frame masks of the pixels dust and scratches
visibly altered, the global flicker (gain, offset) and the weave (dx, dy, angle) of every
frame. Operators are tested and benchmarked against this ground truth.

Order of the stages, and why:

1. **fade**: dye fading is chemistry of the print itself, so it affects the picture before
   anything that happens in the gate or on the scanner.
2. **weave**: the frame's position in the gate (projector, printer or scanner) moves the
   whole picture. Defects after this stage sit where the scanner saw them, so the ground
   truth masks are in the damaged frame's own pixel coordinates, which is what an operator
   is asked to find.
3. **flicker**: exposure and development variations change the picture's brightness. It is
   applied before dirt because opaque dirt and scratches block light whatever the exposure,
   and so that a deflicker operator's target (the clean picture's levels) is unambiguous.
4. **dust and scratches**: dirt, dust on the negative (printed bright), hairs, and line
   scratches, composited with soft alpha over the picture.
5. **grain** last: it is the emulsion structure of the final generation copy and lies over
   everything, defects included, so a dust detector cannot find defects simply because they
   are the only smooth spots in the frame.

Every class of damage draws from its own random stream (seeded by `spec.seed` and the class),
and dust from one stream per frame, so switching one class on or off, or changing the number
of frames, leaves the other classes' damage exactly the same. A benchmark can thus build the
"everything but dust" reference to measure dust removal on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

# Rec. 709 luma weights.
LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
# A pixel counts as altered by a defect when some channel changed by more than this (levels
# 0-1): about 5 of 255 code values, just visible on a flat area.
VISIBLE = 0.02

# Stream identifiers: one independent random stream per damage class.
_FADE, _WEAVE, _FLICKER, _LOCAL, _DUST, _SCRATCH, _GRAIN = range(7)


@dataclass(frozen=True)
class DamageSpec:
    """How much of each kind of damage to apply (0 = none of that kind).

    dust:          defects per megapixel per frame (dust specks, dirt blotches, hairs)
    scratches:     number of vertical line scratches (persist over many frames, drift
                   sideways, bright or dark)
    flicker:       global brightness/contrast flicker amplitude (0.1 = ±10 %)
    local_flicker: regional flicker amplitude (smooth spatial gain field varying per frame)
    grain:         film grain std (levels 0-1) in mid-tones, luminance-dependent, spatially
                   correlated
    weave:         gate weave amplitude in pixels (random translation + small rotation)
    fade:          colour fade 0-1 (loss of saturation, colour cast, raised blacks)
    seed:          random seed; same spec and frames give the same damage bit for bit
    """

    dust: float = 0.0
    scratches: int = 0
    flicker: float = 0.0
    local_flicker: float = 0.0
    grain: float = 0.0
    weave: float = 0.0
    fade: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("dust", "flicker", "local_flicker", "grain", "weave", "fade"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"DamageSpec: {name} must be a finite number >= 0, got {value}")
        if self.scratches < 0:
            raise ValueError(f"DamageSpec: scratches must be >= 0, got {self.scratches}")
        if self.fade > 1:
            raise ValueError(f"DamageSpec: fade must be at most 1, got {self.fade}")


@dataclass
class Damaged:
    """Damaged frames and the ground truth of what was done to them.

    frames:  damaged frames, float32 (H, W, 3) levels 0-1
    masks:   "dust", "scratch": bool (H, W) per frame, pixels that defect visibly altered
             (some channel changed by more than VISIBLE before grain)
    gains:   global flicker (gain, offset) per frame: flickered = gain * picture + offset
    offsets: weave (dx px, dy px, angle deg) per frame: the picture was rotated by `angle`
             (counter-clockwise on screen) about the frame centre, then moved right by dx and
             down by dy
    """

    frames: list[np.ndarray]
    masks: dict[str, list[np.ndarray]] = field(default_factory=dict)
    gains: list[tuple[float, float]] = field(default_factory=list)
    offsets: list[tuple[float, float, float]] = field(default_factory=list)


def _rng(spec: DamageSpec, stream: int, frame: int | None = None) -> np.random.Generator:
    key = [spec.seed, stream] if frame is None else [spec.seed, stream, frame]
    return np.random.default_rng(key)


def _smooth_series(rng: np.random.Generator, n: int, memory: float) -> np.ndarray:
    """Zero-mean unit-std random series; `memory` 0-1 mixes in frame-to-frame correlation."""
    white = rng.standard_normal(n)
    out = np.empty(n)
    state = 0.0
    for i in range(n):
        state = memory * state + np.sqrt(1.0 - memory * memory) * white[i]
        out[i] = state
    return out


# --- fade ---------------------------------------------------------------------------------

def fade_frame(frame: np.ndarray, amount: float) -> np.ndarray:
    """Dye fading of `amount` 0-1: desaturated, shifted towards magenta-red, blacks raised.

    Eastmancolor-era prints lose their cyan and yellow dyes first, which leaves the
    familiar pink-red cast; the base fog raises the blacks and lowers contrast.
    """
    if amount <= 0:
        return frame
    luma = frame @ LUMA
    out = luma[..., None] + (frame - luma[..., None]) * np.float32(1.0 - 0.7 * amount)
    cast = np.array([1.0 + 0.12 * amount, 1.0 - 0.06 * amount, 1.0 - 0.18 * amount], np.float32)
    out = out * cast
    black, white = 0.15 * amount, 1.0 - 0.06 * amount
    out = black + out * (white - black)
    return out.astype(np.float32)


# --- weave --------------------------------------------------------------------------------

def _weave_offsets(spec: DamageSpec, n: int) -> list[tuple[float, float, float]]:
    if spec.weave <= 0:
        return [(0.0, 0.0, 0.0)] * n
    rng = _rng(spec, _WEAVE)
    # Weave is partly a slow sway (perforation wear, gate pressure) and partly frame to
    # frame jitter; the horizontal component is usually the larger.
    dx = 0.6 * _smooth_series(rng, n, 0.6) + 0.4 * rng.standard_normal(n)
    dy = 0.6 * _smooth_series(rng, n, 0.6) + 0.4 * rng.standard_normal(n)
    ang = _smooth_series(rng, n, 0.5)
    a = spec.weave
    return [
        (float(np.clip(x, -2, 2) * a / 1.6), float(np.clip(y, -2, 2) * a / 2.4),
         float(np.clip(r, -2, 2) * 0.02 * a))
        for x, y, r in zip(dx, dy, ang, strict=True)
    ]


def weave_matrix(width: int, height: int, offset: tuple[float, float, float]) -> np.ndarray:
    """2x3 affine matrix mapping clean pixel coordinates to damaged ones for `offset`."""
    dx, dy, angle = offset
    m = cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), angle, 1.0)
    m[0, 2] += dx
    m[1, 2] += dy
    return m


def _weave_frame(frame: np.ndarray, offset: tuple[float, float, float]) -> np.ndarray:
    if offset == (0.0, 0.0, 0.0):
        return frame
    h, w = frame.shape[:2]
    # Reflected borders rather than black: the scan's frame line is not what is measured.
    return cv2.warpAffine(frame, weave_matrix(w, h, offset), (w, h), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REFLECT)


# --- flicker ------------------------------------------------------------------------------

def _flicker_gains(spec: DamageSpec, n: int) -> list[tuple[float, float]]:
    if spec.flicker <= 0:
        return [(1.0, 0.0)] * n
    rng = _rng(spec, _FLICKER)
    # Real flicker jumps from frame to frame with a slower breathing underneath.
    g = 0.7 * rng.standard_normal(n) + 0.7 * _smooth_series(rng, n, 0.8)
    o = 0.5 * rng.standard_normal(n)
    g = np.clip(g, -1.5, 1.5) / 1.5
    o = np.clip(o, -1.5, 1.5) / 1.5
    # Gain ±flicker; an offset of up to 15 % of that moves the black level too, so the
    # contrast flickers as well as the brightness.
    return [(float(1.0 + spec.flicker * gi), float(0.15 * spec.flicker * oi))
            for gi, oi in zip(g, o, strict=True)]


def _local_gain_fields(spec: DamageSpec, n: int, width: int, height: int) -> list[np.ndarray]:
    """Per-frame smooth multiplicative gain fields 1 ± local_flicker (regional flicker)."""
    rng = _rng(spec, _LOCAL)
    # A coarse 3x4 grid, drifting smoothly over time and with new noise every frame, is
    # upsampled to the frame: one part of the picture brightens while another darkens.
    slow = rng.standard_normal((3, 4))
    fields = []
    for _ in range(n):
        slow = 0.7 * slow + np.sqrt(1 - 0.49) * rng.standard_normal((3, 4))
        grid = 0.6 * slow + 0.8 * rng.standard_normal((3, 4))
        grid = np.clip(grid, -1.5, 1.5) / 1.5
        f = cv2.resize(grid.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
        fields.append(1.0 + spec.local_flicker * np.clip(f, -1.0, 1.0))
    return fields


# --- dust, dirt, hairs --------------------------------------------------------------------

def _speck(rng: np.random.Generator) -> np.ndarray:
    """Alpha patch of a round speck, 1-6 px across, soft edged."""
    d = rng.uniform(1.0, 6.0)
    r = int(np.ceil(d)) + 2
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float32)
    dist = np.hypot(xx / rng.uniform(0.7, 1.3), yy)
    return np.clip((d / 2.0 + 0.5 - dist), 0.0, 1.0)


def _blotch(rng: np.random.Generator) -> np.ndarray:
    """Alpha patch of an irregular dirt blotch, 6-30 px across, soft edged."""
    size = rng.uniform(6.0, 30.0)
    r = int(np.ceil(size / 2)) + 3
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float32)
    # Irregular outline: a radius that varies with angle, then a soft threshold.
    theta = np.arctan2(yy, xx)
    radius = np.full_like(theta, size / 2.0)
    for k in (2, 3, 5):
        radius *= 1.0 + rng.uniform(0.0, 0.3 / k) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    dist = np.hypot(xx, yy)
    alpha = np.clip((radius - dist) / 1.5 + 0.5, 0.0, 1.0)
    # Dirt is not uniformly dense.
    density = 0.8 + 0.2 * cv2.resize(rng.random((4, 4)).astype(np.float32), alpha.shape[::-1])
    return alpha * density


def _hair(rng: np.random.Generator) -> np.ndarray:
    """Alpha patch of a hair: a thin curve 10-60 px long, about 1-2 px wide."""
    length = rng.uniform(10.0, 60.0)
    steps = 16
    heading = rng.uniform(0, 2 * np.pi)
    curl = rng.normal(0.0, 0.25, steps)
    pts = [np.zeros(2)]
    for c in curl:
        heading += c
        pts.append(pts[-1] + length / steps * np.array([np.cos(heading), np.sin(heading)]))
    arr = np.array(pts)
    arr -= arr.min(axis=0) - 3
    w, h = (np.ceil(arr.max(axis=0)) + 4).astype(int)
    canvas = np.zeros((h, w), np.float32)
    # Drawn at 4x (shift=2 fractional bits) with anti-aliasing for a soft, subpixel line.
    cv2.polylines(canvas, [np.round(arr * 4).astype(np.int32)], False, 1.0, 1, cv2.LINE_AA,
                  shift=2)
    # Most hairs are finer than a pixel (faint); some are thick enough to be solid.
    return canvas * np.float32(rng.uniform(0.6, 1.0))


def _composite(frame: np.ndarray, alpha: np.ndarray, x: int, y: int, value: np.ndarray) -> None:
    """Blend `value` (3 levels or (h, w, 3)) into `frame` with `alpha` at top-left (x, y)."""
    h, w = frame.shape[:2]
    ph, pw = alpha.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + pw, w), min(y + ph, h)
    if x0 >= x1 or y0 >= y1:
        return
    a = alpha[y0 - y:y1 - y, x0 - x:x1 - x, None]
    v = value if value.ndim == 1 else value[y0 - y:y1 - y, x0 - x:x1 - x]
    region = frame[y0:y1, x0:x1]
    region *= 1.0 - a
    region += a * v


def _dust_frame(frame: np.ndarray, spec: DamageSpec, index: int) -> np.ndarray:
    """Frame `index` with its own dust, dirt and hairs (defects never repeat across frames)."""
    h, w = frame.shape[:2]
    rng = _rng(spec, _DUST, index)
    count = rng.poisson(spec.dust * w * h / 1e6)
    out = frame.copy()
    for _ in range(count):
        kind = rng.random()
        if kind < 0.65:
            alpha = _speck(rng)
        elif kind < 0.9:
            alpha = _blotch(rng)
        else:
            alpha = _hair(rng)
        alpha = alpha * rng.uniform(0.75, 1.0)
        if rng.random() < 0.6:
            # Dirt on the print: opaque, near black, slightly coloured.
            value = rng.uniform(0.02, 0.12) * rng.uniform(0.85, 1.0, 3)
        else:
            # Dust on the negative prints as bright, near white.
            value = 1.0 - rng.uniform(0.0, 0.1) * rng.uniform(0.85, 1.0, 3)
        ph, pw = alpha.shape
        x = int(rng.integers(-pw // 2, w - pw // 2))
        y = int(rng.integers(-ph // 2, h - ph // 2))
        _composite(out, alpha, x, y, value.astype(np.float32))
    return out


# --- scratches ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Scratch:
    start: int         # first frame
    length: int        # frames
    x0: float          # column at the first frame (pixels)
    drift: float       # pixels per frame
    wobble: float      # amplitude of a slow sideways wander (pixels)
    phase: float
    width: float       # pixels (1-3)
    opacity: float     # 0-1, partially transparent
    bright: bool       # emulsion-side scratch on the negative prints bright
    profile_seed: int  # for the along-the-line intensity variation


def _plan_scratches(spec: DamageSpec, n: int, width: int) -> list[_Scratch]:
    rng = _rng(spec, _SCRATCH)
    out = []
    for _ in range(spec.scratches):
        length = int(min(n, rng.integers(20, 80)))
        start = int(rng.integers(0, max(1, n - length + 1)))
        out.append(_Scratch(
            start=start, length=length,
            x0=float(rng.uniform(0.1 * width, 0.9 * width)),
            drift=float(rng.uniform(-0.3, 0.3)),
            wobble=float(rng.uniform(0.0, 1.5)),
            phase=float(rng.uniform(0, 2 * np.pi)),
            width=float(rng.uniform(1.0, 3.0)),
            opacity=float(rng.uniform(0.35, 0.8)),
            bright=bool(rng.random() < 0.5),
            profile_seed=int(rng.integers(0, 2**31)),
        ))
    return out


def _scratch_frame(frame: np.ndarray, scratches: Sequence[_Scratch], index: int) -> np.ndarray:
    h, w = frame.shape[:2]
    out = frame
    for s in scratches:
        t = index - s.start
        if not 0 <= t < s.length:
            continue
        if out is frame:
            out = frame.copy()
        centre = s.x0 + s.drift * t + s.wobble * np.sin(0.15 * t + s.phase)
        # Along the line the scratch is stronger in places and breaks up here and there;
        # the pattern creeps as the film runs, so it is re-drawn from a per-frame seed.
        prof_rng = np.random.default_rng([s.profile_seed, index])
        along = cv2.resize(prof_rng.random((max(2, h // 24), 1)).astype(np.float32), (1, h),
                           interpolation=cv2.INTER_LINEAR)[:, 0]
        along = np.clip(0.4 + 0.9 * along, 0.0, 1.0)
        x_lo = max(int(np.floor(centre - s.width / 2 - 2)), 0)
        x_hi = min(int(np.ceil(centre + s.width / 2 + 2)) + 1, w)
        if x_lo >= x_hi:
            continue
        cols = np.arange(x_lo, x_hi, dtype=np.float32)
        across = np.clip(s.width / 2 + 0.5 - np.abs(cols - centre), 0.0, 1.0)
        alpha = (s.opacity * along[:, None] * across[None, :]).astype(np.float32)
        value = np.float32(0.97 if s.bright else 0.04)
        region = out[:, x_lo:x_hi]
        region *= 1.0 - alpha[..., None]
        region += alpha[..., None] * value
    return out


# --- grain --------------------------------------------------------------------------------

_GRAIN_SIGMA = 0.7  # pixels: grain clumps are ~2 px across
_GRAIN_KSIZE = 5
_GRAIN_RENORM = np.float32(
    1.0 / float(np.sum(cv2.getGaussianKernel(_GRAIN_KSIZE, _GRAIN_SIGMA) ** 2))
)


def _changed(after: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Bool (H, W): pixels where some channel changed by more than VISIBLE."""
    d = cv2.absdiff(after, before)
    return np.maximum(np.maximum(d[..., 0], d[..., 1]), d[..., 2]) > VISIBLE


def grain_frame(frame: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Add film grain with std `amount` (levels 0-1) in mid-tones.

    Grain is clumped (blurred white noise, correlated over ~1-2 px), mostly shared between
    the channels (the dye clouds of the three layers overlap), and strongest in mid-tones:
    std = amount * (0.6 + 1.6 * L * (1 - L)) for luma L, so 0.6 * amount in black and white.
    """
    if amount <= 0:
        return frame
    h, w = frame.shape[:2]
    noise = rng.standard_normal((h, w, 4), dtype=np.float32)
    noise = cv2.GaussianBlur(noise, (_GRAIN_KSIZE, _GRAIN_KSIZE), _GRAIN_SIGMA)
    # Blurring lowers the std by a known factor; undo it so `amount` means what it says.
    noise *= _GRAIN_RENORM
    shared, own = noise[..., :1], noise[..., 1:]
    mixed = 0.8 * shared + 0.6 * own
    luma = np.clip(frame @ LUMA, 0.0, 1.0)
    std = amount * (0.6 + 1.6 * luma * (1.0 - luma))
    return (frame + mixed * std[..., None]).astype(np.float32)


# --- all together -------------------------------------------------------------------------

def apply_damage(clean: Sequence[np.ndarray], spec: DamageSpec) -> Damaged:
    """Damage `clean` frames (float32 (H, W, 3) RGB levels 0-1) as `spec` says.

    Returns the damaged frames (clipped to 0-1, as film and scanners saturate) with the
    ground truth: dust/scratch masks, flicker (gain, offset) and weave (dx, dy, angle) per
    frame. See the module docstring for the order of the stages.
    """
    n = len(clean)
    if n == 0:
        return Damaged([], {"dust": [], "scratch": []}, [], [])
    h, w = clean[0].shape[:2]
    for i, f in enumerate(clean):
        if f.shape != (h, w, 3):
            raise ValueError(f"apply_damage: frame {i} has shape {f.shape}, expected {(h, w, 3)}")

    offsets = _weave_offsets(spec, n)
    gains = _flicker_gains(spec, n)
    local = _local_gain_fields(spec, n, w, h) if spec.local_flicker > 0 else None
    scratches = _plan_scratches(spec, n, w) if spec.scratches > 0 else []
    grain_rng = _rng(spec, _GRAIN)
    none = np.zeros((h, w), bool)

    frames: list[np.ndarray] = []
    dust_masks: list[np.ndarray] = []
    scratch_masks: list[np.ndarray] = []
    for i, src in enumerate(clean):
        f = np.asarray(src, dtype=np.float32)
        f = fade_frame(f, spec.fade)
        f = _weave_frame(f, offsets[i])
        gain, offset = gains[i]
        if (gain, offset) != (1.0, 0.0):
            f = f * np.float32(gain) + np.float32(offset)
        if local is not None:
            f = f * local[i][..., None]
        # Saturation happens in the emulsion before dirt lands on it.
        f = np.clip(f, 0.0, 1.0).astype(np.float32)

        scratched = _scratch_frame(f, scratches, i) if scratches else f
        scratch_masks.append(_changed(scratched, f) if scratched is not f else none.copy())
        dusty = _dust_frame(scratched, spec, i) if spec.dust > 0 else scratched
        dust_masks.append(_changed(dusty, scratched) if dusty is not scratched else none.copy())

        out = grain_frame(dusty, spec.grain, grain_rng)
        frames.append(np.clip(out, 0.0, 1.0).astype(np.float32))
    return Damaged(frames, {"dust": dust_masks, "scratch": scratch_masks}, gains, offsets)
