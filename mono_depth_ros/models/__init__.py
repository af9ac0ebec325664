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

"""The model zoo: pure-PyTorch families and their registry."""

from mono_depth_ros.models.registry import create_model, DEFAULT_MODEL, get_spec, list_models
from mono_depth_ros.models.spec import InputPolicy, ModelSpec, Processing, WeightsSource

__all__ = ['create_model', 'DEFAULT_MODEL', 'get_spec', 'InputPolicy', 'list_models', 'ModelSpec',
           'Processing', 'WeightsSource']
