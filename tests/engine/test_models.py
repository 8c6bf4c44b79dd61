"""Neural models from user files: architecture detection from random-weight nets saved as
.safetensors and .pth, the loaded net computing what the original computes, seamless tiles,
refusal of pickles that would run code, the model operator in the pipeline and in an
export, device selection, and the "path" parameter kind. No downloads: every model is
built here with random weights and a few blocks, on 32-64 pixel frames."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from engine.device import default_device, select_device, set_default_device
from engine.errors import NitrateError, OperatorError
from engine.media import probe
from engine.models.archs import nafnet
from engine.models.archs.rrdbnet import RRDBNet
from engine.models.archs.srvgg import SRVGGNetCompact
from engine.models.inference import apply_model
from engine.models.loader import clear_cache, describe_model, load_model
from engine.ops import registry
from engine.ops.base import Window
from engine.ops.params import Params, param
from engine.pipeline import Evaluator, ShotPlan
from engine.project.recipe import Recipe, Step
from engine.render import RenderJob, render
from engine.synth.index_clip import write_index_clip

CPU = torch.device("cpu")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_cache()


def randomised(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights everywhere (also NAFNet's β/γ, which start at 0 = identity blocks)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            fan = p[0].numel() if p.ndim > 1 else 1
            p.copy_(torch.randn(p.shape, generator=gen) / max(fan, 1) ** 0.5 * 0.5)
    return net.eval()


def save(net: torch.nn.Module, path: Path, state: dict[str, torch.Tensor] | None = None) -> Path:
    state = {k: v.contiguous() for k, v in (state or net.state_dict()).items()}
    if path.suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    return path


def frame(h: int = 32, w: int = 40, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(0.1, 0.9, w, dtype=np.float32)[None, :, None].repeat(h, 0).repeat(3, 2)
    return (base + rng.normal(0, 0.05, (h, w, 3))).astype(np.float32)


def reference(net: torch.nn.Module, image: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        x = torch.from_numpy(image).permute(2, 0, 1)[None]
        return net(x)[0].permute(1, 2, 0).clamp(0, 1).numpy()


def to_original_esrgan(state: dict[str, torch.Tensor], upsamplings: int) -> dict[str, torch.Tensor]:
    """basicsr RRDBNet names → the original ESRGAN repository's names."""
    blocks = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("body."))
    tail = {f"conv_up{i + 1}": 3 + 3 * i for i in range(upsamplings)}
    tail["conv_hr"] = 3 * upsamplings + 2
    tail["conv_last"] = 3 * upsamplings + 4
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "conv_first":
            out[f"model.0.{parts[1]}"] = value
        elif parts[0] == "body":
            i, rdb, conv, kind = parts[1], parts[2][3:], parts[3], parts[4]
            out[f"model.1.sub.{i}.RDB{rdb}.{conv}.0.{kind}"] = value
        elif parts[0] == "conv_body":
            out[f"model.1.sub.{blocks}.{parts[1]}"] = value
        else:
            out[f"model.{tail[parts[0]]}.{parts[1]}"] = value
    return out


# -- detection across hyper-parameters, both file formats ---------------------------------

RRDB_CASES = [  # (features, blocks, growth, upsamplings, unshuffle, expected scale)
    (8, 1, 4, 2, 1, 4),
    (12, 2, 6, 2, 2, 2),
    (8, 1, 4, 2, 4, 1),
    (8, 1, 4, 1, 1, 2),
]


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
@pytest.mark.parametrize(("nf", "nb", "gc", "ups", "unshuffle", "scale"), RRDB_CASES)
def test_rrdbnet_is_recognised_and_computes_what_the_original_does(
    tmp_path: Path, suffix: str, nf: int, nb: int, gc: int, ups: int, unshuffle: int, scale: int
) -> None:
    net = randomised(RRDBNet(3, 3, nf, nb, gc, ups, unshuffle))
    path = save(net, tmp_path / f"esrgan{suffix}")
    model = load_model(path, CPU, "fp32", channels_last=False)
    info = model.info
    assert info.architecture == "RRDBNet (Real-ESRGAN)" and info.scale == scale
    assert (info.input_channels, info.output_channels) == (3, 3)
    assert info.parameters == sum(p.numel() for p in net.parameters())
    assert ("Blocks", str(nb)) in info.details and ("Features", str(nf)) in info.details
    image = frame()
    out = apply_model(model, image, tile=0)
    assert out.shape == (32 * scale, 40 * scale, 3)
    np.testing.assert_allclose(out, reference(net, image), atol=1e-5)


