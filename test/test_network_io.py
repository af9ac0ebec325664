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

"""The official pre- and post-processing against the libraries the official code calls."""
from __future__ import annotations

import cv2
from mono_depth_ros import network_io
from mono_depth_ros.models.registry import get_spec, list_models
from mono_depth_ros.models.spec import InputPolicy, ModelSpec, Processing
import numpy as np
import pytest
import torch
import torch.nn.functional as F

Image = pytest.importorskip('PIL.Image')
# Pillow up to 12 always runs the horizontal pass first; 13 changed that for some sizes.
CLASSIC_PIL = int(Image.__version__.split('.')[0]) < 13

RNG = np.random.default_rng(14)
# (frame height, width) -> (network height, width): shrinking, enlarging, mixed, tiny.
SIZES = [((375, 1242), (192, 640)), ((480, 640), (518, 686)), ((120, 160), (480, 640)),
         ((204, 21), (16, 230)), ((21, 204), (230, 16)), ((3, 2), (1, 7))]
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
KINDS = ['numpy', 'tensor']


def frame(height: int, width: int, smooth: bool = False) -> np.ndarray:
    """Return a uint8 RGB frame of noise, or of blurred noise (edges and flat parts)."""
    rgb = RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return cv2.GaussianBlur(rgb, (0, 0), 3) if smooth else rgb


def as_kind(array: np.ndarray, kind: str):
    """Return a numpy array as it is, or as a CPU tensor (the device path's code)."""
    return torch.from_numpy(np.ascontiguousarray(array)) if kind == 'tensor' else array


def spec_with(processing: Processing, mean=IMAGENET[0], std=IMAGENET[1]) -> ModelSpec:
    return ModelSpec(name='test', family='test', builder=None,
                     input_policy=InputPolicy(height=8, width=8), output_kind='metric',
                     mean=mean, std=std, processing=processing)


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('frame_size, size', SIZES)
@pytest.mark.parametrize('smooth', [False, True])
def test_lanczos_is_bit_exact_with_pil(frame_size, size, smooth, kind):
    if not CLASSIC_PIL:
        pytest.skip(f'Pillow {Image.__version__} orders its passes differently (see '
                    'network_io.resize_lanczos); the reference is Pillow 12')
    rgb = frame(*frame_size, smooth)
    official = np.asarray(Image.fromarray(rgb).convert('RGB').resize(size[::-1], Image.LANCZOS))
    ours = network_io.as_numpy(network_io.resize_lanczos(as_kind(rgb, kind), size))
    assert ours.dtype == np.uint8
    np.testing.assert_array_equal(ours, official)


def test_lanczos_taps_sum_to_one_in_fixed_point():
    for in_size, out_size in ((1242, 640), (375, 192), (21, 230)):
        indices, weights = network_io.lanczos_taps(in_size, out_size)
        assert indices.min() >= 0 and indices.max() < in_size
        sums = weights.sum(axis=1)
        # Each weight is rounded on its own, so the sum is one within a unit per tap.
        assert np.all(np.abs(sums - (1 << network_io.PIL_PRECISION_BITS)) <= weights.shape[1])


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('frame_size, size', SIZES)
def test_cubic_equals_opencv_on_the_float64_image(frame_size, size, kind):
    image = frame(*frame_size) / 255.0
    official = cv2.resize(image, size[::-1], interpolation=cv2.INTER_CUBIC)
    official = official.reshape(*size, 3)
    planes = as_kind(image.astype(np.float32).transpose(2, 0, 1), kind)
    ours = network_io.as_numpy(network_io.resize_cubic(planes, size))
    np.testing.assert_allclose(ours.transpose(1, 2, 0), official, rtol=0, atol=1e-6)


def test_cubic_is_not_pytorch_bicubic():
    # Why the taps are OpenCV's own: PyTorch's bicubic places samples in another precision and
    # misses the official network input by far more than the goldens' 1e-4.
    image = frame(480, 640) / 255.0
    official = cv2.resize(image, (686, 518), interpolation=cv2.INTER_CUBIC)
    torch_bicubic = F.interpolate(torch.from_numpy(image).permute(2, 0, 1)[None], (518, 686),
                                  mode='bicubic', align_corners=False)[0].permute(1, 2, 0)
    assert np.abs(torch_bicubic.numpy() - official).max() / IMAGENET[1][0] > 1e-4


