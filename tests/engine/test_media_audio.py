"""Audio passthrough through Writer + AudioSource: in sync, the range's duration."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from engine.media import AudioSource, Writer, open_reader, output_format_for, probe
from engine.media.writer import sidecar_wav
from engine.synth.index_clip import find_clicks, read_index

RATE = 48000
FPS = Fraction(25)


def _decode_audio(path: Path) -> tuple[np.ndarray, float]:
    """(channels, n) float samples and the first sample's time in seconds."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks, first = [], None
        for frame in container.decode(stream):
            if first is None:
                first = float(frame.pts * frame.time_base)
            arr = frame.to_ndarray()
            if not frame.format.is_planar:
                arr = arr.reshape(-1, len(frame.layout.channels)).T
            scale = {"s16": 32768.0, "s32": 2147483648.0}.get(frame.format.name.rstrip("p"), 1.0)
            chunks.append(arr.astype(np.float64) / scale)
    return np.concatenate(chunks, axis=1), first or 0.0


def _export_range(source: Path, out: Path, start: int, stop: int) -> None:
    with open_reader(source) as reader:
        audio = AudioSource(source, start / FPS, (stop - start) / FPS)
        fmt = output_format_for(out)
        with Writer(out, fmt, 64, 48, reader.info.fps, audio=audio) as writer:
            for frame in reader.frames(start, stop):
                writer.write(frame)


@pytest.mark.parametrize("name", ["range.mov", "range.mkv", "range.mp4"])
def test_ranged_export_keeps_audio_in_sync(index_clip, tmp_path, name):
    source = index_clip("with_audio.mov", codec="h264", frames=50, audio=True,
                        click_frames=(20, 35))
    out = tmp_path / name
    _export_range(source, out, 10, 41)
    info = probe(out)
    assert info.frame_count == 31
    samples, first = _decode_audio(out)
    duration = samples.shape[1] / RATE
    assert abs(duration - 31 / FPS) <= 1 / FPS
    clicks = [first + s / RATE for s in find_clicks(samples, RATE)]
    # Source clicks at frames 20 and 35 land on output frames 10 and 25.
    assert [int(t * FPS + Fraction(1, 1000)) for t in clicks] == [10, 25]
    tolerance = 1e-4 if name != "range.mp4" else 2e-3  # PCM: to the sample; AAC: ringing
    assert clicks[0] == pytest.approx(10 / FPS, abs=tolerance)
    with open_reader(out) as reader:
        assert read_index(reader.read(10)) == 20


def test_image_sequence_gets_a_sidecar_wav(index_clip, tmp_path):
    source = index_clip("with_audio.mov", codec="h264", frames=50, audio=True,
                        click_frames=(20, 35))
    folder = tmp_path / "scans"
    _export_range(source, folder, 15, 40)
    wav = sidecar_wav(folder)
    assert wav == tmp_path / "scans.wav"
    samples, _ = _decode_audio(wav)
    assert samples.shape[1] == 25 * RATE // 25
    assert [round(s / RATE * 25) for s in find_clicks(samples, RATE)] == [5, 20]


def test_range_past_the_audio_end_is_padded_with_silence(index_clip, tmp_path):
    source = index_clip("short_audio.mov", codec="h264", frames=20, audio=True,
                        click_frames=(2,))
    out = tmp_path / "long.mov"
    with Writer(out, output_format_for(out), 64, 48, FPS,
                audio=AudioSource(source, 0.4, 1.0)) as writer:
        with open_reader(source) as reader:
            for i in range(25):
                writer.write(reader.read(min(10 + i, 19)))
    samples, _ = _decode_audio(out)
    assert samples.shape[1] == RATE  # exactly 1.0 s
    assert np.abs(samples[:, int(0.5 * RATE):]).max() == 0.0


def test_audio_is_interleaved_with_video(index_clip, tmp_path):
    source = index_clip("with_audio.mov", codec="h264", frames=50, audio=True,
                        click_frames=(20, 35))
    out = tmp_path / "interleaved.mov"
    _export_range(source, out, 0, 50)
    order = []
    with av.open(str(out)) as container:
        for packet in container.demux():
            if packet.size:
                order.append(packet.stream.type)
    first_audio = order.index("audio")
    assert first_audio < len(order) // 2  # not all appended after the video
