"""The inspector says what a chosen model file is, without blocking the window."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from engine.models.archs.srvgg import SRVGGNetCompact
from engine.project.recipe import Recipe, Step
from ui.document import Document, Target
from ui.inspector import Inspector
from ui.model_info import READING


def test_a_model_step_shows_the_model_description(qtbot, clip: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    weights = tmp_path / "tiny_x2.safetensors"
    save_file(SRVGGNetCompact(3, 8, 2, 2).state_dict(), str(weights))
    document = Document()
    document.open(clip)
    inspector = Inspector(document)
    qtbot.addWidget(inspector)
    recipe = Recipe.of([Step.create("model", {"path": str(weights)})])
    document.edit_recipe(Target(0, None), recipe, "Add model")
    inspector.sync(rebuild=True)
    label = inspector.cards[0].model_label
    assert label is not None
    qtbot.waitUntil(lambda: label.text() not in ("", READING), timeout=30_000)
    inspector.models.wait()
    assert "2×" in label.text() and "RGB → RGB" in label.text(), label.text()
