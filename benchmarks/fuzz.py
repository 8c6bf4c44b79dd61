"""Fuzzing: the project loader and the media probe meet random and mutated input, and must
answer with nothing but the clean error path (a NitrateError subclass): never another
exception, never a hang, never a crash of the process.

    python -m benchmarks.fuzz                       # 60 s per target
    python -m benchmarks.fuzz --seconds 20 --target probe
    python -m benchmarks.fuzz --keep /tmp/fuzz-found  # keep failing inputs there

Targets:
  project  `load_project` on hypothesis-generated JSON (random documents and mutations of
           a valid project: nodes replaced, keys deleted, numbers made huge or negative)
           and random bytes. In-process: a pure-Python loader cannot crash the process.
  probe    `probe` + reading the first and last frame of mutated small media files (bit
           flips, truncations, header bytes overwritten, chunks duplicated) made from
           generated seeds (H.264 MP4, FFV1 MKV, ProRes MOV, PNG, DPX, Y4M). Decoding runs
           in a worker process with a per-input timeout, so a crash (segfault, abort) or a
           hang is detected and reported, and the worker is restarted.

Exit code 0 when nothing but NitrateErrors (and successes) were seen, 1 otherwise; a
summary table is printed either way. Uses hypothesis for generation (a dev dependency).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import queue
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PER_INPUT_TIMEOUT_S = 20.0
"""A probe taking longer than this (seconds) on a file of a few KB is a hang."""


@dataclass
class Tally:
    """What one target saw."""

    name: str
    runs: int = 0
    ok: int = 0
    clean_errors: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def row(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in self.clean_errors.most_common())
        return (f"| {self.name} | {self.runs} | {self.ok} | {sum(self.clean_errors.values())} "
                f"({kinds or '-'}) | {len(self.failures)} |")


def _keep(keep: Path | None, name: str, data: bytes) -> str:
    if keep is None:
        return ""
    keep.mkdir(parents=True, exist_ok=True)
    path = keep / name
    path.write_bytes(data)
    return f" (input kept as {path})"


# -- project loader ------------------------------------------------------------------------

_json_leaf = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
              | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20))
_json = st.recursive(_json_leaf, lambda inner: st.lists(inner, max_size=5)
                     | st.dictionaries(st.text(max_size=12), inner, max_size=5), max_leaves=30)


def _valid_project(folder: Path) -> dict[str, Any]:
    from engine.project.io import project_to_json
    from engine.project.model import Clip, Project, Repair, Shot
    from engine.project.recipe import Recipe, Step

    recipe = Recipe.of([Step.create("color", {"exposure": 0.5}), Step.create("dust")])
    clip = Clip(str(folder / "reel.mov"), 100, [Shot(0, 49), Shot(50, 99, recipe, True)],
                recipe, repairs=[Repair(10, 12, None, "torn"), Repair(20, 20, (1, 2, 3, 4), "")])
    return project_to_json(Project(clips=[clip]), folder / "p.nitrate")


def _mutate(doc: Any, path: list[Any], value: Any, delete: bool) -> Any:
    """`doc` with the node at `path` (indices taken modulo the sizes met) replaced by
    `value`, or deleted."""
    if not path or not isinstance(doc, (dict, list)) or not doc:
        return value
    keys = list(doc.keys()) if isinstance(doc, dict) else list(range(len(doc)))
    key = keys[hash(json.dumps(path[0], default=str)) % len(keys)]
    out = dict(doc) if isinstance(doc, dict) else list(doc)
    if delete and len(path) == 1:
        del out[key]
        return out
    out[key] = _mutate(doc[key], path[1:], value, delete)
    return out


def fuzz_projects(seconds: float, keep: Path | None) -> Tally:
    from engine.errors import NitrateError
    from engine.project.io import load_project

    tally = Tally("project loader")
    work = Path(tempfile.mkdtemp(prefix="nitrate-fuzz-project-"))
    base = _valid_project(work)
    target = work / "fuzz.nitrate"

    def check(data: bytes) -> None:
        target.write_bytes(data)
        tally.runs += 1
        try:
            load_project(target)
            tally.ok += 1
        except NitrateError as exc:
            tally.clean_errors[type(exc).__name__] += 1
        except Exception as exc:  # noqa: BLE001 - exactly what the fuzzer looks for
            where = traceback.extract_tb(exc.__traceback__)[-1]
            tally.failures.append(
                f"{type(exc).__name__}: {exc} at {Path(where.filename).name}:{where.lineno}"
                + _keep(keep, f"project-{len(tally.failures)}.nitrate", data))

    steps = st.lists(st.one_of(st.text(max_size=8), st.integers(0, 20)), max_size=6)
    inputs = st.one_of(
        _json.map(lambda d: json.dumps(d).encode()),
        st.tuples(steps, _json, st.booleans()).map(
            lambda t: json.dumps(_mutate(base, t[0], t[1], t[2])).encode()),
        st.binary(max_size=2000),
        st.text(max_size=300).map(str.encode),
    )

    @settings(max_examples=200, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(inputs)
    def batch(data: bytes) -> None:
        check(data)

    deadline = time.monotonic() + seconds
    check(json.dumps(base).encode())  # the unmutated project must load
    while time.monotonic() < deadline:
        batch()
    shutil.rmtree(work, ignore_errors=True)
    return tally


# -- media probe ------------------------------------------------------------------------------

def _seeds(folder: Path) -> list[Path]:
    """Small valid media files of several kinds (the mutation bases)."""
    from engine.synth.index_clip import write_index_clip, write_index_sequence

    folder.mkdir(parents=True, exist_ok=True)
    seeds = [
        write_index_clip(folder / "h264.mp4", "h264", width=48, height=32, frames=12, gop=4),
        write_index_clip(folder / "ffv1.mkv", "ffv1", width=48, height=32, frames=6),
        write_index_clip(folder / "prores.mov", "prores", width=48, height=32, frames=4),
    ]
    seeds += write_index_sequence(folder / "png", "png8", 32, 24, frames=1)
    seeds += write_index_sequence(folder / "dpx", "dpx10", 32, 24, frames=1)
    y4m = folder / "raw.y4m"
    y4m.write_bytes(b"YUV4MPEG2 W32 H24 F25:1 Ip A1:1 C420jpeg\n"
                    + (b"FRAME\n" + bytes(range(256)) * 4 + bytes(32 * 24 // 2 + 128)) * 2)
    seeds.append(y4m)
    return seeds


def _probe_worker(jobs: mp.Queue, results: mp.Queue) -> None:
    """Probe each file named on `jobs` and read its first and last frame; put
    (path, "ok" | "clean:<ErrorType>" | "fail:<what>") on `results`."""
    import logging

    logging.disable(logging.CRITICAL)  # damaged files log warnings by design
    from engine.errors import NitrateError
    from engine.media import open_reader

    while True:
        path = jobs.get()
        if path is None:
            return
        try:
            with open_reader(path) as reader:
                reader.read(0)
                reader.read(reader.info.frame_count - 1)
            results.put((path, "ok"))
        except NitrateError as exc:
            results.put((path, f"clean:{type(exc).__name__}"))
        except Exception as exc:  # noqa: BLE001 - exactly what the fuzzer looks for
            where = traceback.extract_tb(exc.__traceback__)[-1]
            results.put((path, f"fail:{type(exc).__name__}: {exc} at "
                               f"{Path(where.filename).name}:{where.lineno}"))


class _Worker:
    """A probe worker process; restarted after a crash or a hang."""

    def __init__(self) -> None:
        self._ctx = mp.get_context("spawn")
        self._start()

    def _start(self) -> None:
        self.jobs: mp.Queue = self._ctx.Queue()
        self.results: mp.Queue = self._ctx.Queue()
        self.proc = self._ctx.Process(target=_probe_worker, args=(self.jobs, self.results),
                                      daemon=True)
        self.proc.start()

    def run(self, path: Path) -> str:
        self.jobs.put(str(path))
        deadline = time.monotonic() + PER_INPUT_TIMEOUT_S
        while True:
            try:
                _, verdict = self.results.get(timeout=0.2)
                return verdict
            except queue.Empty:
                if not self.proc.is_alive():
                    code = self.proc.exitcode
                    self._start()
                    return f"fail:worker crashed (exit code {code})"
                if time.monotonic() > deadline:
                    self.proc.kill()
                    self.proc.join()
                    self._start()
                    return f"fail:hang (no answer in {PER_INPUT_TIMEOUT_S:.0f} s)"

    def close(self) -> None:
        self.jobs.put(None)
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()


def fuzz_probe(seconds: float, keep: Path | None) -> Tally:
    tally = Tally("media probe")
    work = Path(tempfile.mkdtemp(prefix="nitrate-fuzz-probe-"))
    seeds = _seeds(work / "seeds")
    originals = [(s, s.read_bytes()) for s in seeds]
    worker = _Worker()

    def check(seed_index: int, edits: list[tuple[int, int, int]], cut: float | None) -> None:
        seed, data = originals[seed_index % len(originals)]
        buf = bytearray(data)
        for kind, where, value in edits:
            if not buf:
                break
            pos = where % len(buf)
            if kind == 0:  # bit flip
                buf[pos] ^= 1 << (value % 8)
            elif kind == 1:  # byte overwrite in the header
                buf[pos % min(len(buf), 256)] = value % 256
            elif kind == 2:  # duplicate a chunk
                buf[pos:pos] = buf[pos: pos + 1 + value % 512]
            else:  # delete a chunk
                del buf[pos: pos + 1 + value % 512]
        if cut is not None:
            del buf[int(len(buf) * cut):]
        folder = work / f"case{tally.runs % 2}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        # Sequence seeds keep their numbered name so the probe treats them as images.
        path = folder / seed.name
        path.write_bytes(bytes(buf))
        tally.runs += 1
        verdict = worker.run(path)
        if verdict == "ok":
            tally.ok += 1
        elif verdict.startswith("clean:"):
            tally.clean_errors[verdict[6:]] += 1
        else:
            tally.failures.append(f"{seed.name}: {verdict[5:]}"
                                  + _keep(keep, f"probe-{len(tally.failures)}-{seed.name}",
                                          bytes(buf)))

    edit = st.tuples(st.integers(0, 3), st.integers(0, 2**31), st.integers(0, 2**16))

    @settings(max_examples=50, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.integers(0, 1000), st.lists(edit, min_size=1, max_size=8),
           st.none() | st.floats(0.0, 1.0))
    def batch(seed_index: int, edits: list[tuple[int, int, int]], cut: float | None) -> None:
        check(seed_index, edits, cut)

    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            batch()
    finally:
        worker.close()
        shutil.rmtree(work, ignore_errors=True)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="time per target (s)")
    parser.add_argument("--target", choices=("all", "project", "probe"), default="all")
    parser.add_argument("--keep", type=Path, default=None,
                        help="folder to keep inputs that failed (for a regression test)")
    args = parser.parse_args(argv)
    tallies = []
    if args.target in ("all", "project"):
        tallies.append(fuzz_projects(args.seconds, args.keep))
    if args.target in ("all", "probe"):
        tallies.append(fuzz_probe(args.seconds, args.keep))
    print(f"fuzzing, {args.seconds:.0f} s per target")
    print("| target | inputs | accepted | clean errors | failures |")
    print("| --- | ---: | ---: | --- | ---: |")
    for t in tallies:
        print(t.row())
    failures = [f for t in tallies for f in t.failures]
    for f in sorted(set(failures)):
        print(f"FAIL {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
