"""Our own implementations of the architectures most film restorers use, and the one explicit
list the loader tries in order (nothing registers itself on import).

Each module offers `detect(state) -> bool` (from key names and tensor ranks only; cheap) and
`build(state) -> Built` (hyper-parameters inferred from tensor shapes). Order matters where
layouts could overlap: the most specific test comes first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.models.archs import nafnet, rrdbnet, srvgg
from engine.models.archs.common import Built, StateDict


@dataclass(frozen=True)
class Architecture:
    id: str
    label: str
    detect: Callable[[StateDict], bool]
    build: Callable[[StateDict], Built]


ARCHITECTURES: tuple[Architecture, ...] = (
    Architecture("rrdbnet", "RRDBNet (ESRGAN, Real-ESRGAN)", rrdbnet.detect, rrdbnet.build),
    Architecture("srvgg", "SRVGGNetCompact (Real-ESRGAN compact)", srvgg.detect, srvgg.build),
    Architecture("nafnet", "NAFNet", nafnet.detect, nafnet.build),
)


def detect_architecture(state: StateDict) -> Architecture | None:
    """The first architecture whose layout matches `state`, or None."""
    return next((arch for arch in ARCHITECTURES if arch.detect(state)), None)


def supported_labels() -> str:
    return ", ".join(arch.label for arch in ARCHITECTURES)
