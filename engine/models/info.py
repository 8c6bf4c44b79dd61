"""What a loaded model is, in words a user understands (shown by the Inspector and the CLI).

Kept free of torch so the UI can hold and display it without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelInfo:
    """Description of a model file.

    path:            the file it was read from.
    architecture:    e.g. "RRDBNet (ESRGAN)", "SRVGGNetCompact", "NAFNet", "SwinIR".
    purpose:         "super-resolution", "restoration", "colourisation", "face restoration".
    scale:           output size / input size (1 for restoration models).
    input_channels:  1 (grey), 3 (RGB) or 4 (RGBA).
    output_channels: channels the network produces.
    parameters:      number of learned parameters.
    backend:         "nitrate" (our own implementation) or "spandrel".
    multiple_of:     input sides are padded to a multiple of this (pixels) before inference.
    supports_half:   fp16 is safe (GPU); bfloat16 likewise for `supports_bfloat16`.
    details:         architecture hyper-parameters inferred from the file, as (name, value).
    """

    path: str
    architecture: str
    purpose: str
    scale: int
    input_channels: int
    output_channels: int
    parameters: int
    backend: str = "nitrate"
    multiple_of: int = 1
    supports_half: bool = True
    supports_bfloat16: bool = True
    details: tuple[tuple[str, str], ...] = ()

    @property
    def parameters_text(self) -> str:
        """Parameter count for people: "16.7 M", "1.2 k"."""
        n = self.parameters
        if n >= 1_000_000:
            return f"{n / 1_000_000:.1f} M"
        if n >= 1_000:
            return f"{n / 1_000:.1f} k"
        return str(n)

    def summary(self) -> str:
        """One line: "RRDBNet (ESRGAN) · 4× super-resolution · RGB → RGB · 16.7 M parameters"."""
        return (
            f"{self.architecture} · {self.scale}× {self.purpose} · "
            f"{_channels(self.input_channels)} → {_channels(self.output_channels)} · "
            f"{self.parameters_text} parameters"
        )

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for a property table, most useful first."""
        rows = [
            ("Architecture", self.architecture),
            ("Purpose", self.purpose),
            ("Scale", f"{self.scale}×"),
            ("Channels", f"{_channels(self.input_channels)} → {_channels(self.output_channels)}"),
            ("Parameters", self.parameters_text),
        ]
        rows.extend(self.details)
        rows.append(("Loaded by", self.backend))
        return rows


def _channels(n: int) -> str:
    return {1: "grey", 3: "RGB", 4: "RGBA"}.get(n, f"{n} channels")
