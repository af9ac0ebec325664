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

"""Depth Anything V2: parity with the official code, the variants, the backbone, checkpoints."""
import json
import math
import re

from conftest import needs_shared
from mono_depth_ros import parity
from mono_depth_ros.models import depth_anything_v2 as dav2
from mono_depth_ros.models.dinov2 import DinoVisionTransformer
from mono_depth_ros.models.registry import get_spec
from mono_depth_ros.weights import CheckpointError
import numpy as np
import pytest
from safetensors.torch import save_file
import torch

SMALL_SPECS = [spec for spec in dav2.SPECS if spec.extra['encoder'] == 'vits']


def official_keys(encoder):
    """Return the official checkpoint's key shapes, from a parity case of the encoder."""
    cases = sorted(needs_shared('parity').glob(f'dav2_{encoder}_*.json'))
    assert cases, f'no parity case of Depth Anything V2 {encoder} in shared/parity'
    return {name: tuple(shape) for name, shape, _ in json.loads(cases[0].read_text())['keys']}


def state_shapes(module):
    return {name: tuple(t.shape) for name, t in module.state_dict().items()}


def filled(encoder='vits', max_depth=None, seed=1):
    module = dav2.DepthAnythingV2(encoder, max_depth).eval()
    parity.fill_by_rule(module, seed)
    return module


def test_every_variant_is_registered():
    names = {spec.name for spec in dav2.SPECS}
    sizes = ('small', 'base', 'large')
    assert names == ({f'depth-anything-v2-{s}' for s in sizes}
                     | {f'depth-anything-v2-metric-{d}-{s}'
                        for d in ('hypersim', 'vkitti') for s in sizes})
    # The default on GPUs: the hash of the official file, 99,222,290 bytes (checked on the Hub).
    assert get_spec('depth-anything-v2-metric-hypersim-small').weights.sha256 == \
        'b782898d8a3e8be1f639de33837ed85e9b4b73e40f8f5e5cd99067588d722545'
    for spec in dav2.SPECS:
        metric = '-metric-' in spec.name
        assert spec.output_kind == ('metric' if metric else 'inverse_relative')
        if metric:
            assert spec.max_depth == (20.0 if 'hypersim' in spec.name else 80.0)
        assert (spec.input_policy.short_side, spec.input_policy.multiple) == (518, 14)
        assert (spec.mean, spec.std) == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
        encoder = spec.extra['encoder']
        assert spec.weights.url.startswith('https://huggingface.co/depth-anything/')
        assert spec.weights.url.endswith(f'_{encoder}.pth') and spec.weights.file_format == 'torch'
        assert re.fullmatch('[0-9a-f]{64}', spec.weights.sha256), spec.name  # every hash known
        assert spec.license_terms == ('Apache-2.0' if encoder == 'vits' else 'CC-BY-NC-4.0')
        assert spec.paper and spec.source and spec.reported


@pytest.mark.parametrize('spec', dav2.SPECS, ids=[s.name for s in dav2.SPECS])
def test_every_variant_builds_with_the_official_keys(spec):
    with torch.device('meta'):  # shapes only: the large ViT builds in milliseconds
        module = spec.builder()
    encoder = spec.extra['encoder']
    params = sum(p.numel() for p in module.parameters())
    assert f'{params / 1e6:.1f}M' == spec.extra['params']
    shapes = state_shapes(module)
    if encoder in ('vits', 'vitb'):
        assert shapes == official_keys(encoder)
    else:
        # ViT-L: the ViT-S layout with 24 blocks, width 1024 and the wider head
        small = official_keys('vits')
        block_suffixes = {k.split('.', 3)[3] for k in small if k.startswith('pretrained.blocks.')}
        expected = {k for k in small if not k.startswith('pretrained.blocks.')}
        expected |= {f'pretrained.blocks.{i}.{s}' for i in range(24) for s in block_suffixes}
        assert set(shapes) == expected
        assert shapes['pretrained.pos_embed'] == (1, 1370, 1024)
        assert shapes['pretrained.blocks.23.mlp.fc1.weight'] == (4096, 1024)
        assert shapes['depth_head.projects.0.weight'] == (256, 1024, 1, 1)
        assert shapes['depth_head.scratch.layer4_rn.weight'] == (256, 1024, 3, 3)
        assert shapes['depth_head.scratch.output_conv1.weight'] == (128, 256, 3, 3)


@pytest.mark.parametrize('spec', SMALL_SPECS, ids=[s.name for s in SMALL_SPECS])
def test_small_variants_run_on_any_multiple_of_14(spec):
    torch.manual_seed(0)
    module = spec.builder().eval()
    x = torch.randn(2, 3, 70, 98)
    with torch.no_grad():
        depth = module(x)['depth']
        single = module(x[1:])['depth']
    assert depth.shape == (2, 1, 70, 98)
    assert torch.isfinite(depth).all() and (depth >= 0).all()
    if spec.output_kind == 'metric':
        assert (depth <= spec.max_depth).all()
    torch.testing.assert_close(depth[1:], single, rtol=1e-4, atol=1e-5)


def test_relative_and_metric_differ_only_in_the_last_activation():
    relative = filled()
    metric = dav2.DepthAnythingV2('vits', max_depth=20.0).eval()
    metric.load_state_dict(relative.state_dict(), strict=True)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 3, 84, 112))
                         .astype(np.float32))
    with torch.no_grad():
        rel = relative(x)['depth'].double()
        met = metric(x)['depth'].double()
    logit = torch.logit(met / 20.0)  # the pre-activation output of both heads
    torch.testing.assert_close(rel, logit.clamp(min=0), rtol=1e-4, atol=1e-4)
    assert (rel > 0).any() and (rel == 0).any()


