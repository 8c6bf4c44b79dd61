"""FFmpeg's integer colour tags → the names ``ffprobe`` prints ("bt709", "tv", …)."""

from __future__ import annotations

_RANGE = {0: "unknown", 1: "tv", 2: "pc"}
_SPACE = {0: "gbr", 1: "bt709", 2: "unknown", 4: "fcc", 5: "bt470bg", 6: "smpte170m",
          7: "smpte240m", 8: "ycgco", 9: "bt2020nc", 10: "bt2020c"}
_PRIMARIES = {1: "bt709", 2: "unknown", 4: "bt470m", 5: "bt470bg", 6: "smpte170m",
              7: "smpte240m", 8: "film", 9: "bt2020", 10: "smpte428", 11: "smpte431",
              12: "smpte432"}
_TRC = {1: "bt709", 2: "unknown", 4: "gamma22", 5: "gamma28", 6: "smpte170m",
        7: "smpte240m", 8: "linear", 13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12",
        16: "smpte2084", 18: "arib-std-b67"}


def _name(table: dict[int, str], value: int | None) -> str:
    if value is None:
        return "unknown"
    return table.get(int(value), "unknown")


def range_name(value: int | None) -> str:
    """AVColorRange → "tv" (limited), "pc" (full) or "unknown"."""
    return _name(_RANGE, value)


def space_name(value: int | None) -> str:
    """AVColorSpace (YUV matrix) → name."""
    return _name(_SPACE, value)


def primaries_name(value: int | None) -> str:
    """AVColorPrimaries → name."""
    return _name(_PRIMARIES, value)


def trc_name(value: int | None) -> str:
    """AVColorTransferCharacteristic → name."""
    return _name(_TRC, value)
