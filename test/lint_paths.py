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
"""The files the ament linters check: the package, its tests, its launch files and setup.py."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINTED = [REPO / 'mono_depth_ros', REPO / 'test', REPO / 'launch', REPO / 'setup.py']


def python_files() -> list[Path]:
    """Return every Python file the linters check."""
    files = []
    for path in LINTED:
        files.extend(sorted(path.rglob('*.py')) if path.is_dir() else [path])
    return files
