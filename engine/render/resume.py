"""Resumable exports: closed segments in a work folder, joined losslessly at the end.

A MOV/MP4 written by a process that was killed has no index and cannot be read, so an
export that must survive a crash cannot be one growing file. ``render_resumable`` writes
the frames into a hidden work folder beside the output::

    .NAME.nitrate-partial/
        manifest.json        the job's fingerprint (source, range, recipes, codec, rate, framing)
        seg_00000.mov        SEGMENT_FRAMES frames, a complete file in the final codec
        seg_00001.mov        (each written as seg_NNNNN.part.EXT and renamed when closed)
        …

Every segment starts a new encoder, so it starts with a keyframe (long-GOP H.264/H.265
too) and decodes on its own. When all segments exist they are joined by remuxing (packets
copied, timestamps offset, nothing re-encoded) into the final container under a temporary
name, the audio of the range is written once during the join, and the result is renamed
onto the final name. A run of the same job after a crash, a cancel or a write error
continues from the first missing segment; because the uninterrupted and the resumed
export run the same code, their frames are identical. A work folder of a different job
(another source, range, recipe, codec or rate) is refused, never mixed in.

Image sequences need no segments: each frame file is written under a temporary name and
renamed (atomic per frame) into ``.NAME.nitrate-partial/frames/``; a resume skips the
frames that exist, and the finished folder is renamed onto the final name.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from engine.errors import MediaError, RenderCancelled
from engine.lut import resolve_lut
from engine.media import AudioSource, OutputFormat, Writer, open_reader, output_format_for
from engine.media.audio import AudioFeed, AudioSink, pcm_codec_for
from engine.media.writer import container_tags, sidecar_wav
from engine.render.export import (
    EXPORT_READER_STORE_BYTES,
    PARTIAL_TAG,
    CancelToken,
    ExportFrames,
    Progress,
    RenderJob,
    _retime_map,
    _sequence_unit,
    audio_source,
    check_output_is_not_source,
    frame_size,
    output_fps,
    start_timecode,
)
from engine.render.provenance import export_metadata

SEGMENT_FRAMES = 48
"""Frames per segment: what a crash can cost (2 s at 24 fps), and a keyframe interval."""
MANIFEST = "manifest.json"
_MANIFEST_FORMAT = "nitrate-partial-export"
_MANIFEST_VERSION = 1


def work_folder(output: Path, fmt: OutputFormat) -> Path:
    """The hidden folder beside the output that holds a resumable export's parts."""
    final = _sequence_unit(output)[0] if fmt.kind == "sequence" else output
    return final.parent / f".{final.name}{PARTIAL_TAG}"