def test_input_not_a_multiple_of_14_is_rejected():
    module = dav2.DepthAnythingV2('vits')
    with pytest.raises(ValueError, match='multiples of 14.*100x98'):
        module(torch.zeros(1, 3, 100, 98))


def test_unknown_encoder_and_bad_max_depth_are_rejected():
    with pytest.raises(ValueError, match="unknown Depth Anything V2 encoder 'vitg'.*vits"):
        dav2.DepthAnythingV2('vitg')
    with pytest.raises(ValueError, match='max_depth must be a positive'):
        dav2.DepthAnythingV2('vits', max_depth=0.0)


def cubic_matrix(n_out, n_in, scale):
    """Return PyTorch's bicubic resampling (Keys, a=-0.75, edge taps clamped) as a matrix."""
    def kernel(d):
        a, d = -0.75, abs(d)
        if d <= 1:
            return ((a + 2) * d - (a + 3)) * d * d + 1
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a if d < 2 else 0.0

    matrix = np.zeros((n_out, n_in))
    for j in range(n_out):
        source = (j + 0.5) / scale - 0.5
        base = math.floor(source)
        for tap in range(base - 1, base + 3):
            matrix[j, min(max(tap, 0), n_in - 1)] += kernel(source - tap)
    return matrix


def test_pos_embed_interpolation_follows_the_official_formula():
    vit = DinoVisionTransformer(embed_dim=8, depth=1, num_heads=2)
    table = vit.pos_embed.detach().double().numpy()[0]
    grid_h, grid_w = 23, 41  # a 322x574 input: neither square nor 518
    with torch.no_grad():
        ours = vit.interpolated_pos_embed(grid_h, grid_w).double().numpy()[0]
    patches = table[1:].reshape(37, 37, 8)

    def official(offset):
        rows = cubic_matrix(grid_h, 37, (grid_h + offset) / 37)
        cols = cubic_matrix(grid_w, 37, (grid_w + offset) / 37)
        return np.einsum('ik,klc,jl->ijc', rows, patches, cols).reshape(-1, 8)

    np.testing.assert_array_equal(ours[0], table[0])  # the class position is not resized
    np.testing.assert_allclose(ours[1:], official(0.1), rtol=0, atol=1e-6)
    # the 0.1 offset moves the samples: without it the values are measurably different
    assert np.abs(ours[1:] - official(0.0)).max() > 1e-3
    with torch.no_grad():
        assert vit.interpolated_pos_embed(37, 37) is vit.pos_embed  # 518x518: as trained


@pytest.mark.parametrize('suffix', ['.pth', '.safetensors'])
def test_checkpoint_round_trip(tmp_path, suffix):
    source = filled(seed=3)
    path = tmp_path / f'depth_anything_v2_vits{suffix}'
    if suffix == '.pth':
        torch.save(source.state_dict(), path)
    else:
        save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    target = dav2.DepthAnythingV2('vits').eval()
    dav2.load_checkpoint(target, path)
    for name, tensor in source.state_dict().items():
        assert torch.equal(target.state_dict()[name], tensor), name
    x = torch.randn(1, 3, 56, 70)
    with torch.no_grad():
        torch.testing.assert_close(target(x)['depth'], source(x)['depth'], rtol=0, atol=0)


def test_checkpoint_of_another_variant_names_the_misshaped_keys(tmp_path):
    path = tmp_path / 'depth_anything_v2_vits.pth'
    torch.save(filled().state_dict(), path)
    module = dav2.DepthAnythingV2('vitb')
    with pytest.raises(CheckpointError) as error:
        dav2.load_checkpoint(module, path)
    message = str(error.value)
    assert "'depth-anything-v2 vitb (relative)'" in message and str(path) in message
    assert 'missing' not in message and 'unexpected' not in message
    assert 'keys of another shape' in message
    assert 'depth_head.projects.0.weight (48, 384, 1, 1) != (96, 768, 1, 1)' in message


def test_input_policy_keeps_the_short_side_at_518():
    policy = dav2.SPECS[0].input_policy
    for height, width in ((480, 640), (720, 1280), (376, 1241), (640, 480)):
        net_h, net_w = policy.network_size(height, width)
        assert min(net_h, net_w) == 518 and net_h % 14 == 0 and net_w % 14 == 0
        exact = max(height, width) * 518 / min(height, width)
        assert abs(max(net_h, net_w) - exact) < 14


class DepthOnly(torch.nn.Module):

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return self.module(x)['depth']


def test_exports_to_onnx_with_the_same_output(tmp_path):
    ort = pytest.importorskip('onnxruntime')
    module = filled()
    x = torch.from_numpy(np.random.default_rng(4).standard_normal((1, 3, 84, 126))
                         .astype(np.float32))
    path = tmp_path / 'dav2_vits.onnx'
    torch.onnx.export(DepthOnly(module), (x,), str(path), input_names=['image'],
                      output_names=['depth'], opset_version=17, dynamo=False)
    ours = ort.InferenceSession(str(path)).run(None, {'image': x.numpy()})[0]
    with torch.no_grad():
        expected = module(x)['depth'].numpy()
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
