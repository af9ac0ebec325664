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

"""The feature-fusion U-Net family: shapes, heads, checkpoints, ONNX export and the real node."""
from __future__ import annotations

import math

from mono_depth_ros import export, ros_io
from mono_depth_ros.cli import main
from mono_depth_ros.data.synthetic import CLASSES, SyntheticScenes
from mono_depth_ros.estimator import DepthEstimator
from mono_depth_ros.models.registry import create_model, get_spec
from mono_depth_ros.models.unet_ffm import FeatureFusion, UNetFFM
from mono_depth_ros.node import MonoDepthNode
from mono_depth_ros.params import ConfigError
from mono_depth_ros.weights import CheckpointError
import numpy as np
import pytest
from rclpy.parameter import Parameter
from test_node import send_until_received, start
import torch

# Module-wide on one thread: a shared 2-core machine (restored for the other modules).
pytestmark = pytest.mark.usefixtures('one_torch_thread')

VARIANTS = ('unet-ffm-mnv3', 'unet-ffm-mnv3-seg')


def random_weights(name: str, path, seed: int = 0):
    """Save a randomly initialised ``name`` as a .safetensors file; return the module."""
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    module = create_model(name).eval()
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    return module


@pytest.mark.parametrize('name', VARIANTS)
def test_full_resolution_heads_as_configured(name):
    spec = get_spec(name)
    module = create_model(name)
    with torch.no_grad():
        out = module(torch.randn(2, 3, 64, 96))
    assert set(out) == ({'depth', 'segm'} if spec.has_depth else {'segm'})
    assert out['segm'].shape == (2, len(CLASSES), 64, 96)
    assert spec.classes == CLASSES and spec.input_policy.network_size(240, 320) == (256, 320)
    if spec.has_depth:
        assert out['depth'].shape == (2, 1, 64, 96)
        assert (out['depth'] >= 0.1 - 1e-6).all() and (out['depth'] <= 20.0 + 1e-4).all()


def test_decoder_widths_ffm_blocks_and_one_by_one_heads():
    module = UNetFFM()
    assert [block.fuse[-1][0].out_channels for block in module.decoder] == [256, 128, 64, 32, 16]
    # Skips at strides 16, 8, 4 and 2 from the shared MobileNetV3 encoder, none at full size.
    skips = [block.skip[0].in_channels if block.skip is not None else 0
             for block in module.decoder]
    assert skips == [*module.encoder.pyramid_channels[-2::-1], 0]
    upsample = module.decoder[0].upsample
    assert isinstance(upsample, torch.nn.ConvTranspose2d)
    assert upsample.kernel_size == (1, 1) and upsample.stride == (2, 2)
    for head in (module.depth, module.segm):
        assert head.kernel_size == (1, 1) and head.in_channels == 16
    assert UNetFFM(num_classes=0).segm is None
    with pytest.raises(ValueError, match='depth head .* segmentation head'):
        UNetFFM(num_classes=0, depth=False)


def test_feature_fusion_doubles_the_resolution_and_mixes_the_skip():
    torch.manual_seed(0)
    block = FeatureFusion(8, 4, 6).eval()
    x, skip = torch.randn(1, 8, 5, 7), torch.randn(1, 4, 10, 14)
    with torch.no_grad():
        out = block(x, skip)
        other = block(x, skip + 1.0)
    assert out.shape == (1, 6, 10, 14)
    assert not torch.equal(out, other)
    assert FeatureFusion(8, 0, 6)(x).shape == (1, 6, 10, 14)


def test_depth_is_the_clamped_exponential_of_the_log_depth_head():
    module = UNetFFM().eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        features = module.forward_encoder(x)
        raw = module.head_log_depth(features, x.shape[-2:])['log_depth']
        depth = module(x)['depth']
    assert torch.allclose(depth, raw.clamp(math.log(0.1), math.log(20.0)).exp())


def test_sizes_that_are_not_multiples_of_32_are_refused():
    with pytest.raises(ValueError, match='multiples of 32, got 48x64'):
        UNetFFM()(torch.zeros(1, 3, 48, 64))


def test_checkpoint_round_trip_is_strict(tmp_path):
    source = random_weights('unet-ffm-mnv3', tmp_path / 'unet.safetensors', seed=3)
    target = create_model('unet-ffm-mnv3', weights=str(tmp_path / 'unet.safetensors'))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(source(x)['depth'], target(x)['depth'])
    with pytest.raises(CheckpointError, match='depth.weight'):
        create_model('unet-ffm-mnv3-seg', weights=str(tmp_path / 'unet.safetensors'))
    with pytest.raises(Exception, match='no official weights'):
        create_model('unet-ffm-mnv3', weights='auto')


@pytest.mark.parametrize('name', VARIANTS)
def test_export_reproduces_pytorch(tmp_path, capsys, name):
    pytest.importorskip('onnxruntime')
    weights = tmp_path / f'{name}.safetensors'
    random_weights(name, weights)
    path = tmp_path / f'{name}.onnx'
    assert main(['export', '--model', name, '--weights', str(weights), '--size', '96x64',
                 '--out', str(path)]) == 0
    out = capsys.readouterr().out
    names = export.output_names(get_spec(name))
    assert names == (('depth', 'segm') if name == 'unet-ffm-mnv3' else ('segm',))
    for output in names:
        assert f'{output}: max abs error' in out and 'FAILED' not in out
    checks = export.verify_onnx(create_model(name, str(weights)), get_spec(name), path, (64, 96))
    assert [c.name for c in checks] == list(names)
    assert all(c.passed and not c.reference_is_zero for c in checks)


def test_the_node_runs_trained_weights_from_a_file(graph, tmp_path):
    weights = tmp_path / 'unet-ffm-mnv3.safetensors'
    random_weights('unet-ffm-mnv3', weights, seed=5)
    scene = SyntheticScenes(seed=11, count=1, width=320, height=240)[0]
    node, rig = start(graph, outputs=('depth/image', 'segmentation/labels'),
                      model='unet-ffm-mnv3', weights=str(weights), device='cpu')
    header, msg = send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)
    expected = DepthEstimator.from_name('unet-ffm-mnv3', weights=str(weights), device='cpu'
                                        ).estimate(scene.rgb, scene.intrinsics)
    assert (msg.height, msg.width) == (240, 320)
    np.testing.assert_allclose(ros_io.depth_from_image(msg), expected.depth, rtol=1e-5,
                               equal_nan=True)
    labels = rig.wait_for('segmentation/labels', header)
    np.testing.assert_array_equal(
        np.frombuffer(bytes(labels.data), np.uint8).reshape(240, 320), expected.labels)


def test_a_segmentation_only_variant_is_refused_where_depth_is_needed(ros, tmp_path):
    weights = tmp_path / 'seg.safetensors'
    random_weights('unet-ffm-mnv3-seg', weights)
    with pytest.raises(ValueError, match='segmentation head only'):
        DepthEstimator.from_name('unet-ffm-mnv3-seg', weights=str(weights), device='cpu')
    with pytest.raises(ConfigError, match='segmentation head only'):
        MonoDepthNode(parameter_overrides=[Parameter('model', value='unet-ffm-mnv3-seg'),
                                           Parameter('weights', value=str(weights))])