FLOAT32_STEP = 1.2e-7  # relative: 2 ** -23
KERNEL_SLOPE = {'bilinear': 1.0, 'bicubic': 1.5}  # the largest slope of the weights


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('mode', ['bilinear', 'bicubic'])
@pytest.mark.parametrize('align_corners', [False, True])
@pytest.mark.parametrize('size_in, size_out', [((192, 640), (375, 1242)), ((37, 49), (480, 640)),
                                               ((50, 60), (20, 30)), ((1, 5), (7, 1))])
def test_upsample_equals_f_interpolate(mode, align_corners, size_in, size_out, kind):
    prediction = RNG.standard_normal((1, 2, *size_in)).astype(np.float32)
    official = F.interpolate(torch.from_numpy(prediction), size=size_out, mode=mode,
                             align_corners=align_corners).numpy()
    processing = Processing(upsample=mode, align_corners=align_corners)
    ours = network_io.as_numpy(network_io.upsample(as_kind(prediction, kind), size_out,
                                                   processing))
    assert ours.shape == official.shape and ours.dtype == np.float32
    atol = 1e-5
    if kind == 'numpy' and not align_corners:
        # OpenCV's resize: its sample positions are rounded otherwise, by up to a float32 step
        # of the source coordinate, in each of the two passes.
        atol = 2 * KERNEL_SLOPE[mode] * FLOAT32_STEP * max(size_in) * np.ptp(prediction)
    np.testing.assert_allclose(ours, official, rtol=0, atol=atol)


@pytest.mark.parametrize('mode, flag', [('bilinear', cv2.INTER_LINEAR),
                                        ('bicubic', cv2.INTER_CUBIC)])
def test_upsampling_of_numpy_predictions_is_opencvs_resize(mode, flag):
    prediction = RNG.standard_normal((1, 2, 224, 224)).astype(np.float32)
    ours = network_io.upsample(prediction, (480, 640), Processing(upsample=mode))
    for channel in range(2):
        opencv = cv2.resize(prediction[0, channel], (640, 480), interpolation=flag)
        assert np.array_equal(ours[0, channel], opencv)


@pytest.mark.parametrize('mode', ['bilinear', 'bicubic'])
def test_opencv_upsampling_moves_values_by_a_float32_step_of_the_sample_position(mode):
    # Alternating 0 and 1: every output is a sum of weights, so the difference is the weights'.
    for width_in, width_out in ((224, 640), (640, 1242), (1242, 1920)):
        row = np.zeros((1, 1, 1, width_in), np.float32)
        row[..., ::2] = 1.0
        official = F.interpolate(torch.from_numpy(row), size=(1, width_out), mode=mode,
                                 align_corners=False).numpy()
        ours = network_io.upsample(row, (1, width_out), Processing(upsample=mode))
        assert np.abs(ours - official).max() <= KERNEL_SLOPE[mode] * FLOAT32_STEP * width_in


def test_upsample_keeps_a_prediction_at_the_output_size():
    prediction = torch.rand(1, 1, 4, 6)
    assert torch.equal(network_io.upsample(prediction, (4, 6), Processing()), prediction)


def test_multitask_refinenet_upsampling_is_the_notebooks_inter_cubic():
    # The notebooks resize the float32 prediction with cv2.INTER_CUBIC: bicubic with half-pixel
    # centres, a = -0.75 and a replicated border, which is what the spec asks F.interpolate for.
    depth = cv2.GaussianBlur(RNG.random((120, 160)).astype(np.float32), (0, 0), 2) * 5 + 1
    official = cv2.resize(depth, (640, 480), interpolation=cv2.INTER_CUBIC)
    spec = get_spec('mtrn-nyud')
    ours = network_io.upsample(torch.from_numpy(depth)[None, None], (480, 640), spec.processing)
    np.testing.assert_allclose(ours[0, 0].numpy(), official, rtol=1e-5)


@pytest.mark.parametrize('kind', KINDS)
def test_labels_nearest_is_opencv_nearest_of_the_argmax(kind):
    logits = RNG.standard_normal((1, 6, 61, 83)).astype(np.float32)
    labels = network_io.as_numpy(network_io.labels_at(as_kind(logits, kind), (479, 641),
                                                      Processing(labels='nearest')))
    official = cv2.resize(logits[0].argmax(0).astype(np.uint8), (641, 479),
                          interpolation=cv2.INTER_NEAREST)
    assert labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, official)