def test_original_esrgan_layout_is_renamed_and_loads(tmp_path: Path) -> None:
    net = randomised(RRDBNet(3, 3, 8, 2, 4, 2, 1))
    path = save(net, tmp_path / "old.pth", to_original_esrgan(net.state_dict(), 2))
    model = load_model(path, CPU, "fp32", channels_last=False)
    assert model.info.architecture == "RRDBNet (ESRGAN)" and model.info.scale == 4
    image = frame(16, 20)
    np.testing.assert_allclose(apply_model(model, image, tile=0), reference(net, image), atol=1e-5)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
@pytest.mark.parametrize(("nf", "convs", "scale"), [(8, 1, 4), (16, 3, 2), (8, 2, 1)])
def test_srvgg_compact_is_recognised(tmp_path: Path, suffix: str, nf: int, convs: int,
                                     scale: int) -> None:
    net = randomised(SRVGGNetCompact(3, nf, convs, scale))
    model = load_model(save(net, tmp_path / f"compact{suffix}"), CPU, "fp32")
    assert model.info.architecture.startswith("SRVGGNetCompact") and model.info.scale == scale
    assert ("Convolutions", str(convs)) in model.info.details
    image = frame()
    out = apply_model(model, image, tile=0)
    assert out.shape == (32 * scale, 40 * scale, 3)
    np.testing.assert_allclose(out, reference(net, image), atol=1e-5)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
@pytest.mark.parametrize(("width", "enc", "middle", "dec"),
                         [(8, (1, 1), 1, (1, 1)), (16, (1, 2, 1), 2, (1, 1, 1))])
def test_nafnet_is_recognised_and_pads_odd_sizes(tmp_path: Path, suffix: str, width: int,
                                                 enc: tuple[int, ...], middle: int,
                                                 dec: tuple[int, ...]) -> None:
    net = randomised(nafnet.create(3, width, enc, middle, dec))
    model = load_model(save(net, tmp_path / f"naf{suffix}"), CPU, "fp32")
    info = model.info
    assert (info.architecture, info.purpose, info.scale) == ("NAFNet", "restoration", 1)
    assert info.multiple_of == 2 ** len(enc) and not info.supports_half
    image = frame(30, 37)  # not multiples of 4 or 8: padded and cropped back
    out = apply_model(model, image, tile=0)
    assert out.shape == image.shape
    np.testing.assert_allclose(out, reference(net, image), atol=1e-4)


def test_checkpoint_wrappers_and_module_prefixes_are_unwrapped(tmp_path: Path) -> None:
    net = randomised(SRVGGNetCompact(3, 8, 1, 2))
    wrapped = {"params_ema": {f"module.{k}": v for k, v in net.state_dict().items()},
               "iter": 1000}
    path = tmp_path / "checkpoint.pth"
    torch.save(wrapped, path)
    assert describe_model(path).scale == 2


# -- tiles ---------------------------------------------------------------------------------


def test_tiled_equals_untiled_when_overlap_covers_the_receptive_field(tmp_path: Path) -> None:
    # 4 convolutions: receptive radius 4 px, within a quarter of the 16 px overlap.
    net = randomised(SRVGGNetCompact(3, 8, 2, 4))
    model = load_model(save(net, tmp_path / "c.safetensors"), CPU, "fp32")
    image = frame(48, 64)
    whole = apply_model(model, image, tile=0)
    tiled = apply_model(model, image, tile=32, overlap=16)
    assert tiled.shape == whole.shape == (192, 256, 3)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_tiles_of_a_deep_net_leave_no_visible_seam(tmp_path: Path) -> None:
    net = randomised(RRDBNet(3, 3, 8, 1, 4, 2, 1))
    model = load_model(save(net, tmp_path / "r.safetensors"), CPU, "fp32")
    image = frame(40, 56)
    whole = apply_model(model, image, tile=0)
    tiled = apply_model(model, image, tile=32, overlap=16)
    # Far below one 8-bit code value (1/255) everywhere.
    assert np.abs(tiled - whole).max() < 1e-3
    # Without overlap the tile borders show.
    butted = apply_model(model, image, tile=32, overlap=0)
    assert np.abs(butted - whole).max() > np.abs(tiled - whole).max()


