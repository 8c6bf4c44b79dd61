"""Framing: the picture area of a scan kept and fitted to a delivery size at export
(`fit`), and the scan's uniform surround found to set it (`picture_area`)."""

from engine.framing.fit import FITS, Framing, apply_framing
from engine.framing.picture_area import detect_clip_crop, detect_crop

__all__ = ["FITS", "Framing", "apply_framing", "detect_clip_crop", "detect_crop"]
