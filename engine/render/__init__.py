"""Export jobs: a generator of Progress with a cancel token; atomic output."""

from engine.render.export import CancelToken, Progress, RenderJob, render
from engine.render.jobs import job_for_project

__all__ = ["CancelToken", "Progress", "RenderJob", "job_for_project", "render"]
