"""Pinhole camera geometry: intrinsics, resizing, back-projection (REP 103 optical frame)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of an image of ``width`` x ``height`` pixels.

    Taken from the projection matrix P, as depth_image_proc does. Pixel (u, v) with depth z maps to
    x = (u - cx) * z / fx, y = (v - cy) * z / fy in the optical frame (z forward, x right, y down).
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def scaled(self, width: int, height: int) -> Intrinsics:
        """Return the intrinsics of the same view resized to ``width`` x ``height``.

        Pixel centres are kept aligned, as cv2.resize and torch's ``align_corners=False`` do:
        u' + 0.5 = (u + 0.5) * width / self.width.
        """
        sx = width / self.width
        sy = height / self.height
        return Intrinsics(fx=self.fx * sx, fy=self.fy * sy,
                          cx=(self.cx + 0.5) * sx - 0.5, cy=(self.cy + 0.5) * sy - 0.5,
                          width=width, height=height)