def _source_identity(source: Path) -> dict[str, Any]:
    """Path, size (bytes) and modification time (ns) of a source file or sequence folder:
    a re-encoded or replaced source must not be continued with old segments."""
    p = Path(source)
    probe_at = p if p.exists() else p.parent
    st = probe_at.stat()
    return {"path": str(p.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _plan_hash(job: RenderJob) -> str:
    shots = [[s.start, s.end, s.recipe.fingerprint(), [repr(r) for r in s.repairs]]
             for s in job.plan.shots]
    return hashlib.sha1(json.dumps(shots).encode()).hexdigest()[:16]


def fingerprint(job: RenderJob, fmt: OutputFormat, end: int, fps: Fraction,
                segment_frames: int) -> dict[str, Any]:
    """What must match for a partial export to be continued (JSON-able)."""
    print_ = {
        "source": _source_identity(job.source),
        "start": job.start,
        "end": end,
        "plan": _plan_hash(job),
        "format": {k: v for k, v in asdict(fmt).items()},
        "fps": f"{fps.numerator}/{fps.denominator}",
        "retime": job.retime if job.fps is not None else None,  # "conform" too
        "audio": job.audio,
        "segment_frames": segment_frames,
    }
    if job.burn_in:  # absent otherwise, as the framing
        print_["burn_in"] = True
    if job.view_lut:
        print_["view_lut"] = str(resolve_lut(job.view_lut))
    if job.compare:
        print_["compare"] = job.compare
    if not job.framing.identity:  # absent otherwise: older partial exports still resume
        print_["framing"] = job.framing.to_json()
    return print_


def _prepare_work(work: Path, print_: dict[str, Any], output: Path) -> None:
    """Create the work folder with its manifest, or check an existing one is this job's."""
    manifest = work / MANIFEST
    if manifest.exists():
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            theirs = data["job"] if data.get("format") == _MANIFEST_FORMAT else None
        except (OSError, ValueError, KeyError, TypeError):
            theirs = None
        if theirs != print_:
            raise MediaError(output, f"a partial export of a different job is in {work} "
                             "(other source, range, recipe, codec, rate or framing); delete that "
                             "folder or export under another name")
        return
    if work.exists():
        # No manifest: killed before it was written, so nothing in it can be trusted.
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    text = json.dumps({"format": _MANIFEST_FORMAT, "version": _MANIFEST_VERSION,
                       "job": print_}, indent=2)
    tmp = work / (MANIFEST + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, manifest)


def _segment_path(work: Path, k: int, fmt: OutputFormat) -> Path:
    return work / f"seg_{k:05d}{fmt.extension}"


def _fsync(path: Path) -> None:
    """Flush a closed file to the disk, so a rename never outlives its data (power loss)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _frames_done(work: Path, fmt: OutputFormat, total: int, segment_frames: int) -> int:
    """Output frames already written by an earlier run (a prefix of the export)."""
    if fmt.kind == "sequence":
        frames = work / "frames"
        done = 0
        while done < total and (frames / _frame_name(fmt, done)).exists():
            done += 1
        return done
    k = 0
    while k * segment_frames < total and _segment_path(work, k, fmt).exists():
        k += 1
    return min(total, k * segment_frames)


def _frame_name(fmt: OutputFormat, number: int) -> str:
    # The Writer's own name for a bare-folder sequence (frame_%06d.ext).
    return f"frame_{number:06d}{fmt.extension}"


def _sequence_pattern(output: Path, fmt: OutputFormat) -> str:
    pattern = _sequence_unit(output)[1]
    return pattern if pattern is not None else f"frame_%06d{fmt.extension}"


def render_resumable(job: RenderJob, cancel: CancelToken | None = None,
                     segment_frames: int = SEGMENT_FRAMES) -> Iterator[Progress]:
    """Export `job` resumably (see the module docstring), continuing an interrupted run of
    the same job. Yields Progress after every frame (``done`` counts the frames of earlier
    runs too). On an error or a cancel the complete segments stay for the next run and the
    error says so; on success the work folder is removed."""
    if segment_frames < 1:
        raise ValueError("segment_frames must be at least 1")
    cancel = cancel or CancelToken()
    with open_reader(job.source, recent_frames_bytes=EXPORT_READER_STORE_BYTES) as reader:
        info = reader.info
        end = info.frame_count - 1 if job.end is None else job.end
        if not 0 <= job.start <= end < info.frame_count:
            raise MediaError(job.source, f"frame range {job.start}-{end} is outside the clip "
                             f"(0-{info.frame_count - 1})")
        fmt = output_format_for(job.output, job.codec, info.bit_depth)
        final = _sequence_unit(job.output)[0] if fmt.kind == "sequence" else job.output
        if not final.parent.is_dir():
            raise MediaError(job.output, f"the folder {final.parent} does not exist")
        check_output_is_not_source(job.source, job.output)
        rmap = _retime_map(job, end, info.fps)
        fps = output_fps(job, info.fps, rmap)
        total = end - job.start + 1 if rmap is None else rmap.count
        work = work_folder(job.output, fmt)
        _prepare_work(work, fingerprint(job, fmt, end, fps, segment_frames), job.output)
        done = _frames_done(work, fmt, total, segment_frames)
        frames = ExportFrames(job, reader, fmt, end, rmap)
        route = frames.route.name
        started = time.perf_counter()
        resumed_from = done
        if done:
            # Tell the caller at once where this run starts (the CLI and the queue show it).
            yield Progress(done, total, 0.0, 0.0, None, job.output, route=route)
        try:
            if fmt.kind == "sequence":
                steps = _write_frames(job, fmt, fps, work, frames, done, total, cancel)
            else:
                steps = _write_segments(job, fmt, fps, work, frames, done, total,
                                        segment_frames, cancel)
            for done in steps:
                elapsed = time.perf_counter() - started
                rate = (done - resumed_from) / elapsed if elapsed > 0 else 0.0
                eta = (total - done) / rate if rate > 0 else None
                yield Progress(done, total, elapsed, rate, eta, job.output, route=route)
            audio = audio_source(job, info, end)
            timecode = start_timecode(job, info, fps)
            if fmt.kind == "sequence":
                _commit_sequence(job.output, fmt, work, fps, audio)
            else:
                join_segments(work, fmt, total, segment_frames, fps, final, timecode, audio,
                              export_metadata(job, end, info))
        except RenderCancelled:
            raise RenderCancelled(f"{job.output}: export cancelled ({done} of {total} frames "
                                  "kept; run again with --resume to continue)") from None
        except (OSError, MediaError) as exc:
            problem = exc.problem if isinstance(exc, MediaError) else \
                f"write failed: {exc.strerror or exc}"
            problem = problem.replace("cannot be written (", "write failed (")
            kept = done - done % segment_frames if fmt.kind == "video" else done
            raise MediaError(job.output, f"{problem} ({kept} of {total} frames kept in {work}; "
                             "run again with --resume to continue)") from None
        finally:
            frames.close()
        shutil.rmtree(work, ignore_errors=True)
        elapsed = time.perf_counter() - started
        yield Progress(total, total, elapsed, (total - resumed_from) / elapsed if elapsed
                       else 0.0, 0.0, job.output, finished=True, route=route)


def _write_segments(job: RenderJob, fmt: OutputFormat, fps: Fraction, work: Path,
                    frames: ExportFrames, done: int, total: int, segment_frames: int,
                    cancel: CancelToken) -> Iterator[int]:
    """Write the missing segments; yields the number of frames done after each frame."""
    size: tuple[int, int] | None = None
    while done < total:
        k = done // segment_frames
        last = min(total, (k + 1) * segment_frames)
        part = work / f"seg_{k:05d}.part{fmt.extension}"
        part.unlink(missing_ok=True)  # left by a killed run
        writer: Writer | None = None
        try:
            for n in range(done, last):
                if cancel.cancelled:
                    raise RenderCancelled(f"{job.output}: export cancelled")
                frame = frames(n)
                size = frame_size(job.output, frames.source_index(n), frame, size)
                if writer is None:
                    writer = Writer(part, fmt, size[0], size[1], fps)
                writer.write(frames.prepare(writer, frame))
                if n + 1 < last:
                    yield n + 1
            assert writer is not None
            writer.close()
        except BaseException:
            if writer is not None:
                writer.abort()
            part.unlink(missing_ok=True)
            raise
        _fsync(part)
        os.replace(part, _segment_path(work, k, fmt))
        done = last
        yield done


def _write_frames(job: RenderJob, fmt: OutputFormat, fps: Fraction, work: Path,
                  frames: ExportFrames, done: int, total: int,
                  cancel: CancelToken) -> Iterator[int]:
    """Write the missing frame files of a sequence, each atomically; yields frames done."""
    folder = work / "frames"
    staging = work / "staging"
    folder.mkdir(exist_ok=True)
    if staging.exists():
        shutil.rmtree(staging)
    for n in range(done, total):
        if cancel.cancelled:
            raise RenderCancelled(f"{job.output}: export cancelled")
        frame = frames(n)
        width, height = frame_size(job.output, frames.source_index(n), frame, None)
        # A Writer per frame: image encoders start afresh for every file anyway.
        with Writer(staging / f"frame_%06d{fmt.extension}", fmt, width, height, fps,
                    first_number=n) as writer:
            writer.write(frames.prepare(writer, frame))
        written = staging / _frame_name(fmt, n)
        _fsync(written)
        os.replace(written, folder / _frame_name(fmt, n))
        yield n + 1
    if staging.exists():
        shutil.rmtree(staging)


def _commit_sequence(output: Path, fmt: OutputFormat, work: Path, fps: Fraction,
                     audio: AudioSource | None) -> None:
    """Rename the finished frames onto the final folder (with the pattern's names), write
    the sidecar WAV, and replace an older output only now."""
    final, pattern = _sequence_unit(output)
    folder = work / "frames"
    if pattern is not None and pattern != f"frame_%06d{fmt.extension}":
        for entry in sorted(folder.iterdir()):
            number = int(entry.stem.rsplit("_", 1)[1])
            os.replace(entry, folder / (pattern % number))
    wav_final = sidecar_wav(final / pattern) if pattern else sidecar_wav(final)
    wav_temp = work / "audio.wav"
    if audio is not None:
        _write_wav(wav_temp, audio)
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.nitrate-old-{os.getpid()}"
        os.replace(final, old)
    os.replace(folder, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    if audio is not None:
        # A pattern's sidecar sits inside the (now final) folder, a folder's beside it.
        os.replace(wav_temp, wav_final)


def _write_wav(path: Path, audio: AudioSource) -> None:
    feed = AudioFeed(audio)
    try:
        with av.open(str(path), "w", format="wav") as out:
            sink = AudioSink(out, pcm_codec_for(feed.source_format), feed)
            sink.finish()
    finally:
        feed.close()


def join_segments(work: Path, fmt: OutputFormat, total: int, segment_frames: int,
                  fps: Fraction, output: Path, timecode: str | None,
                  audio: AudioSource | None, metadata: dict[str, str] | None = None) -> None:
    """Remux the segments of `work` (total frames) into `output`: packets copied with
    their timestamps offset by the frames before them, the audio written once; written
    under a temporary name and renamed when complete."""
    count = -(-total // segment_frames)
    parts = [(_segment_path(work, k, fmt), min(segment_frames, total - k * segment_frames))
             for k in range(count)]
    join_files(parts, fmt, fps, output, timecode, audio, metadata)


def join_files(parts: Sequence[tuple[Path, int]], fmt: OutputFormat, fps: Fraction,
               output: Path, timecode: str | None, audio: AudioSource | None,
               metadata: dict[str, str] | None = None) -> None:
    """Remux closed video files `parts` ((path, frames) in order, each a complete file in
    the final codec starting on a keyframe) into `output`, nothing re-encoded: packets
    copied with their timestamps offset by the frames before them (frames at `fps` frames
    per second), the audio written once; under a temporary name, renamed when complete.
    Shared by resumable exports (equal segments) and distributed ones (chunks cut at
    shots)."""
    temp = output.parent / f".{output.stem}{PARTIAL_TAG}-join-{os.getpid()}{output.suffix}"
    temp.unlink(missing_ok=True)
    feed = AudioFeed(audio, fmt.audio_rate) if audio is not None else None
    try:
        with av.open(str(temp), "w") as out:
            first = av.open(str(parts[0][0]))
            try:
                template = first.streams.video[0]
                stream = out.add_stream_from_template(template, opaque=True)
                # MOV writes its timecode track only when it knows the frame rate.
                stream.codec_context.framerate = fps
            finally:
                first.close()
            if timecode is not None:
                out.metadata["timecode"] = timecode
                stream.metadata["timecode"] = timecode
            for key, value in container_tags(fmt, metadata or {}).items():
                out.metadata[key] = value
            sink = None
            if feed is not None:
                codec = fmt.audio_codec
                if codec in (None, "pcm"):
                    codec = pcm_codec_for(feed.source_format)
                sink = AudioSink(out, codec, feed)
            before = 0
            for path, frames in parts:
                _copy_segment(out, stream, path, before, fps)
                before += frames
                if sink is not None:
                    sink.write_until(Fraction(before) / fps)
            if sink is not None:
                sink.finish()
        os.replace(temp, output)
    except av.FFmpegError as exc:
        temp.unlink(missing_ok=True)
        raise MediaError(output, f"cannot join the export's segments ({exc})") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    finally:
        if feed is not None:
            feed.close()


def _copy_segment(out: av.container.OutputContainer, stream: av.VideoStream, path: Path,
                  first_frame: int, fps: Fraction) -> None:
    """Mux the video packets of one segment, shifted to start at output frame
    `first_frame`."""
    with av.open(str(path)) as seg:
        src = seg.streams.video[0]
        tb = Fraction(src.time_base)
        offset = round(Fraction(first_frame) / fps / tb)
        for packet in seg.demux(src):
            if packet.size == 0 and packet.pts is None:
                continue  # the demuxer's end-of-stream marker
            if packet.pts is not None:
                packet.pts += offset
            if packet.dts is not None:
                packet.dts += offset
            packet.time_base = tb
            packet.stream = stream
            out.mux(packet)
