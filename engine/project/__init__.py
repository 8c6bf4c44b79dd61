"""Projects: clips, shots, recipes; versioned JSON files saved atomically."""

from engine.project.io import load_project, new_project, save_project
from engine.project.model import Clip, OutputSettings, Project, Shot
from engine.project.recipe import Recipe, Step

__all__ = [
    "Clip", "OutputSettings", "Project", "Recipe", "Shot", "Step",
    "load_project", "new_project", "save_project",
]
