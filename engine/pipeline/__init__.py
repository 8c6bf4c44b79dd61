"""Recipe → frames: shot plans, the evaluator and its cache."""

from engine.pipeline.cache import FrameCache
from engine.pipeline.evaluator import Evaluated, Evaluator, total_radius
from engine.pipeline.shot_plan import PlannedShot, ShotPlan

__all__ = ["Evaluated", "Evaluator", "FrameCache", "PlannedShot", "ShotPlan", "total_radius"]
