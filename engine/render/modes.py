"""One entry point for the three ways an export can run, shared by the CLI and the render
queue so the same job gives the same file from either:

- plain: one process, one file written under a temporary name (engine.render.export);
- resumable: closed segments in a work folder, continued after a crash (engine.render.resume);
- distributed: chunks on Dask workers, local or on a cluster (engine.distributed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from engine.errors import NitrateError
from engine.render.export import CancelToken, Progress, RenderJob, render


@dataclass(frozen=True)
class ExportMode:
    """How to run an export. `workers` > 0 starts that many local worker processes;
    `cluster` is the address of an existing Dask scheduler; they exclude `resumable`."""

    resumable: bool = False
    workers: int = 0
    cluster: str | None = None
    chunk_frames: int | None = None

    @property
    def distributed(self) -> bool:
        return self.workers > 0 or self.cluster is not None

    def describe(self) -> str:
        if self.cluster:
            return f"on the cluster {self.cluster}"
        if self.workers:
            return f"on {self.workers} local worker{'s' if self.workers != 1 else ''}"
        return "resumable" if self.resumable else ""


PLAIN = ExportMode()


def run_export(job: RenderJob, cancel: CancelToken | None = None,
               mode: ExportMode = PLAIN) -> Iterator[Progress]:
    """Export `job` the way `mode` says, yielding Progress (same contract as `render`)."""
    if mode.distributed:
        if mode.resumable:
            raise NitrateError(f"{job.output}: a resumable export cannot be distributed")
        from engine.distributed import DEFAULT_CHUNK_FRAMES, connect, render_distributed

        with connect(mode.cluster, mode.workers or None) as client:
            yield from render_distributed(job, client, cancel,
                                          mode.chunk_frames or DEFAULT_CHUNK_FRAMES)
        return
    if mode.resumable:
        from engine.render.resume import render_resumable

        yield from render_resumable(job, cancel)
        return
    yield from render(job, cancel)
