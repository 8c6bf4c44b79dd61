"""The client side of a distributed export: chunks out, progress in, assembly at the end."""

from __future__ import annotations

import os
import queue
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from engine.distributed.chunks import DEFAULT_CHUNK_FRAMES, Chunk, plan_chunks
from engine.distributed.cluster import ClusterError, require_dask
from engine.distributed.worker import ChunkResult, ChunkTask, render_chunk
from engine.errors import MediaError, NitrateError, RenderCancelled
from engine.media import open_reader, output_format_for
from engine.render.export import (
    PARTIAL_TAG,
    CancelToken,
    Progress,
    RenderJob,
    _retime_map,
    _sequence_unit,
    audio_source,
    check_output_is_not_source,
    choose_route,
    output_fps,
    remove_stale_partials,
    start_timecode,
)
from engine.render.provenance import export_metadata
from engine.render.resume import _commit_sequence, join_files

RETRIES = 2
"""Extra attempts of a chunk whose task raised (a node's disk full, shared storage gone
for a moment). A worker that dies is handled by the scheduler itself: its chunks are
rescheduled elsewhere, up to Dask's ``distributed.scheduler.allowed-failures`` times."""
_POLL_SECONDS = 0.1
"""How often the client looks at its futures and the cancel token (seconds)."""
_STOP_SECONDS = 10.0
"""How long a cancel waits for running chunks to notice it (seconds) before removing the
work folder under them."""


def work_folder_for(final: Path, sequence: bool) -> Path:
    """The hidden folder beside the output where the workers write their chunks. Named
    like the single-process export's temporary output (with this process id), so an
    export to the same name after a killed client removes it as stale."""
    stem = final.name if sequence else final.stem
    return final.parent / f".{stem}{PARTIAL_TAG}-{os.getpid()}.dist"


def render_distributed(
    job: RenderJob,
    client: Any,
    cancel: CancelToken | None = None,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    *,
    task: Callable[[ChunkTask], ChunkResult] = render_chunk,
) -> Iterator[Progress]:
    """Export `job` on the workers of `client` (a `distributed.Client`), yielding Progress
    of all chunks together; the same contract as `engine.render.render`: NitrateError on
    failure, RenderCancelled when `cancel` is set, and in both cases nothing is left under
    the final name or in the work folder.

    The export is cut into chunks at shot boundaries (at most `chunk_frames` frames each);
    every chunk is rendered by one worker into the work folder beside the output, which
    must be on storage every worker sees under the same path. Video chunks are joined by
    remuxing (nothing re-encoded) with the audio added once; a sequence's frames are
    written with their final numbers. `task` is the function run per chunk (tests wrap it).
    """
    distributed = require_dask()
    cancel = cancel or CancelToken()
    with open_reader(job.source) as reader:
        info = reader.info
        end = info.frame_count - 1 if job.end is None else job.end
        if not 0 <= job.start <= end < info.frame_count:
            raise MediaError(job.source, f"frame range {job.start}-{end} is outside the clip "
                             f"(0-{info.frame_count - 1})")
        fmt = output_format_for(job.output, job.codec, info.bit_depth)
        rmap = _retime_map(job, end, info.fps)
        # What every worker's ExportFrames decides for its chunk: the same inputs.
        route = choose_route(job, reader, fmt, end, rmap).name
    sequence = fmt.kind == "sequence"
    final = _sequence_unit(job.output)[0] if sequence else job.output
    if not final.parent.is_dir():
        raise MediaError(job.output, f"the folder {final.parent} does not exist")
    check_output_is_not_source(job.source, job.output)
    fps = output_fps(job, info.fps, rmap)
    try:
        chunks = plan_chunks(job.plan, job.start, end, chunk_frames, rmap)
    except ValueError as exc:
        raise MediaError(job.output, str(exc)) from None
    total = sum(c.frames for c in chunks)
    if not client.scheduler_info().get("workers"):
        raise ClusterError(f"cluster {client.scheduler.address}: no workers are connected")

    remove_stale_partials(final, sequence)
    work = work_folder_for(final, sequence)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    name = f"nitrate-{uuid.uuid4().hex[:12]}"
    events: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
    # Runs on the client's event-loop thread: hand the message over, nothing more.
    client.subscribe_topic(name, lambda event: events.put(event[1]))
    stop = distributed.Event(name, client=client)
    futures = []
    finished = False
    try:
        futures = [client.submit(task, ChunkTask(job, c, work, fmt, end, fps, name, name),
                                 key=f"{name}-chunk-{c.index:05d}", retries=RETRIES,
                                 pure=False)
                   for c in chunks]
        started = time.perf_counter()
        results: dict[int, ChunkResult] = {}
        done_in: dict[int, tuple[str, int]] = {}  # chunk → (attempt, frames written)
        shown = -1
        pending = dict(enumerate(futures))
        while pending:
            if cancel.cancelled:
                raise RenderCancelled(f"{job.output}: export cancelled")
            for i, future in list(pending.items()):
                if future.done():
                    del pending[i]
                    results[i] = _result(future, chunks[i], job)
            while True:
                try:
                    msg = events.get_nowait()
                except queue.Empty:
                    break
                i = msg["chunk"]
                if i not in results:
                    done_in[i] = (msg["attempt"], msg["done"])
            done = sum(chunks[i].frames if i in results else done_in.get(i, ("", 0))[1]
                       for i in range(len(chunks)))
            if done != shown:
                shown = done
                elapsed = time.perf_counter() - started
                rate = done / elapsed if elapsed > 0 else 0.0
                eta = (total - done) / rate if rate > 0 else None
                yield Progress(done, total, elapsed, rate, eta, job.output, route=route)
            if pending:
                time.sleep(_POLL_SECONDS)
        sizes = {(r.width, r.height) for r in results.values()}
        if len(sizes) > 1:
            raise MediaError(job.output, "the chunks have different frame sizes "
                             f"({', '.join(f'{w}x{h}' for w, h in sorted(sizes))}): every "
                             "shot must give the same size")
        _assemble(job, info, fmt, fps, end, work, chunks, results)
        finished = True
    except KeyboardInterrupt:
        raise RenderCancelled(f"{job.output}: export cancelled") from None
    finally:
        if not finished:
            _stop(client, stop, futures)
        _remove_work(work)
        try:
            client.unsubscribe_topic(name)
            stop.clear()
        except Exception:  # noqa: BLE001 - the scheduler may be gone; nothing to free then
            pass
    elapsed = time.perf_counter() - started
    yield Progress(total, total, elapsed, total / elapsed if elapsed else 0.0, 0.0,
                   job.output, finished=True, route=route)


