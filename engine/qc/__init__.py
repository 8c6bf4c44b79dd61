"""Quality control of a scan before restoration: whole frames to look at.

    result = check_frames(reader)          # FrameCheck(events=(FrameEvent(frame, kind, …), …))
"""

from engine.qc.frame_check import KINDS, FrameCheck, FrameEvent, check_frames

__all__ = ["KINDS", "FrameCheck", "FrameEvent", "check_frames"]
