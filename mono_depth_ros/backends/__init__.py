# Copyright 2026 The mono_depth_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Inference backends: one object per runtime that turns a resized frame into raw predictions.

Every backend has ``infer(rgb) -> dict[str, numpy.ndarray]``: ``rgb`` is an ``(H, W, 3)`` uint8
RGB frame already resized to the network's input size; the result holds ``'depth'``, ``(h, w)``
float32 in the units of the model's ``output_kind``, and for segmentation models ``'labels'``,
``(h, w)`` uint8 class ids. Backends also expose ``device`` and ``precision`` (strings for
diagnostics).
"""
