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
How the node's process allocates camera-sized buffers (glibc's malloc).

Every message the node publishes is copied into a buffer of its own size (Fast DDS's ``DYNAMIC``
history memory policy in ``config/fastdds_shm.xml``, which frees it with the message rather than
keeping each history slot at the largest message ever sent). glibc serves such a buffer from its
heap below its mmap threshold, else maps fresh pages and unmaps them on free. Left to itself the
threshold moves with the sizes it sees, and measured here that made each 5 MB cloud cost a fresh
mapping (publishing took 10-20 times longer) and left heap grown by one 12 MP frame in place.
Pinned at glibc's own ceiling, the buffers of ordinary frames (a 1080p cloud is 33 MB) come from
the heap and are reused, and the buffers of a very large frame are mapped and given back.
"""
from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest dynamic threshold on 64-bit machines


def pin_mmap_threshold(size: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at ``size`` bytes; False where there is no glibc malloc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        return bool(libc.mallopt(M_MMAP_THRESHOLD, size))
    except (OSError, AttributeError):
        return False
