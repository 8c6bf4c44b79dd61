"""Shot (cut) detection, robust to old-film flicker, dust, blotches, grain and weave.

    cuts = detect_cuts(reader)                       # [Cut(frame, kind, confidence), ...]
    shots = shots_from_cuts(reader.info.frame_count, cuts)   # [(first, last), ...] inclusive
"""

from engine.shots.cuts import KINDS, Cut, ShotError, shots_from_cuts
from engine.shots.detect import CutAnalysis, analyse_cuts, detect_cuts

__all__ = ["KINDS", "Cut", "CutAnalysis", "ShotError", "analyse_cuts", "detect_cuts",
           "shots_from_cuts"]
