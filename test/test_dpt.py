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
DPT-Hybrid and the study's accelerations.

Configuration, checkpoints in both namings, starting a variant from the official weights,
Performer attention. Parity with the official code is in test_parity.py (the three DPT cases of
../shared/parity).
"""
from __future__ import annotations

import functools
import hashlib
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
import threading
import warnings

from mono_depth_ros.models import dpt, efficientnet
from mono_depth_ros.models.registry import create_model, get_spec
from mono_depth_ros.models.vit_hybrid import Attention, same_padding
from mono_depth_ros.weights import CheckpointError
import numpy as np
import pytest
import torch

KITTI = dpt.DPTConfig(**dpt.KITTI)
SMALL_INPUT = (1, 3, 64, 96)


def count(config: dpt.DPTConfig) -> int:
    with torch.device('meta'):
        return sum(p.numel() for p in dpt.DPT(config).parameters())


def random_model(config: dpt.DPTConfig, seed: int = 0) -> dpt.DPT:
    torch.manual_seed(seed)
    return dpt.DPT(config).eval()


@pytest.fixture(scope='module')
def official():
    """Return a randomly initialised official DPT-Hybrid KITTI model."""
    return random_model(KITTI, seed=1)


@pytest.fixture(scope='module')
def official_file(official, tmp_path_factory):
    """Save the official model as isl-org/DPT saves it: a plain state dict."""
    path = tmp_path_factory.mktemp('weights') / 'dpt_hybrid_kitti.pt'
    torch.save(official.state_dict(), path)
    return path


def test_parameter_counts_are_those_of_the_checkpoints():
    # shared/parity: 123,146,985 for dpt_hybrid (368 keys), 52,268,265 for the study's model A
    assert count(dpt.DPTConfig()) == 123_146_985
    assert count(get_spec('dpt-hybrid-kitti-a').extra['config']) == 52_268_265
    assert len(dpt.DPT(get_spec('dpt-hybrid-kitti-a').extra['config']).pretrained.model
               .blocks) == 2


def test_official_variants_check_the_hash_in_their_file_names():
    for name, digest in (('dpt-hybrid-midas', '501f0c75'), ('dpt-hybrid-kitti', 'cb926ef4'),
                         ('dpt-hybrid-nyu', '2ce69ec7')):
        weights = get_spec(name).weights
        assert weights.url.startswith('https://github.com/isl-org/DPT/releases/download/1_0/')
        assert weights.url.endswith(f'-{digest}.pt') and weights.sha256 == digest
    with pytest.raises(ValueError, match='torch.hub hash'):
        dpt.hub_hash('model.pt')


# A KITTI frame (1242x375): the official variants keep its aspect (run_monodepth.py's 'minimal'
# resize: the scale closest to 1 of net_h/375 and net_w/1242, sides rounded to 32).
@pytest.mark.parametrize('name, metric, size', [
    ('dpt-hybrid-midas', False, (384, 1280)), ('dpt-hybrid-kitti', True, (352, 1216)),
    ('dpt-hybrid-nyu', True, (480, 1600)), ('dpt-hybrid-kitti-r', True, (192, 640)),
    ('dpt-hybrid-kitti-a', True, (192, 640))])
def test_variants(name, metric, size):
    spec = get_spec(name)
    assert (spec.output_kind == 'metric') == metric
    assert spec.input_policy.network_size(375, 1242) == size
    assert spec.mean == spec.std == (0.5, 0.5, 0.5)


def test_metric_output_is_the_official_affine_inverse():
    with torch.device('meta'):
        model = dpt.DPT(KITTI)
    inverse = torch.tensor([0.0, 100.0, 1e4])
    expected = 1.0 / (6.016e-5 * inverse + 0.00579)
    assert torch.allclose(model.to_depth(inverse), expected)
    model.config = dpt.DPTConfig(depth_scale=-1.0)  # the official clamp at 1e-8
    assert model.to_depth(torch.tensor([5.0])).item() == pytest.approx(1e8)


def test_forward_shapes_and_stride_check():
    model = create_model('dpt-hybrid-kitti-a')
    with torch.inference_mode():
        depth = model(torch.randn(SMALL_INPUT))['depth']
    assert depth.shape == (1, 1, 64, 96) and bool((depth > 0).all())
    with pytest.raises(ValueError, match='multiples of 32'):
        model(torch.randn(1, 3, 64, 80))


@pytest.mark.parametrize('fields, message', [
    ({'hooks': (0, 12)}, 'hooks'), ({'hooks': (5, 2)}, 'hooks'), ({'heads': 5}, 'divide'),
    ({'attention': 'linformer'}, 'attention'), ({'backbone': 'vgg'}, 'backbone')])
def test_bad_configurations_are_named(fields, message):
    with pytest.raises(ValueError, match=message):
        dpt.DPTConfig(**fields)


def test_tf_same_padding_puts_the_odd_pixel_after():
    assert same_padding(192, 7, 2) == (2, 3)
    assert same_padding(96, 3, 2) == (0, 1)
    assert same_padding(95, 3, 2) == (1, 1)
    assert same_padding(48, 1, 2) == (0, 0)


def test_official_checkpoint_loads_strictly(official, official_file):
    model = random_model(KITTI, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        get_spec('dpt-hybrid-kitti').load_checkpoint(model, official_file)
    for name, value in official.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name


def test_fork_checkpoint_loads_strictly_with_its_own_names(tmp_path):
    spec = get_spec('dpt-hybrid-kitti-a')
    model = random_model(spec.extra['config'], seed=3)
    state = dpt.fork_layout(model).state_dict()
    assert len(state) == 248 and 'pretrained.readout_oper3.0.project.0.weight' in state
    assert 'pretrained.act_postprocess4.1.weight' in state
    torch.save(state, tmp_path / 'model_a.pt')
    loaded = random_model(spec.extra['config'], seed=4)
    spec.load_checkpoint(loaded, tmp_path / 'model_a.pt')
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name

    del state['pretrained.readout_oper4.0.project.0.bias']
    torch.save(state, tmp_path / 'broken.pt')
    with pytest.raises(CheckpointError, match='readout_oper4.0.project.0.bias'):
        spec.load_checkpoint(loaded, tmp_path / 'broken.pt')


def test_model_a_starts_from_the_official_weights(official, official_file):
    spec = get_spec('dpt-hybrid-kitti-a')
    model = random_model(spec.extra['config'], seed=5)
    with pytest.warns(dpt.AdaptedCheckpointWarning) as caught:
        spec.load_checkpoint(model, official_file)
    message = str(caught[0].message)
    assert 'blocks 2..11 are dropped' in message and '1 attention head(s) of 768' in message
    ours, theirs = model.state_dict(), official.state_dict()
    assert set(ours) < set(theirs)
    assert not any(name.startswith('pretrained.model.blocks.2.') for name in ours)
    for name, value in ours.items():
        assert torch.equal(value, theirs[name]), name
    with torch.inference_mode():
        assert torch.isfinite(model(torch.randn(SMALL_INPUT))['depth']).all()


def test_performer_starts_from_the_softmax_weights(official, official_file):
    config = dpt.DPTConfig(**dpt.KITTI, hooks=(0, 1), attention='performer')
    model = random_model(config, seed=6)
    features = model.pretrained.model.blocks[1].attn.projection_matrix.clone()
    with pytest.warns(dpt.AdaptedCheckpointWarning, match='Performer'):
        dpt.load_checkpoint(model, official_file)
    block = model.pretrained.model.blocks[1].attn
    assert torch.equal(block.qkv.weight, official.pretrained.model.blocks[1].attn.qkv.weight)
    assert torch.equal(block.proj.bias, official.pretrained.model.blocks[1].attn.proj.bias)
    assert torch.equal(block.projection_matrix, features) and features.shape == (266, 64)


def test_favor_estimates_softmax_attention():
    torch.manual_seed(7)
    softmax = Attention(64, heads=4)
    performer = Attention(64, heads=4, kind='performer', features=4096, seed=1)
    performer.load_state_dict({**softmax.state_dict(),
                               'projection_matrix': performer.projection_matrix})
    x = torch.randn(1, 50, 64) * 0.5
    with torch.no_grad():
        exact, estimate = softmax(x), performer(x)
    error = (estimate - exact).norm() / exact.norm()
    assert error < 0.05
    few = Attention(64, heads=4, kind='performer', features=8, seed=1)
    few.load_state_dict({**softmax.state_dict(), 'projection_matrix': few.projection_matrix})
    with torch.no_grad():
        assert (few(x) - exact).norm() / exact.norm() > error  # more features, better estimate


def test_fork_performer_checkpoint_is_fused_into_qkv(tmp_path):
    # the fork's Performer: performer-pytorch SelfAttention, 64-wide heads, q/k/v without bias
    config = dpt.DPTConfig(**dpt.KITTI, pos_embed_align_corners=True, hooks=(0, 1), heads=1,
                           attention='performer', head_dim=64)
    model = random_model(config, seed=8)
    state = {}
    for name, value in dpt.fork_layout(model).state_dict().items():
        block, _, part = name.partition('.attn.')
        if not part:
            state[name] = value
        elif part == 'qkv.weight':
            for letter, chunk in zip('qkv', value.chunk(3)):
                state[f'{block}.attn.to_{letter}.weight'] = chunk
        elif part == 'qkv.bias':
            value.zero_()  # the fork's projections have no bias (this zeroes the model's too)
        elif part == 'projection_matrix':
            state[f'{block}.attn.fast_attention.projection_matrix'] = value
        else:
            state[f'{block}.attn.to_out.{part.split(".")[1]}'] = value
    assert 'pretrained.model.blocks.0.attn.to_q.weight' in state
    assert state['pretrained.model.blocks.0.attn.to_q.weight'].shape == (64, 768)
    torch.save(state, tmp_path / 'performer.pt')
    loaded = random_model(config, seed=9)
    dpt.load_checkpoint(loaded, tmp_path / 'performer.pt')
    x = torch.randn(SMALL_INPUT)
    with torch.inference_mode():
        assert torch.equal(loaded(x)['depth'], model(x)['depth'])


@pytest.fixture
def imagenet_server(tmp_path, monkeypatch):
    """Serve a timm-named EfficientNet-B0 checkpoint over HTTP; point the cache to tmp_path."""
    torch.manual_seed(10)
    ours = efficientnet.EfficientNetB0().state_dict()
    timm_named = {name.replace('stages.', 'blocks.', 1): value for name, value in ours.items()}
    timm_named['classifier.weight'] = torch.randn(1000, 1280)
    source = tmp_path / 'files' / 'raw.pth'
    source.parent.mkdir()
    torch.save(timm_named, source)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:8]
    source.rename(source.with_name(f'efficientnet_b0_ra-{digest}.pth'))
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(source.parent))
    handler.log_message = lambda *args: None
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv('MONO_DEPTH_CACHE', str(tmp_path / 'cache'))
    base = f'http://127.0.0.1:{httpd.server_address[1]}'
    yield base, f'efficientnet_b0_ra-{digest}.pth', ours
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_efficientnet_variant_starts_from_imagenet_weights(official_file, imagenet_server,
                                                           monkeypatch):
    base, filename, imagenet = imagenet_server
    monkeypatch.setattr(efficientnet, 'IMAGENET_URL', f'{base}/{filename}')
    config = dpt.DPTConfig(**dpt.KITTI, hooks=(0, 1), backbone='efficientnet_b0')
    model = random_model(config, seed=11)
    with pytest.warns(dpt.AdaptedCheckpointWarning, match='from its ImageNet weights'):
        dpt.load_checkpoint(model, official_file)
    backbone = model.pretrained.model.patch_embed.backbone.state_dict()
    for name, value in imagenet.items():
        assert torch.equal(backbone[name], value), name
    assert model.scratch.layer1_rn.weight.shape[1] == 24

    monkeypatch.setattr(efficientnet, 'IMAGENET_URL', f'{base}/missing-0123abcd.pth')
    monkeypatch.setenv('MONO_DEPTH_CACHE', str(official_file.parent / 'empty-cache'))
    with pytest.warns(dpt.AdaptedCheckpointWarning, match='starts from random weights.*404'):
        dpt.load_checkpoint(random_model(config, seed=12), official_file)


def test_study_recipe_fine_tunes_on_the_kitti_frame(tmp_path, kitti_000008):
    import csv

    from mono_depth_ros.cli import main
    from mono_depth_ros.train.loop import seed_everything
    from safetensors.torch import load_file
    from test_evaluate import arrange_kitti

    split = arrange_kitti(tmp_path / 'kitti', kitti_000008)
    out = tmp_path / 'run'
    status = main(['train', '--model', 'dpt-hybrid-kitti-a', '--preset', 'dpt-study',
                   '--data-root', str(tmp_path / 'kitti'), '--split', str(split),
                   '--val-split', str(split), '--width', '64', '--height', '32', '--epochs', '1',
                   '--no-progress', '--out', str(out)])
    assert status == 0
    (row,) = csv.DictReader((out / 'log.csv').open())  # one frame, batch 1: one step
    assert row['step'] == '1' and float(row['lr']) == 1e-5  # constant learning rate
    assert float(row['depth']) >= 0 and np.isfinite(float(row['val_abs_rel']))
    trained = load_file(str(out / 'dpt-hybrid-kitti-a.safetensors'))
    seed_everything(0)  # the loop's seed before it builds the model
    initial = create_model('dpt-hybrid-kitti-a').state_dict()
    change = max((trained[name] - value).abs().max().item() for name, value in initial.items()
                 if value.is_floating_point())
    # AdamW's first step moves a weight by about lr (plus lr * 0.01 decay): lr is 1e-5
    assert 0.9e-5 <= change <= 1.1e-5
    model = create_model('dpt-hybrid-kitti-a', weights=str(out / 'dpt-hybrid-kitti-a.safetensors'))
    with torch.inference_mode():
        assert torch.isfinite(model(torch.randn(1, 3, 32, 64))['depth']).all()


@pytest.mark.parametrize('name', [spec.name for spec in dpt.SPECS])
def test_every_variant_runs_in_the_estimator_from_a_weights_file(name, tmp_path):
    from mono_depth_ros import scale
    from mono_depth_ros.estimator import DepthEstimator

    spec = get_spec(name)
    model = random_model(spec.extra['config'], seed=13)
    with torch.no_grad():  # random weights leave the head at its ReLU floor: lift it
        model.scratch.output_conv[4].bias.fill_(1.0)
    torch.save(model.state_dict(), tmp_path / 'w.pt')
    policy = scale.make_policy('none' if spec.output_kind == 'metric' else 'fixed')
    estimator = DepthEstimator.from_name(name, weights=str(tmp_path / 'w.pt'), device='cpu',
                                         scale_policy=policy)
    frame = np.random.default_rng(0).integers(0, 255, (120, 200, 3), dtype=np.uint8)
    depth = estimator.estimate(frame).unscaled_depth
    assert depth.shape == (120, 200) and np.isfinite(depth).all() and (depth > 0).all()


def test_node_process_runs_model_a_from_a_fork_named_checkpoint(graph, tmp_path):
    from conftest import executable, wait_until
    from mono_depth_ros import parity
    from mono_depth_ros.data.synthetic import SyntheticScenes
    from mono_depth_ros.estimator import DepthEstimator
    from mono_depth_ros import ros_io
    from ros_rig import Rig
    from test_node import STAMPS
    from test_node_process import Process

    spec = get_spec('dpt-hybrid-kitti-a')
    model = dpt.DPT(spec.extra['config'])
    view = dpt.fork_layout(model)
    parity.fill_by_rule(view, 5)
    with torch.no_grad():  # a larger head output, so that the depth spans metres, not ~170 m
        model.scratch.output_conv[4].weight.mul_(2000)
    weights = tmp_path / 'dpt_hybrid_custom-kitti-rule_020.pt'
    torch.save(view.state_dict(), weights)

    node = Process(executable('mono_depth_node'), '--ros-args', '-p',
                   'model:=dpt-hybrid-kitti-a', '-p', f'weights:={weights}', '-p',
                   'device:=cpu', '-p', 'publish_points:=false',
                   # this process's thread count: float sums then run in the same order
                   '-p', f'num_threads:={torch.get_num_threads()}')
    rig = graph.add(Rig(outputs=('depth/image',)))
    try:
        assert wait_until(lambda: rig.count_subscribers('/image') > 0
                          or node.process.poll() is not None, 120), node.stop()
        assert node.process.poll() is None, node.stop()
        scene = SyntheticScenes(seed=4, count=1, width=320, height=96)[0]
        # The same frame again until a depth image comes back: on a loaded machine one forward
        # can outlast the wait for one frame, and any answer is the depth of this frame.
        for _ in range(60):
            rig.send(scene.rgb, scene.intrinsics, next(STAMPS))
            if wait_until(lambda: rig.received['depth/image'], 5.0):
                break
        assert rig.received['depth/image'], node.stop()
        message = rig.received['depth/image'][0]
    finally:
        log = node.stop()
    depth = ros_io.depth_from_image(message)
    # the node's default channels_last layout (it changes float sums: compare like with like)
    expected = DepthEstimator.from_name('dpt-hybrid-kitti-a', weights=str(weights), device='cpu',
                                        channels_last=True).estimate(scene.rgb).depth
    assert depth.shape == (96, 320) and np.nanstd(expected) > 0.1, log
    # Where the head's output nears zero, its depth magnifies any difference in float sums (a
    # different CPU kernel): nearly every pixel agrees to float precision, the rest closely.
    valid = np.isfinite(expected)
    np.testing.assert_array_equal(np.isfinite(depth), valid)
    relative = np.abs(depth - expected)[valid] / expected[valid]
    assert np.quantile(relative, 0.99) < 1e-4 and relative.max() < 0.1, relative.max()
