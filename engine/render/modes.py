"""One entry point for the three ways an export can run, shared by the CLI and the render
queue so the same job gives the same file from either:

- plain: one process, one file written under a temporary name (engine.render.export);
- resumable: closed segments in a work folder, continued after a crash (engine.render.resume);
- distributed: chunks on Dask workers, local or on a cluster (engine.distributed).

Whichever ran, an export that asks for checksums then has its files read back and listed
(engine.render.fixity).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from engine.errors import NitrateError, RenderCancelled
from engine.render.export import CancelToken, Progress, RenderJob, render
from engine.render.fixity import check_algorithm, write_checksums


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
               mode: ExportMode = PLAIN,
               plain: Callable[[RenderJob, CancelToken], Iterator[Progress]] = render,
               ) -> Iterator[Progress]:
    """Export `job` the way `mode` says (`plain` renders a plain one), then write its
    checksum list if the job asks for one, yielding Progress (same contract as `render`)."""
    cancel = cancel or CancelToken()
    if job.checksum is not None:
        check_algorithm(job.checksum)  # before the frames, not after an hour of them
    runs = _frames(job, cancel, mode, plain)
    if job.checksum is None:
        yield from runs
        return
    yield from _with_checksums(runs, job, cancel)


def _with_checksums(runs: Iterator[Progress], job: RenderJob,
                    cancel: CancelToken) -> Iterator[Progress]:
    """`runs`, with the finished Progress held back until the files it wrote, now under
    their final names, are read back and their checksum list is written."""
    finished = None
    for progress in runs:
        if progress.finished:
            finished = progress
        else:
            yield progress
    if finished is None:
        return
    manifest = None
    for step in write_checksums(job.output, job.checksum or "", job.codec,
                                lambda: cancel.cancelled):
        manifest = step.manifest
        yield replace(finished, finished=False, checking=(step.done, step.total))
    if manifest is None:
        raise RenderCancelled(f"{job.output}: checksums cancelled; the export is complete, "
                              "without its checksum list", kept=True)
    yield replace(finished, manifest=manifest)


def _frames(job: RenderJob, cancel: CancelToken, mode: ExportMode,
            plain: Callable[[RenderJob, CancelToken], Iterator[Progress]],
            ) -> Iterator[Progress]:
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
    yield from plain(job, cancel)
