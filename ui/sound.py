"""The clip's sound, heard while the picture plays: to check sync by ear (a clapper, lips,
a door), and to hear a splice's click before it is exported.

`SoundPlayer` follows a PlaybackController. Sound plays only while the picture plays
forwards at the clip's rate: shuttling (J/L at 2× and more, or backwards), pausing and
muting stop it; a seek while playing starts it again from the new frame. It starts with
the first frame the picture shows, at that frame's time, moved by the clip's sound sync
exactly as an export moves it, and it is mixed to stereo at the device's rate
(`engine.media.audio.AudioFeed`), at the volume set (View ▸ Volume, a gain on the samples
themselves, so any device plays it alike).

While the sound plays, it is the picture's clock (`clock`, given to
`PlaybackController.set_clock`): the picture waits for a device that is slow to start and
never runs ahead of what is heard. When the restored frames come slower than the clip's
rate (a heavy recipe, not cached), the picture falls behind the sound; once it is
`LAG_FRAMES` behind, the sound stops for this run of playback, and the status bar says why
and what helps (Render ▸ Cache for playback): sound out of step would be worse than none.
A device that has not started playing after `START_TIMEOUT_S` is given up the same way.

The device is behind `SoundOutput` (Qt Multimedia's QAudioSink in `QtSoundOutput`), so
the tests can hear through a fake one. With no sound device (a server, CI), playback
goes on silently and the status bar says so once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from engine.errors import NitrateError
from engine.media.audio import AudioFeed, AudioSource, interleaved_pcm16
from ui.playback import PlaybackController

LAG_FRAMES = 3
"""How many frames the picture may fall behind the sound before the sound stops."""

FEED_INTERVAL_MS = 20
"""How often the device's buffer is topped up (milliseconds)."""

BUFFER_SECONDS = 0.25
"""Sound handed to the device ahead of what it plays (seconds): enough to ride out a busy
GUI thread, little enough that a stop is heard at once."""

SAMPLE_BYTES = 2
"""Bytes per sample: 16-bit PCM, what every sound device takes."""

START_TIMEOUT_S = 4.0
"""How long (seconds) a device may take to start playing (a sound server resuming a
suspended output can take two) before the sound is given up for this run, so that the
picture, which waits for it, goes on."""


class SoundOutput(Protocol):
    """A sound device taking interleaved 16-bit PCM."""

    def open(self, sample_rate: int, channels: int) -> str:
        """Start a stream of that format; "" when playing, else why not (one line)."""

    def free_bytes(self) -> int:
        """Bytes the device takes now without blocking."""

    def write(self, data: bytes) -> int:
        """Hand `data` over; returns the bytes taken."""

    def played_seconds(self) -> float:
        """Seconds of sound played since `open`."""

    def close(self) -> None:
        """Stop at once, dropping what is buffered."""


@dataclass(frozen=True)
class ClipSound:
    """Where a clip's sound comes from: its media file, the picture's rate (frames per
    second) and the clip's sound sync (seconds the sound is moved later)."""

    path: Path
    fps: Fraction
    offset: float = 0.0