def test_labels_from_logits_take_the_argmax_after_upsampling():
    logits = RNG.standard_normal((1, 40, 30, 40)).astype(np.float32)
    processing = Processing(upsample='bicubic', labels='logits')
    labels = network_io.labels_at(logits, (120, 160), processing)
    official = F.interpolate(torch.from_numpy(logits), (120, 160), mode='bicubic',
                             align_corners=False)[0].argmax(0).numpy()
    assert np.mean(labels == official) > 0.999  # except two logits equal within float rounding


@pytest.mark.parametrize('kind', KINDS)
def test_argmax_classes_equals_argmax_with_ties(kind):
    logits = RNG.standard_normal((6, 9, 11)).astype(np.float32)
    logits[2, 0, :] = logits[4, 0, :] = 10.0  # ties: the first class wins, as in argmax
    labels = network_io.as_numpy(network_io.argmax_classes(as_kind(logits, kind)))
    assert labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, logits.argmax(0))
    assert (labels[0] == 2).all()


def test_depth_anything_input_is_the_official_float64_pipeline():
    rgb = frame(375, 1242, smooth=True)
    spec = get_spec('depth-anything-v2-metric-hypersim-small')
    size = spec.input_policy.network_size(375, 1242)
    assert size == (518, 1722)
    # infer_image: /255 in float64, INTER_CUBIC, ImageNet normalisation, float32 CHW.
    image = cv2.resize(rgb / 255.0, size[::-1], interpolation=cv2.INTER_CUBIC)
    official = ((image - IMAGENET[0]) / IMAGENET[1]).transpose(2, 0, 1)[None].astype(np.float32)
    ours = network_io.network_input(rgb, spec, size)
    assert ours.dtype == np.float32 and ours.flags.c_contiguous
    np.testing.assert_allclose(ours, official, rtol=0, atol=1e-5)


def test_lite_mono_input_is_to_tensor_of_the_pil_resize():
    if not CLASSIC_PIL:
        pytest.skip(f'the reference is Pillow 12, not {Image.__version__}')
    rgb = frame(375, 1242, smooth=True)
    spec = get_spec('lite-mono')
    pil = np.array(Image.fromarray(rgb).resize((640, 192), Image.LANCZOS))
    official = torch.from_numpy(pil).permute(2, 0, 1).float().div(255)[None].numpy()  # ToTensor
    ours = network_io.network_input(rgb, spec, (192, 640))
    np.testing.assert_allclose(ours, official, rtol=0, atol=1e-7)
    assert 0.0 <= float(ours.min()) and float(ours.max()) <= 1.0


def test_multitask_refinenet_input_at_the_native_size_is_prepare_img():
    rgb = frame(480, 640)
    spec = get_spec('mtrn-nyud')
    size = spec.input_policy.network_size(480, 640)
    assert size == (480, 640)
    official = ((rgb * (1. / 255) - np.array(IMAGENET[0])) / np.array(IMAGENET[1]))
    ours = network_io.network_input(rgb, spec, size)
    np.testing.assert_allclose(ours[0].transpose(1, 2, 0), official, rtol=0, atol=1e-6)


