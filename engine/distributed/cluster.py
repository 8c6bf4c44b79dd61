"""Connecting to a Dask cluster: an existing scheduler, or local worker processes.

Dask distributed is an optional dependency (the ``cluster`` extra); everything that needs
it goes through `require_dask`, which turns its absence into one clear line.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from engine.distributed.worker import THREADS_ENV
from engine.errors import NitrateError
from engine.runtime import cpu_count

CONNECT_SECONDS = 10
"""How long to wait for a scheduler to answer (seconds)."""
_TRIM_KEY = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
"""Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also switches off glibc's
adaptive mmap threshold: every frame-sized array (11 MB at 720p) is then mapped and
unmapped afresh, and the page faults made a 720p render 1.6x slower
(benchmarks/distributed.py).
Our local workers start without it; docs/DISTRIBUTED.md says how for `dask worker`."""


class ClusterError(NitrateError):
    """No cluster: Dask is missing, the scheduler cannot be reached, or it has no workers."""


def require_dask() -> ModuleType:
    """The `distributed` module, or ClusterError saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise ClusterError("distributed rendering needs Dask: pip install "
                           "'nitrate[cluster]' (or: pip install 'dask[distributed]')") from None
    return distributed


@contextlib.contextmanager
def connect(address: str | None = None, workers: int | None = None,
            timeout: float | None = None) -> Iterator[Any]:
    """A `distributed.Client` for the block: on the scheduler at `address`
    (``tcp://host:8786``), or on `workers` local worker processes started here and stopped
    when the block ends (each with one task thread and cores / workers CPU threads).
    Exactly one of the two must be given; `timeout` (seconds, default CONNECT_SECONDS)
    bounds the wait for the scheduler. Raises ClusterError."""
    if (address is None) == (workers is None):
        raise ValueError("give a scheduler address or a number of local workers")
    distributed = require_dask()
    if not logging.getLogger("distributed").isEnabledFor(logging.DEBUG):
        # Dask logs every worker start and connection at INFO on stderr, which would bury
        # the progress bar; its warnings and errors still show.
        logging.getLogger("distributed").setLevel(logging.WARNING)
    cluster = None
    client = None
    try:
        if address is not None:
            try:
                client = distributed.Client(address, timeout=timeout or CONNECT_SECONDS)
            except (OSError, TimeoutError) as exc:
                raise ClusterError(f"cluster {address}: cannot reach the scheduler "
                                   f"({exc.__class__.__name__}: {exc})") from None
        else:
            assert workers is not None
            if workers < 1:
                raise ClusterError(f"--workers must be at least 1, got {workers}")
            threads = max(1, cpu_count() // workers)
            import dask

            with dask.config.set({_TRIM_KEY: None}):
                cluster = distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True,
                    # No dashboard, and its HTTP endpoint on a free port (not 8787, which
                    # another cluster on the machine may hold).
                    dashboard_address=None, scheduler_kwargs={"dashboard_address": ":0"},
                    silence_logs=logging.ERROR,
                    # One task per process, and its OpenCV/torch/OpenMP pools sized so the
                    # workers together use the cores once (not workers x cores threads).
                    env={THREADS_ENV: str(threads), "OMP_NUM_THREADS": str(threads)})
            client = distributed.Client(cluster)
        yield client
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
