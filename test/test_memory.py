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
Memory after one large frame: the node's resident memory comes back down.

The node runs in its own process (its executable pins glibc's mmap threshold) under a camera over
DDS, with the Fast DDS profile the launch file gives it; its RSS is read from /proc while ordinary
frames, one 12 MP frame and ordinary frames again go through every output.
"""
from __future__ import annotations

import os

from mono_depth_ros import bench_node
from mono_depth_ros.models.registry import DEMO_MODEL


def test_one_large_frame_leaves_no_memory_behind(ros):
    assert os.environ.get('RMW_FASTRTPS_USE_QOS_FROM_XML') == '1', 'the profile must apply'
    driver = bench_node.CameraDriver(reliable_input=True)
    try:
        memory = bench_node.memory_run(driver, 640, 480, (3000, 4000),
                                       {'model': DEMO_MODEL, 'device': 'cpu'},
                                       timeout=180.0)
    finally:
        driver.close()
    # The large frame went through every output: hundreds of MB at its peak.
    assert memory['rss_peak_mb'] - memory['rss_before_mb'] > 300, memory
    # With rmw_fastrtps's own history memory policy the node kept about 450 MB of it for good.
    assert memory['kept_mb'] < 100, memory