def test_nafnet_tiles_blend_smoothly(tmp_path: Path) -> None:
    # Its channel attention averages over each tile, so tiles differ a little by design.
    net = randomised(nafnet.create(3, 8, (1, 1), 1, (1, 1)))
    model = load_model(save(net, tmp_path / "n.safetensors"), CPU, "fp32")
    image = frame(48, 64)
    diff = np.abs(apply_model(model, image, tile=32, overlap=16) - apply_model(model, image, tile=0))
    assert diff.mean() < 0.02


# -- safety and bad files ------------------------------------------------------------------


class _Payload:
    """Unpickling this calls os.system: creating the marker file proves code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch '{self.marker}'",))


@pytest.mark.parametrize("container", ["torch-zip", "pickle-2", "pickle-5"])
def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path, container: str) -> None:
    marker = tmp_path / "pwned"
    evil = {"x": _Payload(marker), "conv_first.weight": torch.zeros(1)}
    path = tmp_path / "evil.pth"
    if container == "torch-zip":
        torch.save(evil, path)
    else:
        path.write_bytes(pickle.dumps(evil, protocol=int(container[-1])))
    with pytest.raises(OperatorError) as caught:
        load_model(path, CPU)
    message = str(caught.value)
    assert message.startswith(f"model: {path}: refused") and "\n" not in message
    if container != "pickle-5":  # torch stops at protocol 5's first opcode, before the call
        assert "(posix.system)" in message or "(nt.system)" in message
    assert not marker.exists()
    # Through the operator too (what a user with --set model.path=evil.pth sees).
    op = registry.create("model", {"path": str(path)})
    with pytest.raises(OperatorError, match="refused"):
        op.process(Window(frames=(frame(),), indices=(0,), center=0, shot=(0, 0)))
    assert not marker.exists()


def test_bad_model_files_give_one_line_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00\x01not a model")
    with pytest.raises(OperatorError, match="not a valid .safetensors file"):
        load_model(garbage, CPU)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(b"PK\x03\x04broken")
    with pytest.raises(OperatorError, match="not a readable PyTorch weights file"):
        load_model(truncated, CPU)
    unknown = tmp_path / "mystery.safetensors"
    save_file({"encoder.layer.weight": torch.zeros(4, 4)}, str(unknown))
    with pytest.raises(OperatorError, match="architecture not recognised.*supported: RRDBNet"):
        load_model(unknown, CPU)
    misfit = tmp_path / "misfit.safetensors"
    state = randomised(SRVGGNetCompact(3, 8, 1, 2)).state_dict()
    state["body.2.weight"] = torch.zeros(8, 5, 3, 3)
    save_file({k: v.contiguous() for k, v in state.items()}, str(misfit))
    with pytest.raises(OperatorError, match="weights do not fit|tensors do not fit"):
        load_model(misfit, CPU)
    with pytest.raises(OperatorError, match="^model: .*missing.pth: no such model file$"):
        registry.create("model", {"path": str(tmp_path / "missing.pth")})
    with pytest.raises(OperatorError, match="not a model file"):
        registry.create("model", {"path": str(Path(__file__))})


def test_model_operator_without_a_file_says_what_to_set() -> None:
    op = registry.create("model")
    assert op.describe() is None  # type: ignore[attr-defined]
    with pytest.raises(OperatorError, match=r"^model: no model file chosen .*model\.path=FILE"):
        op.process(Window(frames=(frame(),), indices=(0,), center=0, shot=(0, 0)))


# -- the operator in the pipeline and in an export -----------------------------------------


class Frames:
    def __init__(self, image: np.ndarray, count: int = 3) -> None:
        self.image, self.count = image, count

    def read(self, index: int) -> np.ndarray:
        return self.image


def test_model_operator_upscales_in_pipeline_and_preview(tmp_path: Path) -> None:
    net = randomised(SRVGGNetCompact(3, 8, 1, 4))
    path = save(net, tmp_path / "x4.safetensors")
    recipe = Recipe.of([Step.create("model", {"path": str(path), "tile": 32})])
    image = frame(32, 48)
    evaluator = Evaluator(Frames(image))
    full = evaluator.evaluate(0, ShotPlan.single(3, recipe))
    assert full.restored.shape == (128, 192, 3) and full.original.shape == (32, 48, 3)
    np.testing.assert_allclose(full.restored, reference(net, image), atol=1e-5)
    assert full.masks[0].shape == (128, 192)
    half = evaluator.evaluate(0, ShotPlan.single(3, recipe), scale=0.5)
    assert half.restored.shape == (64, 96, 3)  # 4× of the half-size preview frame
    info = Step.create("model", {"path": str(path)}).build().describe()  # type: ignore[attr-defined]
    assert info.summary().startswith("SRVGGNetCompact") and "4× super-resolution" in info.summary()
    assert ("Scale", "4×") in info.rows()


def test_strength_blends_with_the_upscaled_input(tmp_path: Path) -> None:
    path = save(randomised(SRVGGNetCompact(3, 8, 1, 2)), tmp_path / "x2.safetensors")
    image = frame()
    window = Window(frames=(image,), indices=(0,), center=0, shot=(0, 0))
    full = registry.create("model", {"path": str(path)}).process(window).frame
    none = registry.create("model", {"path": str(path), "strength": 0}).process(window).frame
    half = registry.create("model", {"path": str(path), "strength": 0.5}).process(window).frame
    assert none.shape == full.shape == (64, 80, 3)
    # strength 0 is the input, merely resized (its mean is kept).
    assert abs(float(none.mean()) - float(image.mean())) < 0.01
    np.testing.assert_allclose(half, (full + none) / 2, atol=1e-5)


def test_export_is_sized_by_the_model(tmp_path: Path) -> None:
    source = write_index_clip(tmp_path / "src.mov", "h264", frames=4, width=64, height=48)
    path = save(randomised(SRVGGNetCompact(3, 8, 1, 2)), tmp_path / "x2.pth")
    recipe = Recipe.of([Step.create("model", {"path": str(path)})])
    out = tmp_path / "big.mkv"
    progress = list(render(RenderJob(source, out, ShotPlan.single(4, recipe))))
    assert progress[-1].finished
    info = probe(out)
    assert (info.width, info.height, info.frame_count) == (128, 96, 4)


def test_bf16_on_the_cpu_is_close_to_fp32(tmp_path: Path) -> None:
    path = save(randomised(SRVGGNetCompact(3, 8, 2, 2)), tmp_path / "c.safetensors")
    image = frame()
    fp32 = apply_model(load_model(path, CPU, "fp32"), image, tile=0)
    bf16 = apply_model(load_model(path, CPU, "bf16"), image, tile=0)
    assert np.abs(bf16 - fp32).mean() < 0.01
    with pytest.raises(OperatorError, match="fp16 needs a GPU"):
        load_model(path, CPU, "fp16")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fp16_on_cuda_is_close_to_fp32(tmp_path: Path) -> None:
    path = save(randomised(RRDBNet(3, 3, 8, 1, 4, 2, 1)), tmp_path / "r.safetensors")
    image = frame(64, 80)
    cpu = apply_model(load_model(path, CPU, "fp32"), image, tile=0)
    gpu = load_model(path, torch.device("cuda"), "auto")
    assert gpu.dtype == torch.float16
    assert np.abs(apply_model(gpu, image, tile=32, overlap=16) - cpu).mean() < 0.01


# -- device --------------------------------------------------------------------------------


def test_device_selection() -> None:
    assert select_device("cpu") == CPU
    assert select_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(NitrateError, match="unknown device"):
        select_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(NitrateError, match="^device 'cuda': no CUDA GPU is available"):
            select_device("cuda")
    before = default_device()
    try:
        assert set_default_device("cpu") == CPU and default_device() == CPU
    finally:
        set_default_device(before.type)


def test_engine_import_does_not_import_torch() -> None:
    code = ("import sys, engine.ops.registry, engine.device, engine.models; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, timeout=60)
    assert result.returncode == 0


# -- the "path" parameter kind -------------------------------------------------------------


@dataclass(frozen=True)
class PathParams(Params):
    file: str = param("", label="File", file_types=("*.safetensors",))
    amount: float = param(1.0, label="Amount", minimum=0.0, maximum=2.0)


def test_path_parameters_describe_and_validate_themselves() -> None:
    spec = PathParams.spec("file")
    assert (spec.kind, spec.default, spec.file_types) == ("path", "", ("*.safetensors",))
    assert not spec.keyframable
    assert spec.to_json()["file_types"] == ["*.safetensors"]
    assert PathParams.spec("amount").to_json()["file_types"] == []
    assert PathParams(file=Path("/models/x.pth")).file == "/models/x.pth"  # type: ignore[arg-type]
    assert PathParams.from_mapping({"file": "  a b.pth "}).file == "a b.pth"
    with pytest.raises(ValueError, match="^file must be a file path, got 3$"):
        PathParams(file=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="on one line"):
        PathParams(file="a\nb")
    with pytest.raises(OperatorError, match="^model: path must be a file path"):
        registry.create("model", {"path": 1.5})
    recipe = Recipe.of([Step.create("model")])
    assert Step.from_json(recipe.steps[0].to_json()) == recipe.steps[0]


# -- the optional spandrel path (spandrel itself cannot be installed here: no torchvision) -


class _FakeDescriptor:
    """The slice of spandrel's ImageModelDescriptor API that the bridge reads."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.architecture = type("Arch", (), {"name": "SwinIR"})()
        self.purpose = "SR"
        self.scale = 2
        self.input_channels = self.output_channels = 3
        self.size_requirements = type("Req", (), {"multiple_of": 8, "minimum": 16})()
        self.tiling = type("Tiling", (), {"name": "SUPPORTED"})()
        self.supports_half, self.supports_bfloat16 = False, True

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).clamp(0, 1)


