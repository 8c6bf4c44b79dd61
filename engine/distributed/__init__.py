"""Distributed rendering on Dask: one export cut into chunks at shot boundaries, rendered
by worker processes on this machine or on render nodes, assembled losslessly.

    with connect(workers=2) as client:            # or connect("tcp://host:8786")
        for progress in render_distributed(job, client, cancel):
            ...

Dask is optional (the ``cluster`` extra): importing this package never needs it; using a
cluster without it raises ClusterError. See docs/DISTRIBUTED.md.
"""

from engine.distributed.chunks import DEFAULT_CHUNK_FRAMES, Chunk, plan_chunks
from engine.distributed.cluster import ClusterError, connect, require_dask
from engine.distributed.render import render_distributed
from engine.distributed.worker import ChunkResult, ChunkTask, render_chunk

__all__ = ["DEFAULT_CHUNK_FRAMES", "Chunk", "ChunkResult", "ChunkTask", "ClusterError",
           "connect", "plan_chunks", "render_chunk", "render_distributed", "require_dask"]
