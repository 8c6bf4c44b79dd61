"""Upscale: the sizes a user asks for (factor, target width, preview scale), Lanczos that
keeps the picture and restores crispness, neural upscaling through a model file, and an
export that follows the new size."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import OperatorError
from engine.media import probe
from engine.ops import registry
from engine.ops.base import Window
from engine.pipeline import ShotPlan
from engine.project.recipe import Recipe, Step
from engine.render import RenderJob, render
from engine.synth.index_clip import write_index_clip


def window(image: np.ndarray, scale: float = 1.0) -> Window:
    return Window(frames=(image,), indices=(0,), center=0, shot=(0, 0), scale=scale)


def scene(h: int = 48, w: int = 64) -> np.ndarray:
    """Smooth shading with a few hard edges: what an upscaler must keep sharp."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([xx / w, yy / h, 0.5 + 0.3 * np.sin(xx / 5)], axis=2) * 0.6 + 0.2
    img[h // 4: h // 2, w // 4: w // 2] = (0.9, 0.85, 0.8)
    img[h // 2:, w // 2 + 5: w // 2 + 8] = 0.05
    return img.astype(np.float32)


def upscale(image: np.ndarray, scale: float = 1.0, **values: object) -> np.ndarray:
    return registry.create("upscale", values).process(window(image, scale)).frame


@pytest.mark.parametrize(("factor", "size"), [(1.5, (72, 96)), (2, (96, 128)), (3, (144, 192)),
                                              (4, (192, 256))])
def test_factor_sets_the_size(factor: float, size: tuple[int, int]) -> None:
    assert upscale(scene(), factor=factor).shape == (*size, 3)


def test_target_width_keeps_the_aspect_ratio_and_follows_the_preview_scale() -> None:
    assert upscale(scene(), width=160).shape == (120, 160, 3)
    # Half-resolution preview: the frame is 32×24 and the output half the export's width.
    half = cv2.resize(scene(), (32, 24), interpolation=cv2.INTER_AREA)
    assert upscale(half, scale=0.5, width=160).shape == (60, 80, 3)
    assert upscale(half, scale=0.5, factor=2).shape == (48, 64, 3)
    frame = scene()
    assert upscale(frame, factor=1) is frame  # nothing to do


def test_lanczos_keeps_the_picture_and_detail_sharpens_edges() -> None:
    image = scene()
    plain = upscale(image, factor=2, detail=0)
    sharp = upscale(image, factor=2, detail=0.8)
    # Brought back down, the upscale is the picture it started from.
    back = cv2.resize(plain, (64, 48), interpolation=cv2.INTER_AREA)
    assert np.abs(back - image).mean() < 0.01
    # Detail raises edge contrast (gradient energy) without shifting the mean level.
    def gradient(img: np.ndarray) -> float:
        luma = img.mean(axis=2)
        return float(np.abs(np.diff(luma, axis=1)).mean() + np.abs(np.diff(luma, axis=0)).mean())

    assert gradient(sharp) > gradient(plain) * 1.05
    assert abs(float(sharp.mean()) - float(plain.mean())) < 0.005
    # Luma only: the sharpening adds the same amount to R, G and B (no colour fringes).
    added = sharp - plain
    assert np.abs(added[..., 0] - added[..., 1]).max() < 1e-5


def test_lanczos_edges_are_steeper_than_bilinear() -> None:
    image = scene()
    bilinear = cv2.resize(image, (128, 96), interpolation=cv2.INTER_LINEAR)
    plain = upscale(image, factor=2, detail=0)
    ours = upscale(image, factor=2)

    def steepest(img: np.ndarray) -> float:  # across the bright box's left edge (x 32)
        return float(np.abs(np.diff(img[36, 26:40].mean(axis=1))).max())

    assert steepest(bilinear) < steepest(plain) < steepest(ours)


@pytest.fixture(scope="module")
def x4_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from safetensors.torch import save_file

    from engine.models.archs.srvgg import SRVGGNetCompact

    torch.manual_seed(3)
    net = SRVGGNetCompact(3, 8, 1, 4)
    path = tmp_path_factory.mktemp("upscale") / "x4.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return path


def test_neural_upscale_follows_the_requested_size(x4_model: Path) -> None:
    image = scene()
    native = upscale(image, method="model", model_path=str(x4_model), factor=4)
    assert native.shape == (192, 256, 3)
    # A 4× model serving a 2× request: its output is area-averaged down to the request.
    two = upscale(image, method="model", model_path=str(x4_model), factor=2)
    assert two.shape == (96, 128, 3)
    expected = cv2.resize(native, (128, 96), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(two, expected, atol=1e-5)
    info = registry.create("upscale", {"method": "model", "model_path": str(x4_model)}).describe()  # type: ignore[attr-defined]
    assert info is not None and info.scale == 4


def test_neural_upscale_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(OperatorError, match=r"^upscale: the model method needs a model file"):
        registry.create("upscale", {"method": "model"})
    with pytest.raises(OperatorError, match=r"^upscale: .*nothing.pth: no such model file$"):
        registry.create("upscale", {"method": "model", "model_path": str(tmp_path / "nothing.pth")})
    from safetensors.torch import save_file

    from engine.models.archs.srvgg import SRVGGNetCompact

    one = tmp_path / "denoise.safetensors"
    save_file({k: v.contiguous() for k, v in SRVGGNetCompact(3, 8, 1, 1).state_dict().items()},
              str(one))
    with pytest.raises(OperatorError, match=r"does not upscale; use it with the model operator"):
        upscale(scene(), method="model", model_path=str(one))


def test_export_follows_the_upscaled_size(tmp_path: Path) -> None:
    source = write_index_clip(tmp_path / "src.mov", "h264", frames=3, width=64, height=48)
    recipe = Recipe.of([Step.create("upscale", {"factor": 1.5})])
    out = tmp_path / "big.mkv"
    assert list(render(RenderJob(source, out, ShotPlan.single(3, recipe))))[-1].finished
    info = probe(out)
    assert (info.width, info.height, info.frame_count) == (96, 72, 3)
