"""The processing report: a printable, self-contained HTML record of what was done to each
shot (recipes, parameters, keyframes, manual repairs, pixels changed, before/after)."""

from engine.report.html import build_report
from engine.report.measure import ShotMeasure, ShotMeasurer, StageChange, Thumbnail

__all__ = ["ShotMeasure", "ShotMeasurer", "StageChange", "Thumbnail", "build_report"]