def _result(future: Any, chunk: Chunk, job: RenderJob) -> ChunkResult:
    """The chunk's result, or the NitrateError that explains why there is none."""
    distributed = require_dask()
    try:
        result: ChunkResult = future.result()
    except NitrateError:
        raise
    except distributed.KilledWorker:
        raise MediaError(job.output, f"chunk {chunk.index} (frames {chunk.first}-"
                         f"{chunk.last}) was lost: the workers running it died "
                         "repeatedly (out of memory?)") from None
    except Exception as exc:  # noqa: BLE001 - a worker's failure, reported in one line
        raise MediaError(job.output, f"chunk {chunk.index} (frames {chunk.first}-"
                         f"{chunk.last}) failed after {RETRIES + 1} attempts: "
                         f"{exc.__class__.__name__}: {exc}") from None
    if result.error is not None:
        raise NitrateError(result.error)
    return result


def _remove_work(work: Path) -> None:
    """Remove the work folder. A cancelled future is done on the client at once while its
    task may still be writing its current frame on a worker (a task cannot be interrupted;
    it sees the stop event at its next frame), so a file can appear while the folder is
    being removed: try again until it is gone (at most _STOP_SECONDS)."""
    deadline = time.monotonic() + _STOP_SECONDS
    while True:
        shutil.rmtree(work, ignore_errors=True)
        if not work.exists() or time.monotonic() > deadline:
            return
        time.sleep(_POLL_SECONDS)


def _stop(client: Any, stop: Any, futures: list[Any]) -> None:
    """Stop every worker's chunk: a task cannot be interrupted, so the Event tells running
    ones to give up at their next frame, and queued ones are cancelled."""
    distributed = require_dask()
    try:
        stop.set()
        client.cancel(futures)
        running = [f for f in futures if not f.done()]
        if running:
            distributed.wait(running, timeout=_STOP_SECONDS)
    except Exception:  # noqa: BLE001 - the cluster may be gone: nothing left to stop
        pass


def _assemble(job: RenderJob, info: Any, fmt: Any, fps: Any, end: int,
              work: Path, chunks: list[Chunk], results: dict[int, ChunkResult]) -> None:
    """The chunks into the final output: a video joined by remuxing with the audio of the
    range written once, a sequence's frames renamed into place with a sidecar WAV."""
    audio = audio_source(job, info, end)
    timecode = start_timecode(job, info, fps)
    if fmt.kind == "sequence":
        _commit_sequence(job.output, fmt, work, fps, audio)
        return
    parts = []
    for chunk in chunks:
        path = results[chunk.index].path
        assert path is not None
        parts.append((path, chunk.frames))
    join_files(parts, fmt, fps, job.output, timecode, audio, export_metadata(job, end, info))
