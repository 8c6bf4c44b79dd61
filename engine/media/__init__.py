"""Media I/O: probe, frame-accurate Readers, the Writer and audio passthrough.

Frames are float32 numpy (height, width, 3) RGB, levels 0-1. See docs/ARCHITECTURE.md
("Media") for the contract.
"""

from engine.media import timecode
from engine.media.audio import AudioSource
from engine.media.info import MAX_PIXELS, MAX_SIDE, AudioStreamInfo, MediaInfo
from engine.media.reader import (
    DEFAULT_SEQUENCE_FPS,
    Reader,
    SequenceReader,
    VideoReader,
    open_reader,
    probe,
)
from engine.media.writer import CODECS, OutputFormat, Writer, output_format_for

__all__ = [
    "CODECS",
    "DEFAULT_SEQUENCE_FPS",
    "MAX_PIXELS",
    "MAX_SIDE",
    "AudioSource",
    "AudioStreamInfo",
    "MediaInfo",
    "OutputFormat",
    "Reader",
    "SequenceReader",
    "VideoReader",
    "Writer",
    "open_reader",
    "output_format_for",
    "probe",
    "timecode",
]