def test_area_resize_is_opencv_on_uint8():
    rgb = frame(480, 640)
    spec = spec_with(Processing(resize='area'), mean=(0, 0, 0), std=(1, 1, 1))
    small = network_io.network_input(rgb, spec, (240, 320))
    official = cv2.resize(rgb, (320, 240), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(np.round(small[0].transpose(1, 2, 0) * 255), official)
    large = network_io.network_input(rgb, spec, (500, 700))
    official = cv2.resize(rgb, (700, 500), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(np.round(large[0].transpose(1, 2, 0) * 255), official)


@pytest.mark.parametrize('resize', ['cubic', 'lanczos', 'area'])
def test_numpy_and_tensor_frames_give_the_same_input(resize):
    rgb = frame(100, 150)
    spec = spec_with(Processing(resize=resize))
    from_numpy = network_io.network_input(rgb, spec, (70, 98))
    from_tensor = network_io.network_input(torch.from_numpy(rgb), spec, (70, 98))
    on_device = network_io.network_input(rgb, spec, (70, 98), device='cpu')
    assert isinstance(from_numpy, np.ndarray) and from_numpy.shape == (1, 3, 70, 98)
    assert isinstance(from_tensor, torch.Tensor) and isinstance(on_device, torch.Tensor)
    np.testing.assert_allclose(from_tensor.numpy(), from_numpy, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(on_device.numpy(), from_tensor.numpy())


def test_bgr_networks_get_the_channels_reversed():
    rgb = frame(20, 30)
    rgb_spec = spec_with(Processing(resize='cubic'))
    bgr_spec = spec_with(Processing(resize='cubic', colour_order='BGR'))
    rgb_input = network_io.network_input(rgb, rgb_spec, (14, 28))
    bgr_input = network_io.network_input(rgb, bgr_spec, (14, 28))
    np.testing.assert_array_equal(bgr_input, rgb_input[:, ::-1])
    on_device = network_io.network_input(rgb, bgr_spec, (14, 28), device='cpu')
    np.testing.assert_allclose(on_device.numpy(), bgr_input, rtol=0, atol=1e-6)


def test_fastdepth_input_is_quantised_back_to_the_pixels():
    # The TFLite file's own input quantisation (uint8, scale 1/255, zero point 0) must map the
    # [0, 1] network input back to exactly the frame's levels.
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    spec = get_spec('fastdepth-nyu-int8')
    x = network_io.network_input(levels, spec, (16, 16))
    scale, zero_point = np.float32(1 / 255), 0
    quantised = np.round(x[0].transpose(1, 2, 0) / scale + zero_point)
    np.testing.assert_array_equal(quantised, levels)


@pytest.mark.parametrize('policy, frame_size, expected', [
    # DPT run_monodepth.py: Resize(net_w, net_h, keep_aspect_ratio, multiple 32, 'minimal').
    (InputPolicy(height=480, width=640, multiple=32, keep_aspect=True), (480, 640), (480, 640)),
    (InputPolicy(height=480, width=640, multiple=32, keep_aspect=True), (720, 1280), (480, 864)),
    (InputPolicy(height=352, width=1216, multiple=32, keep_aspect=True), (375, 1242),
     (352, 1216)),
    (InputPolicy(height=384, width=384, multiple=32, keep_aspect=True), (480, 640), (384, 512)),
    (InputPolicy(height=384, width=384, multiple=32, keep_aspect=True), (375, 1242),
     (384, 1280)),
    # Depth Anything V2 lower_bound at 518 and at the input_size 308 of a golden.
    (InputPolicy(short_side=518, multiple=14), (375, 1242), (518, 1722)),
    (InputPolicy(short_side=308, multiple=14), (375, 1242), (308, 1022)),
    (InputPolicy(short_side=518, multiple=14), (480, 640), (518, 686)),
])
def test_input_policies_round_as_the_official_resize(policy, frame_size, expected):
    assert policy.network_size(*frame_size) == expected


def test_minimal_resize_keeps_the_scale_closest_to_one():
    policy = InputPolicy(height=480, width=640, multiple=32, keep_aspect=True)
    assert policy.depends_on_frame
    assert policy.network_size(720, 960) == (480, 640)
    assert policy.network_size(600, 640) == (608, 640)  # 640/640 = 1 beats 480/600: width fits
    with pytest.raises(ValueError, match='keep_aspect needs height and width'):
        InputPolicy(short_side=384, keep_aspect=True)


def test_input_size_overrides_the_short_side():
    spec = get_spec('depth-anything-v2-small').with_input_size(266)
    assert spec.input_policy.network_size(480, 640) == (266, 350)
    assert spec.processing == get_spec('depth-anything-v2-small').processing


def test_each_family_carries_its_official_processing():
    expected = {
        'depth-anything-v2': Processing(resize='cubic', upsample='bilinear', align_corners=True),
        'lite-mono': Processing(resize='lanczos', upsample='bilinear', align_corners=False),
        'multitask-refinenet': Processing(resize='area', upsample='bicubic', labels='logits'),
        'joint-refinenet': Processing(),
        'fastdepth': Processing(),
    }
    for spec in list_models():
        if spec.family in expected:
            assert spec.processing == expected[spec.family], spec.name
    assert {spec.family for spec in list_models()} >= set(expected)
    # DPT: run_monodepth.py of isl-org/DPT, and of the study's fork (align_corners=True).
    for name, corners in (('dpt-hybrid-nyu', False), ('dpt-hybrid-kitti-a', True)):
        spec = get_spec(name)
        assert spec.processing == Processing(resize='cubic', upsample='bicubic',
                                             align_corners=corners)
        assert spec.input_policy.keep_aspect and spec.input_policy.multiple == 32


def test_unknown_processing_values_are_refused():
    with pytest.raises(ValueError, match="unknown processing value 'nearest'.*cubic, lanczos"):
        Processing(resize='nearest')
    with pytest.raises(ValueError, match="'area'.*bilinear, bicubic"):
        Processing(upsample='area')
