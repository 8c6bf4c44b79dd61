"""Neural model speed on the CPU: 4× RRDBNet-lite and SRVGGNetCompact on a 720p frame, in
tiles, in fp32, fp32 channels_last, bf16 and bf16 channels_last.

    python -m benchmarks.models                    # 1280×720, tiles of 256 px, overlap 32
    python -m benchmarks.models --size 640x360     # quicker: a quarter of the pixels

Models are built with random weights (speed does not depend on the values) and go through
the product's path: saved as .safetensors, loaded by engine.models.loader, run by
engine.models.inference.apply_model (tiling, feathered blending, channel handling). The
table gives seconds per frame, input megapixels per second, and the largest difference from
fp32 in 8-bit code values (bf16 rounds the weights to 8 significant bits).

Architectures (both ×4, the common community configurations, scaled down where noted):
- RRDBNet-lite: 32 features, 6 RRDB blocks, growth 16 (ESRGAN's full net is 64/23/32, about
  12× the work).
- SRVGGNetCompact: 64 features, 32 convolutions (realesr-general-x4v3's shape).

With a CUDA GPU present the GPU rows (fp32, fp16) are added.
The machine is shared: figures are noisy; compare rows of one run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from engine.models.archs.rrdbnet import RRDBNet
from engine.models.archs.srvgg import SRVGGNetCompact
from engine.models.inference import apply_model
from engine.models.loader import clear_cache, load_model
from engine.runtime import configure_torch_threads


@dataclass(frozen=True)
class Config:
    label: str
    device: str
    precision: str
    channels_last: bool


CPU_CONFIGS = (
    Config("fp32", "cpu", "fp32", False),
    Config("fp32 channels_last", "cpu", "fp32", True),
    Config("bf16", "cpu", "bf16", False),
    Config("bf16 channels_last", "cpu", "bf16", True),
)
GPU_CONFIGS = (
    Config("CUDA fp32", "cuda", "fp32", False),
    Config("CUDA fp16", "cuda", "fp16", False),
)


def networks() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        "RRDBNet-lite 4× (32f, 6 blocks)": RRDBNet(3, 3, features=32, blocks=6, growth=16),
        "SRVGGNetCompact 4× (64f, 32 convs)": SRVGGNetCompact(3, 64, 32, 4),
    }


def test_frame(width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([xx / width, yy / height, 0.5 + 0.4 * np.sin(xx / 17) * np.cos(yy / 11)], 2)
    return np.clip(base + rng.normal(0, 0.03, base.shape), 0, 1).astype(np.float32)


def measure(path: Path, frame: np.ndarray, configs: tuple[Config, ...], tile: int,
            overlap: int, repeats: int) -> dict[Config, tuple[float, np.ndarray]]:
    """Best seconds per frame and the output of each configuration.

    Repeats go round-robin over the configurations, so a burst of load from other work on
    the machine penalises every configuration alike instead of whichever ran during it."""
    models = {c: load_model(path, torch.device(c.device), c.precision,
                            channels_last=c.channels_last) for c in configs}
    for model in models.values():
        apply_model(model, frame[:tile, :tile], tile, overlap)  # warm-up: kernels, allocator
    results: dict[Config, tuple[float, np.ndarray]] = {}
    for _ in range(repeats):
        for config, model in models.items():
            start = time.perf_counter()
            out = apply_model(model, frame, tile, overlap)
            if config.device == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            if config not in results or seconds < results[config][0]:
                results[config] = (seconds, out)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="1280x720", help="frame WIDTHxHEIGHT (pixels)")
    parser.add_argument("--tile", type=int, default=256, help="tile side (input pixels)")
    parser.add_argument("--overlap", type=int, default=32, help="tile overlap (input pixels)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs per row, interleaved across rows (the best is kept)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    configure_torch_threads()
    configs = CPU_CONFIGS + (GPU_CONFIGS if torch.cuda.is_available() else ())
    frame = test_frame(width, height)
    megapixels = width * height / 1e6
    print(f"{width}×{height} frame, tiles {args.tile} px, overlap {args.overlap} px, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| model | configuration | s / frame | input MPix/s | speed vs fp32 | max diff "
          "(8-bit codes) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name, net in networks().items():
            path = Path(folder) / "model.safetensors"
            save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
            clear_cache()
            results = measure(path, frame, configs, args.tile, args.overlap, args.repeats)
            base_seconds, reference = results[configs[0]]
            for config in configs:
                seconds, out = results[config]
                diff = float(np.abs(out - reference).max()) * 255
                print(f"| {name} | {config.label} | {seconds:.2f} | {megapixels / seconds:.3f} "
                      f"| {base_seconds / seconds:.2f}× | {diff:.1f} |", flush=True)
            clear_cache()


if __name__ == "__main__":
    main()