class SoundPlayer(QObject):
    """Plays a clip's sound with a PlaybackController (module docstring).

    `source` gives the clip's sound when playback starts (None: the clip has none), so a
    new clip or a new sound sync is taken up at the next play. Signals: message(str), a
    line for the status bar.
    """

    message = Signal(str)

    def __init__(self, playback: PlaybackController, source: Callable[[], ClipSound | None],
                 output: SoundOutput | None = None, parent: QObject | None = None,
                 sample_rate: int = 48000, channels: int = 2) -> None:
        super().__init__(parent)
        self.playback = playback
        self.source = source
        self.output: SoundOutput = output if output is not None else QtSoundOutput()
        self.sample_rate, self.channels = sample_rate, channels
        self.enabled = True
        self.volume = 1.0  # gain on the clip's sound, 0-1
        self._feed: AudioFeed | None = None
        self._start_frame = 0
        self._opened_at = 0.0  # time.monotonic() when the device was opened
        self._fps = Fraction(24)
        self._armed = False  # playing: start with the next frame shown
        self._held = False  # stopped for this run of playback (lag, no device)
        self._said_no_device = False
        self._timer = QTimer(self)
        self._timer.setInterval(FEED_INTERVAL_MS)
        self._timer.timeout.connect(self._top_up)
        playback.playing_changed.connect(self._playing_changed)
        playback.frame_shown.connect(self._frame_shown)
        # A click or drag on the timeline while playing: the sound follows from there.
        playback.timeline.seek_requested.connect(self._sought)

    @property
    def playing(self) -> bool:
        return self._feed is not None

    def set_enabled(self, enabled: bool) -> None:
        """Sound on (heard from the next frame shown while playing) or off (at once)."""
        self.enabled = enabled
        if not enabled:
            self._stop()
        elif self.playback.playing:
            self._armed, self._held = True, False

    def set_volume(self, volume: float) -> None:
        """The gain (0-1, clipped) the sound is heard at, from the next block handed to the
        device (within BUFFER_SECONDS). 0 is silence, while the picture keeps the sound's
        clock."""
        self.volume = min(1.0, max(0.0, float(volume)))

    def close(self) -> None:
        """Stop and let the device go (the window closes)."""
        self._stop()

    @property
    def start_frame(self) -> int:
        """The frame the sound last started at."""
        return self._start_frame

    def position(self) -> float:
        """The frame (fractional) the sound has reached, on the picture's timeline."""
        return self._start_frame + self.output.played_seconds() * float(self._fps)

    def clock(self) -> float | None:
        """`position()` while the sound plays, else None: the picture's clock
        (`PlaybackController.set_clock`)."""
        return self.position() if self._feed is not None else None

    # -- following the picture -----------------------------------------------------------
    def _playing_changed(self, playing: bool) -> None:
        self._stop()
        self._armed, self._held = playing, False

    def _sought(self, _index: int) -> None:
        if self.playback.playing:
            self._stop()
            self._armed, self._held = True, False

    def _frame_shown(self, index: int) -> None:
        if not self.playback.playing:
            return
        if self.playback.speed != 1:  # shuttling: no sound at 2×, 4× or backwards
            self._stop()
            self._armed = True
            return
        if self._feed is None:
            if self._armed and not self._held and self.enabled:
                self._start(index)
            return
        if index < self.position() - LAG_FRAMES:
            self._stop()
            self._held = True
            self.message.emit("Sound off: the restored frames play slower than the clip's "
                              "rate (Render ▸ Cache for playback plays them in time)")

    def _start(self, index: int) -> None:
        self._stop()
        sound = self.source()
        if sound is None:
            self._armed = False
            return
        remaining = (self.playback.frame_count - index) / sound.fps
        try:
            feed = AudioFeed(AudioSource(sound.path, index / sound.fps - sound.offset,
                                         float(remaining)),
                             self.sample_rate, "stereo" if self.channels == 2 else "mono")
        except NitrateError as exc:
            self._held = True
            self.message.emit(f"Sound off: {exc}")
            return
        problem = self.output.open(self.sample_rate, self.channels)
        if problem:
            feed.close()
            self._held = True
            if not self._said_no_device:
                self._said_no_device = True
                self.message.emit(f"Playing without sound: {problem}")
            return
        self._feed, self._start_frame, self._fps = feed, index, sound.fps
        self._opened_at = time.monotonic()
        self._armed = False
        self._top_up()
        self._timer.start()

    def _top_up(self) -> None:
        feed = self._feed
        if feed is None:
            return
        if (self.output.played_seconds() <= 0.0
                and time.monotonic() - self._opened_at > START_TIMEOUT_S):
            self._stop()
            self._held = True
            self.message.emit("Sound off: the sound device did not start playing")
            return
        frame_bytes = SAMPLE_BYTES * self.channels
        ahead = int(BUFFER_SECONDS * self.sample_rate) * frame_bytes
        want = min(self.output.free_bytes(), ahead) // frame_bytes
        if want <= 0:
            return
        block = feed.read(want)
        if block.shape[1]:
            if self.volume < 1.0:  # in the samples: any device, the same loudness curve
                block = block * self.volume
            self.output.write(interleaved_pcm16(block).astype("<i2", copy=False).tobytes())

    def _stop(self) -> None:
        self._timer.stop()
        feed, self._feed = self._feed, None
        if feed is not None:
            feed.close()
            self.output.close()


class QtSoundOutput:
    """The system's default sound device, through Qt Multimedia's QAudioSink (push mode)."""

    def __init__(self) -> None:
        self._sink = None
        self._device = None

    def open(self, sample_rate: int, channels: int) -> str:
        self.close()
        try:
            from PySide6.QtMultimedia import QAudioFormat, QAudioSink, QMediaDevices
        except ImportError:
            return "Qt Multimedia is not installed (PySide6-Addons)"
        device = QMediaDevices.defaultAudioOutput()
        if device.isNull():
            return "no sound device"
        fmt = QAudioFormat()
        fmt.setSampleRate(sample_rate)
        fmt.setChannelCount(channels)
        fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
        if not device.isFormatSupported(fmt):
            return f"{device.description()} cannot play {sample_rate} Hz 16-bit sound"
        sink = QAudioSink(device, fmt)
        sink.setBufferSize(int(BUFFER_SECONDS * sample_rate) * SAMPLE_BYTES * channels)
        self._device = sink.start()
        if self._device is None:
            return f"{device.description()} cannot be opened"
        self._sink = sink
        return ""

    def free_bytes(self) -> int:
        return int(self._sink.bytesFree()) if self._sink is not None else 0

    def write(self, data: bytes) -> int:
        if self._device is None:
            return 0
        return int(self._device.write(data))

    def played_seconds(self) -> float:
        return self._sink.processedUSecs() / 1e6 if self._sink is not None else 0.0

    def close(self) -> None:
        if self._sink is not None:
            self._sink.stop()
        self._sink = self._device = None
