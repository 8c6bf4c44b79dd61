"""The sample reel: a short generated "old film" to open when there is nothing else.

`python -m engine.synth.sample_reel OUT.mp4` writes a 7-second, 640x360, 24 fps reel of
five generated shots separated by hard cuts, each with synthetic film damage (dust and
dirt, a scratch, flicker, grain, gate weave, dye fading) and a generated soundtrack (a tone
that changes with every shot, mains hum and the clicks of a worn optical track), encoded as
H.264 + AAC. A JSON file next to it records the true cut frames, so shot detection can be
checked against it.

The committed copy lives in resources/sample_reel/ (see `sample_reel_path()`); regenerate it
with `python -m engine.synth.sample_reel resources/sample_reel/sample_reel.mp4`. It is
written with PyAV directly so it does not depend on the project's media Writer.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path

import av
import numpy as np

from engine.errors import MediaError, NitrateError
from engine.synth.damage import DamageSpec, apply_damage
from engine.synth.scenes import moving_scene

WIDTH, HEIGHT = 640, 360
FPS = 24
SAMPLE_RATE = 48000
# Constant rate factor for H.264: grain is costly to encode; 25 keeps the reel under 2 MB
# while the dust and grain stay visible.
CRF = 25


@dataclass(frozen=True)
class Shot:
    frames: int        # length in frames
    motion: str        # see engine.synth.scenes.MOTIONS
    damage: DamageSpec
    tone_hz: float     # pitch of the shot's soundtrack tone (Hz)


SHOTS: tuple[Shot, ...] = (
    Shot(36, "pan+objects", DamageSpec(dust=220, scratches=1, flicker=0.08, grain=0.02,
                                       weave=1.2, fade=0.35, seed=11), 220.0),
    Shot(30, "objects", DamageSpec(dust=300, flicker=0.12, local_flicker=0.05, grain=0.025,
                                   weave=1.5, fade=0.5, seed=12), 277.2),
    Shot(40, "pan", DamageSpec(dust=160, scratches=2, flicker=0.06, grain=0.02, weave=1.0,
                               fade=0.25, seed=13), 329.6),
    Shot(28, "pan+objects", DamageSpec(dust=400, flicker=0.1, grain=0.03, weave=2.0,
                                       fade=0.6, seed=14), 392.0),
    Shot(34, "objects", DamageSpec(dust=250, scratches=1, flicker=0.09, grain=0.02,
                                   weave=1.2, fade=0.4, seed=15), 440.0),
)


def sample_reel_path() -> Path:
    """Path of the committed sample reel (resources/sample_reel/sample_reel.mp4)."""
    return Path(str(resources.files("resources").joinpath("sample_reel", "sample_reel.mp4")))


def sample_reel_cuts_path() -> Path:
    """Path of the JSON with the committed reel's true cut frames."""
    return sample_reel_path().with_suffix(".json")


def shot_bounds(shots: tuple[Shot, ...] = SHOTS) -> list[tuple[int, int]]:
    """(first, last) frame of every shot, inclusive, 0-based."""
    bounds, start = [], 0
    for s in shots:
        bounds.append((start, start + s.frames - 1))
        start += s.frames
    return bounds


def _soundtrack(shots: tuple[Shot, ...], seed: int = 0) -> np.ndarray:
    """Stereo float32 (2, samples) levels -1..1: one tone per shot, hum and clicks."""
    rng = np.random.default_rng([seed, 0xA0D10])
    parts = []
    phase = 0.0
    for s in shots:
        n = int(round(s.frames * SAMPLE_RATE / FPS))
        t = np.arange(n) / SAMPLE_RATE
        tone = 0.25 * np.sin(phase + 2 * np.pi * s.tone_hz * t)
        phase = float((phase + 2 * np.pi * s.tone_hz * n / SAMPLE_RATE) % (2 * np.pi))
        # A short fade at each end so the cut is heard as a change of tone, not a pop.
        ramp = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)
        parts.append(tone * ramp)
    signal = np.concatenate(parts)
    t = np.arange(len(signal)) / SAMPLE_RATE
    signal += 0.03 * np.sin(2 * np.pi * 50.0 * t)  # mains hum of an old optical track
    signal += 0.01 * rng.standard_normal(len(signal))  # hiss
    clicks = rng.choice(len(signal) - 48, size=int(len(signal) / SAMPLE_RATE * 6), replace=False)
    for c in clicks:
        signal[c:c + 48] += rng.uniform(-0.6, 0.6) * np.exp(-np.arange(48) / 8.0)
    stereo = np.stack([signal, signal * 0.9 + 0.005 * rng.standard_normal(len(signal))])
    return np.clip(stereo, -1.0, 1.0).astype(np.float32)


def _frames(shots: tuple[Shot, ...]) -> Iterator[np.ndarray]:
    for i, s in enumerate(shots):
        clean = moving_scene(s.frames, WIDTH, HEIGHT, seed=100 + i, motion=s.motion)
        yield from apply_damage(clean, s.damage).frames


def write_sample_reel(path: str | Path, shots: tuple[Shot, ...] = SHOTS, crf: int = CRF) -> dict:
    """Generate the reel into `path` (.mp4) and its cut list into `path` with .json.

    Returns the cut list written. Raises MediaError when the file cannot be written.
    """
    path = Path(path)
    total = sum(s.frames for s in shots)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(path), "w") as container:
            video = container.add_stream("libx264", rate=FPS)
            video.width, video.height = WIDTH, HEIGHT
            video.pix_fmt = "yuv420p"
            # Fixed keyframe interval and no scene-cut keyframes: deterministic structure.
            video.options = {"crf": str(crf), "preset": "medium", "g": "48",
                             "sc_threshold": "0", "threads": "1"}
            audio = container.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
            audio.bit_rate = 96000

            for frame in _frames(shots):
                rgb = (np.clip(frame, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
                vf = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                for packet in video.encode(vf):
                    container.mux(packet)
            for packet in video.encode():
                container.mux(packet)

            sound = _soundtrack(shots)
            chunk = 1024  # AAC frame size
            for start in range(0, sound.shape[1], chunk):
                block = np.ascontiguousarray(sound[:, start:start + chunk])
                af = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
                af.sample_rate = SAMPLE_RATE
                af.pts = start
                af.time_base = Fraction(1, SAMPLE_RATE)
                for packet in audio.encode(af):
                    container.mux(packet)
            for packet in audio.encode():
                container.mux(packet)
    except (OSError, av.FFmpegError) as exc:
        raise MediaError(path, f"cannot write the sample reel: {exc}") from None

    bounds = shot_bounds(shots)
    info = {
        "width": WIDTH, "height": HEIGHT, "fps": FPS, "frame_count": total,
        "cuts": [first for first, _ in bounds[1:]],
        "shots": [list(b) for b in bounds],
        "note": "cuts: 0-based index of the first frame of every shot after the first",
    }
    path.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m engine.synth.sample_reel",
        description="Generate Nitrate's sample reel (generated scenes with synthetic damage).")
    parser.add_argument("output", type=Path, help="output .mp4 (a .json of cuts is written next to it)")
    parser.add_argument("--crf", type=int, default=CRF, help=f"H.264 quality (default {CRF})")
    args = parser.parse_args(argv)
    try:
        info = write_sample_reel(args.output, crf=args.crf)
    except NitrateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    size = args.output.stat().st_size
    print(f"{args.output}: {info['frame_count']} frames, {len(info['shots'])} shots, "
          f"{size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