def test_unknown_architectures_go_through_spandrel_when_it_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.models import spandrel_bridge

    net = randomised(SRVGGNetCompact(3, 8, 1, 2))
    received: list[dict[str, torch.Tensor]] = []

    class Loader:
        def __init__(self, device: torch.device) -> None:
            pass

        def load_from_state_dict(self, state: dict[str, torch.Tensor]) -> _FakeDescriptor:
            received.append(state)
            net.load_state_dict({k.removeprefix("swin."): v for k, v in state.items()})
            return _FakeDescriptor(net)

    fake = type("spandrel", (), {"ModelLoader": Loader, "ImageModelDescriptor": _FakeDescriptor})
    monkeypatch.setattr(spandrel_bridge, "_spandrel", fake)
    # Names our architectures do not claim: only spandrel can load this file.
    path = tmp_path / "swinir.safetensors"
    save_file({f"swin.{k}": v.contiguous() for k, v in net.state_dict().items()}, str(path))
    model = load_model(path, CPU, "fp32")
    info = model.info
    assert (info.architecture, info.backend, info.purpose, info.scale) == \
        ("SwinIR", "spandrel", "super-resolution", 2)
    assert info.multiple_of == 8 and not info.supports_half
    assert info.parameters == sum(p.numel() for p in net.parameters())
    assert set(received[0]) == {f"swin.{k}" for k in net.state_dict()}  # tensors, not the file
    image = frame(30, 36)  # padded to multiples of 8 and cropped back
    out = apply_model(model, image, tile=0)
    assert out.shape == (60, 72, 3)
    # Away from the padded bottom and right edges (receptive radius 3 px), the same result.
    np.testing.assert_allclose(out[:48, :60], reference(net, image)[:48, :60], atol=1e-5)


def test_without_spandrel_unknown_files_name_the_optional_extra(tmp_path: Path) -> None:
    path = tmp_path / "swinir.safetensors"
    save_file({"layers.0.attn.qkv.weight": torch.zeros(6, 2)}, str(path))
    with pytest.raises(OperatorError, match=r"install the 'models' extra \(spandrel\)"):
        load_model(path, CPU)
