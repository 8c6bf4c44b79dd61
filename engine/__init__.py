"""Nitrate's engine: media I/O, restoration operators, pipeline, projects and rendering.

Never imports Qt (an import-linter contract checks it). Frames inside the engine are
float32 numpy arrays of shape (height, width, 3), RGB, levels 0-1.
"""
