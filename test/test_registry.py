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

"""The zoo registry, tested over every registered variant."""
from __future__ import annotations

from mono_depth_ros.models.registry import create_model, DEMO_MODEL, get_spec, list_models
from mono_depth_ros.models.spec import InputPolicy, OUTPUT_KINDS
import pytest

SPECS = list_models()


@pytest.mark.parametrize('spec', SPECS, ids=lambda s: s.name)
def test_every_variant_is_complete(spec):
    assert spec.output_kind in OUTPUT_KINDS
    assert spec.license_terms and spec.source
    if spec.weights is None:  # an architecture to train: it says how to get weights
        assert spec.builder is not None and 'mono-depth train' in spec.source
    else:
        assert spec.weights.url or spec.weights.embedded
    assert (spec.builder is None) == (spec.backend != 'torch')
    assert 0 < spec.min_depth < spec.max_depth
    height, width = spec.input_policy.network_size(480, 640)
    assert height % spec.input_policy.multiple == 0 and width % spec.input_policy.multiple == 0


def test_unknown_names_suggest_close_ones():
    with pytest.raises(KeyError, match='Did you mean: depth-anything-v2-small'):
        get_spec('depth-anything-v2-smal')


def test_the_default_model_ships_with_the_package():
    spec = get_spec(DEMO_MODEL)
    assert spec.weights.embedded
    assert spec.has_segmentation and spec.output_kind == 'metric'
    assert create_model(DEMO_MODEL, weights='auto') is not None


@pytest.mark.parametrize('frame, expected', [
    ((480, 640), (518, 686)),   # the official lower-bound resize: nearest multiple of 14
    ((720, 1280), (518, 924)),
    ((375, 1242), (518, 1722)),
    ((100, 100), (518, 518)),
])
def test_depth_anything_input_policy_matches_the_official_resize(frame, expected):
    assert get_spec('depth-anything-v2-small').input_policy.network_size(*frame) == expected


def test_fixed_input_policy_rounds_up_to_the_stride():
    assert InputPolicy(height=240, width=321, multiple=32).network_size(1, 1) == (256, 352)
    with pytest.raises(ValueError):
        InputPolicy(height=240)
