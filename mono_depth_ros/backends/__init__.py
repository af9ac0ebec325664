"""Inference backends: one object per runtime that turns a resized frame into raw predictions.

Every backend has ``infer(rgb) -> dict[str, numpy.ndarray]``: ``rgb`` is an ``(H, W, 3)`` uint8
RGB frame already resized to the network's input size; the result holds ``'depth'``, ``(h, w)``
float32 in the units of the model's ``output_kind``, and for segmentation models ``'labels'``,
``(h, w)`` uint8 class ids. Backends also expose ``device`` and ``precision`` (strings for
diagnostics).
"""
