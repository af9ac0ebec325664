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
Recorded bags in, depth bags out, without a ROS graph.

``reader`` reads ROS 2 bags (mcap or sqlite3, a rosbag2 folder or a bare storage file) and ROS 1
bags as CDR bytes; ``writer`` writes a rosbag2 bag in segments so that an interrupted run resumes
where it stopped; ``run`` feeds a bag through the node's own per-frame processing; ``fleet``
processes many bags, one after the other or as one Ray task per bag.
"""
