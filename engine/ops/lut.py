"""Apply a colour look-up table (.cube): a log scan converted to video, a look, a
conversion made in another grading tool."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.errors import OperatorError
from engine.lut import Lut, LutError, apply_lut, bundled_luts, load_lut
from engine.ops.base import Operator, Result, Window
from engine.ops.color import level_change_mask
from engine.ops.params import Params, param


@dataclass(frozen=True)
class LutParams(Params):
    file: str = param("", label="LUT file", file_types=("*.cube",),
                      help="A .cube LUT (3D, 1D, or 1D shaper + 3D, as Resolve, Nuke and "
                      "most colour tools write them), or a bundled one by name: "
                      "cineon-to-rec709, rec709-to-cineon")
    strength: float = param(1.0, label="Strength", minimum=0.0, maximum=1.0, step=0.05,
                            help="Mix with the input: 1 = the LUT's output, 0 = unchanged")


class LutOperator(Operator):
    id = "lut"
    label = "LUT"
    description = ("Apply a colour look-up table (.cube): a Cineon log scan to Rec. 709, a "
                   "look or a conversion made in another grading tool.")
    Params = LutParams
    rebuild_params = frozenset({"file"})

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        p = self.params
        assert isinstance(p, LutParams)
        self._lut: Lut | None = None
        if p.file.strip():
            # Read now, so a wrong file is reported when the step is set up.
            try:
                self._lut = load_lut(p.file)
            except LutError as exc:
                raise OperatorError(self.id, str(exc)) from None

    def process(self, window: Window) -> Result:
        p = self.params
        assert isinstance(p, LutParams)
        if self._lut is None:
            names = ", ".join(bundled_luts())
            raise OperatorError(self.id, "no LUT file chosen (set the LUT file parameter, "
                                f"e.g. --set lut.file=FILE.cube, or a bundled one: {names})")
        lut = self._lut

        def look(picture: np.ndarray) -> np.ndarray:
            out = apply_lut(picture, lut)
            if p.strength < 1.0:
                out = cv2.addWeighted(out, p.strength, picture, 1.0 - p.strength, 0.0)
            return out

        frame = window.current
        return Result(look(frame), level_change_mask(frame, look))
