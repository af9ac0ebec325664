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

"""Tests of mono_depth_ros.ros_io with real sensor_msgs messages."""
import array
import json
import math
import struct
import weakref

from bad_inputs import jpeg_bomb, PeakMemory, png_bomb
from conftest import needs_shared
import cv2
from mono_depth_ros import geometry, ros_io
from mono_depth_ros.geometry import Intrinsics
from mono_depth_ros.ros_io import CameraInfoError, CloudError, ImageError
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2, PointField
from std_msgs.msg import Header


def make_image(pixels: np.ndarray, encoding: str, pad: int = 0,
               bigendian: bool = False) -> Image:
    """Build an Image from (H, W[, C]) pixels with ``pad`` bytes of padding after each row."""
    height, width = pixels.shape[:2]
    order = '>' if bigendian else '<'
    rows = pixels.astype(pixels.dtype.newbyteorder(order)).reshape(height, -1).view(np.uint8)
    padded = np.concatenate([rows, np.full((height, pad), 0xAB, np.uint8)], axis=1)
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=bigendian,
                step=padded.shape[1])
    msg.data = padded.tobytes()
    return msg


def header() -> Header:
    h = Header(frame_id='camera_optical_frame')
    h.stamp.sec, h.stamp.nanosec = 12, 345
    return h


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)


@pytest.mark.parametrize('pad', [0, 3])
def test_colour_encodings_round_trip(rgb, pad):
    alpha = np.full(rgb.shape[:2] + (1,), 7, np.uint8)
    cases = {
        'rgb8': rgb,
        'bgr8': rgb[..., ::-1],
        'rgba8': np.concatenate([rgb, alpha], axis=-1),
        'bgra8': np.concatenate([rgb[..., ::-1], alpha], axis=-1),
    }
    for encoding, pixels in cases.items():
        out = ros_io.image_to_rgb(make_image(pixels, encoding, pad))
        assert out.shape == rgb.shape and out.dtype == np.uint8, encoding
        np.testing.assert_array_equal(out, rgb, err_msg=encoding)


def test_rgb8_is_a_view_of_the_message():
    pixels = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    msg = make_image(pixels, 'rgb8', pad=2)
    out = ros_io.image_to_rgb(msg)
    assert np.shares_memory(out, np.frombuffer(msg.data, np.uint8))
    np.testing.assert_array_equal(out, pixels)


@pytest.mark.parametrize('pad', [0, 3])
def test_mono8(pad):
    grey = np.arange(30, dtype=np.uint8).reshape(5, 6) * 8
    out = ros_io.image_to_rgb(make_image(grey, 'mono8', pad))
    np.testing.assert_array_equal(out, np.repeat(grey[..., None], 3, axis=-1))


@pytest.mark.parametrize('bigendian', [False, True])
@pytest.mark.parametrize('pad', [0, 3])
def test_mono16_keeps_the_high_byte(bigendian, pad):
    values = np.array([[0, 255, 256, 0x1234], [0x8000, 0xABCD, 0xFF00, 0xFFFF]], np.uint16)
    out = ros_io.image_to_rgb(make_image(values, 'mono16', pad, bigendian))
    expected = (values >> 8).astype(np.uint8)
    for channel in range(3):
        np.testing.assert_array_equal(out[..., channel], expected)


def bt601_video(y, u, v):
    """Limited-range BT.601 YUV -> RGB, the reference for ROS yuv422 images."""
    c, d, e = 1.164 * (y - 16.0), u - 128.0, v - 128.0
    rgb = np.stack([c + 1.596 * e, c - 0.391 * d - 0.813 * e, c + 2.018 * d], axis=-1)
    return np.clip(rgb, 0, 255)


@pytest.mark.parametrize('pad', [0, 2])
def test_yuv422_uyvy_and_yuy2(pad):
    rng = np.random.default_rng(1)
    height, width = 3, 8
    y = rng.integers(16, 236, (height, width))
    u = rng.integers(16, 241, (height, width // 2))
    v = rng.integers(16, 241, (height, width // 2))
    expected = bt601_video(y, np.repeat(u, 2, axis=1), np.repeat(v, 2, axis=1))
    uyvy = np.empty((height, width, 2), np.uint8)
    uyvy[:, 0::2, 0], uyvy[:, 1::2, 0] = u, v
    uyvy[..., 1] = y
    yuy2 = uyvy[..., ::-1]  # Y0 U0 Y1 V0
    for encoding, pixels in (('yuv422', uyvy), ('yuv422_yuy2', yuy2)):
        out = ros_io.image_to_rgb(make_image(np.ascontiguousarray(pixels), encoding, pad))
        assert np.abs(out.astype(float) - expected).max() <= 2.5, encoding


@pytest.mark.parametrize('encoding,tile', [
    ('bayer_rggb8', 'RGGB'), ('bayer_bggr8', 'BGGR'),
    ('bayer_gbrg8', 'GBRG'), ('bayer_grbg8', 'GRBG')])
def test_bayer_demosaics_back_to_the_image(encoding, tile):
    # Linear ramps per channel: bilinear demosaicking reproduces them exactly inside the image.
    v, u = np.mgrid[0:12, 0:16]
    rgb = np.stack([20 + 12 * u, 40 + 15 * v, 230 - 5 * u - 6 * v], axis=-1).astype(np.uint8)
    mosaic = np.empty(rgb.shape[:2], np.uint8)
    for i in range(2):
        for j in range(2):
            mosaic[i::2, j::2] = rgb[i::2, j::2, 'RGB'.index(tile[2 * i + j])]
    out = ros_io.image_to_rgb(make_image(mosaic, encoding, pad=5))
    error = np.abs(out.astype(int) - rgb)[2:-2, 2:-2]
    assert error.max() <= 1
    # The test can tell the patterns apart: reading the tile as another pattern fails.
    other = next(e for e in ('bayer_rggb8', 'bayer_bggr8') if e != encoding)
    wrong = ros_io.image_to_rgb(make_image(mosaic, other))
    assert np.abs(wrong.astype(int) - rgb)[2:-2, 2:-2].max() > 30


def test_unknown_encoding_is_named_with_the_supported_ones():
    msg = make_image(np.zeros((2, 2, 3), np.uint8), '8UC3')
    with pytest.raises(ImageError, match=r"'8UC3'.*rgb8.*bayer_grbg8"):
        ros_io.image_to_rgb(msg)


def test_image_errors():
    with pytest.raises(ImageError, match='empty'):
        ros_io.image_to_rgb(Image(height=0, width=4, encoding='rgb8', step=12))
    with pytest.raises(ImageError, match='empty'):
        ros_io.image_to_rgb(Image(height=3, width=0, encoding='rgb8', step=0))
    short = make_image(np.zeros((2, 4, 3), np.uint8), 'rgb8')
    short.step = 11
    with pytest.raises(ImageError, match='step 11 is smaller than one row.*12'):
        ros_io.image_to_rgb(short)
    truncated = make_image(np.zeros((2, 4, 3), np.uint8), 'rgb8')
    truncated.data = truncated.data[:-1]
    with pytest.raises(ImageError, match='23 bytes.*24'):
        ros_io.image_to_rgb(truncated)
    for encoding in ('yuv422', 'yuv422_yuy2'):
        odd = make_image(np.zeros((2, 5, 2), np.uint8), encoding)
        with pytest.raises(ImageError, match='width must be even.*5'):
            ros_io.image_to_rgb(odd)
    assert issubclass(ImageError, ValueError)


def test_compressed_png_and_jpeg(rgb):
    big = cv2.resize(rgb, (64, 48), interpolation=cv2.INTER_NEAREST)
    ok, png = cv2.imencode('.png', cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
    assert ok
    msg = CompressedImage(format='rgb8; png compressed bgr8')
    msg.data = png.tobytes()
    np.testing.assert_array_equal(ros_io.compressed_to_rgb(msg), big)
    smooth = np.dstack([np.tile(np.linspace(0, 250, 64), (48, 1))] * 3).astype(np.uint8)
    smooth[..., 2] = 40
    ok, jpeg = cv2.imencode('.jpg', cv2.cvtColor(smooth, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 95])
    msg = CompressedImage(format='jpeg')
    msg.data = jpeg.tobytes()
    out = ros_io.compressed_to_rgb(msg)
    assert out.shape == smooth.shape
    assert np.abs(out.astype(int) - smooth).mean() < 2.0


def test_compressed_errors():
    corrupt = CompressedImage(format='jpeg')
    corrupt.data = b'\xff\xd8not really a jpeg'
    with pytest.raises(ImageError, match=r"format 'jpeg' \(19 bytes\)"):
        ros_io.compressed_to_rgb(corrupt)
    with pytest.raises(ImageError, match=r'\(0 bytes\)'):
        ros_io.compressed_to_rgb(CompressedImage(format='png'))
    depth = CompressedImage(format='16UC1; compressedDepth png')
    depth.data = b'\x00' * 16
    with pytest.raises(ImageError, match='compressed depth'):
        ros_io.compressed_to_rgb(depth)


def camera_info(width=640, height=480, fx=500.0, fy=520.0, cx=319.0, cy=241.0) -> CameraInfo:
    msg = CameraInfo(width=width, height=height)
    msg.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    msg.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def chair_camera_info() -> CameraInfo:
    recorded = needs_shared('testdata', 'isaac_ros_chair', 'rgb_camera_info.json')
    data = json.loads(recorded.read_text())
    msg = CameraInfo(width=data['width'], height=data['height'],
                     distortion_model=data['distortion_model'])
    msg.header.frame_id = data['header']['frame_id']
    msg.d, msg.k, msg.r, msg.p = data['D'], data['K'], data['R'], data['P']
    return msg


def test_intrinsics_from_p():
    msg = chair_camera_info()
    # Make K differ from P: the rectified P must be the one used.
    msg.k = [1.0, 0.0, 2.0, 0.0, 3.0, 4.0, 0.0, 0.0, 1.0]
    intrinsics = ros_io.intrinsics_from_camera_info(msg)
    assert intrinsics == Intrinsics(fx=msg.p[0], fy=msg.p[5], cx=msg.p[2], cy=msg.p[6],
                                    width=960, height=576)
    assert intrinsics.fx == pytest.approx(694.291, abs=1e-3)
    assert intrinsics.cy == pytest.approx(293.1785, abs=1e-3)


def test_intrinsics_fall_back_to_k_when_p_is_empty():
    msg = camera_info()
    msg.p = [0.0] * 12
    assert ros_io.intrinsics_from_camera_info(msg) == Intrinsics(500.0, 520.0, 319.0, 241.0,
                                                                 640, 480)


def test_intrinsics_with_binning_and_roi():
    msg = camera_info()
    msg.binning_x = msg.binning_y = 2
    assert ros_io.intrinsics_from_camera_info(msg) == Intrinsics(250.0, 260.0, 159.5, 120.5,
                                                                 320, 240)
    msg = camera_info()
    msg.roi.x_offset, msg.roi.y_offset, msg.roi.width, msg.roi.height = 100, 40, 320, 200
    assert ros_io.intrinsics_from_camera_info(msg) == Intrinsics(500.0, 520.0, 219.0, 201.0,
                                                                 320, 200)


@pytest.mark.parametrize('change,match', [
    ({'width': 0}, 'zero size'),
    ({'height': 0}, 'zero size'),
    ({'fx': math.nan}, 'fx=nan'),
    ({'fy': math.inf}, 'fy=inf'),
    ({'cx': math.nan}, 'cx=nan'),
    ({'fx': 0.0}, 'fx=0.0'),
    ({'fy': -3.0}, 'fy=-3.0'),
])
def test_camera_info_errors(change, match):
    with pytest.raises(CameraInfoError, match=match):
        ros_io.intrinsics_from_camera_info(camera_info(**change))


def test_all_zero_camera_info_is_rejected():
    msg = CameraInfo(width=640, height=480)
    with pytest.raises(CameraInfoError, match='fx=0.0'):
        ros_io.intrinsics_from_camera_info(msg)


def test_check_camera_info_matches():
    intrinsics = ros_io.intrinsics_from_camera_info(camera_info())
    ros_io.check_camera_info_matches(intrinsics, 640, 480)
    with pytest.raises(CameraInfoError, match='640x480 but the image is 1280x720'):
        ros_io.check_camera_info_matches(intrinsics, 1280, 720)


def test_camera_info_for_round_trips():
    intrinsics = Intrinsics(fx=600.5, fy=610.25, cx=330.75, cy=250.125, width=640, height=480)
    msg = ros_io.camera_info_for(intrinsics, header())
    assert msg.header.frame_id == 'camera_optical_frame' and msg.header.stamp.nanosec == 345
    assert (msg.width, msg.height) == (640, 480)
    assert msg.distortion_model == 'plumb_bob'
    np.testing.assert_array_equal(msg.d, np.zeros(5))
    np.testing.assert_array_equal(msg.r, np.eye(3).ravel())
    np.testing.assert_array_equal(np.reshape(msg.k, (3, 3)), intrinsics.matrix())
    np.testing.assert_array_equal(np.reshape(msg.p, (3, 4)),
                                  np.hstack([intrinsics.matrix(), np.zeros((3, 1))]))
    assert ros_io.intrinsics_from_camera_info(msg) == intrinsics


def blob_centre(image: np.ndarray) -> np.ndarray:
    v, u = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    weight = image / image.sum()
    return np.array([(u * weight).sum(), (v * weight).sum()])


@pytest.mark.parametrize('size', [(320, 240), (640, 192)])
def test_scaled_camera_info_describes_the_resized_image(size):
    full = ros_io.intrinsics_from_camera_info(camera_info())
    published = ros_io.camera_info_for(full.scaled(*size), header())
    scaled = ros_io.intrinsics_from_camera_info(published)
    assert (scaled.width, scaled.height) == size
    point = np.array([[0.35, -0.2, 2.5]])
    u, v, _ = geometry.project_points(point, full)
    # Render a smooth blob where the point projects, resize the image as the node does, and find
    # the blob again: the scaled camera_info must project the point onto it.
    grid_v, grid_u = np.mgrid[0:full.height, 0:full.width]
    blob = np.exp(-((grid_u - u[0]) ** 2 + (grid_v - v[0]) ** 2) / (2 * 10.0 ** 2))
    resized = cv2.resize(blob, size, interpolation=cv2.INTER_AREA)
    su, sv, _ = geometry.project_points(point, scaled)
    np.testing.assert_allclose(blob_centre(resized), [su[0], sv[0]], atol=0.02)
    # A camera_info that was not scaled would be off by pixels.
    assert np.abs(blob_centre(resized) - [u[0], v[0]]).max() > 10


def test_depth_32fc1_round_trip():
    depth = np.array([[0.5, np.nan, 3.25], [100.0, 0.001, 7.0]], np.float32)
    msg = ros_io.depth_to_image(depth, header(), '32FC1')
    assert (msg.encoding, msg.step, msg.width, msg.height) == ('32FC1', 12, 3, 2)
    assert not msg.is_bigendian and msg.header.frame_id == 'camera_optical_frame'
    raw = np.frombuffer(msg.data, '<f4').reshape(2, 3)
    np.testing.assert_array_equal(raw, depth)
    np.testing.assert_array_equal(ros_io.depth_from_image(msg), depth)


def test_depth_16uc1_rounds_and_marks_invalid_and_out_of_range_as_zero():
    depth = np.array([[1.2344, 1.2346, 0.0004, 0.0006],
                      [65.535, 65.5356, 70.0, np.nan],
                      [-1.0, 0.0, np.inf, 2.0]], np.float32)
    msg = ros_io.depth_to_image(depth, header(), '16UC1')
    assert (msg.encoding, msg.step) == ('16UC1', 8)
    raw = np.frombuffer(msg.data, '<u2').reshape(3, 4)
    np.testing.assert_array_equal(raw, [[1234, 1235, 0, 1],
                                        [65535, 0, 0, 0],
                                        [0, 0, 0, 2000]])
    back = ros_io.depth_from_image(msg)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, [[1.234, 1.235, np.nan, 0.001],
                                      [65.535, np.nan, np.nan, np.nan],
                                      [np.nan, np.nan, np.nan, 2.0]], rtol=1e-6)


def test_depth_from_image_big_endian_padded_and_zero_in_float():
    millimetres = np.array([[0, 1500, 65535], [42, 7, 0]], np.uint16)
    msg = make_image(millimetres, '16UC1', pad=3, bigendian=True)
    np.testing.assert_allclose(ros_io.depth_from_image(msg),
                               [[np.nan, 1.5, 65.535], [0.042, 0.007, np.nan]], rtol=1e-6)
    metres = np.array([[0.0, 2.5], [-1.0, np.inf]], np.float32)
    msg = make_image(metres, '32FC1', pad=4, bigendian=True)
    np.testing.assert_array_equal(ros_io.depth_from_image(msg), [[np.nan, 2.5],
                                                                 [np.nan, np.nan]])


def test_depth_errors():
    with pytest.raises(ImageError, match=r"'32FC3'.*32FC1, 16UC1"):
        ros_io.depth_to_image(np.ones((2, 2), np.float32), header(), '32FC3')
    with pytest.raises(ImageError, match=r"'mono8'.*32FC1"):
        ros_io.depth_from_image(make_image(np.zeros((2, 2), np.uint8), 'mono8'))
    with pytest.raises(ImageError, match='shape'):
        ros_io.depth_to_image(np.ones((2, 2, 1), np.float32), header())


@pytest.mark.parametrize('shape, dtype, encoding, step', [((5, 6, 3), np.uint8, 'rgb8', 18),
                                                          ((5, 6), np.float32, '32FC1', 24)])
def test_image_message_pixels_are_the_message_data(shape, dtype, encoding, step):
    msg, pixels = ros_io.image_message(header(), encoding, shape, dtype)
    assert (msg.height, msg.width, msg.step, msg.encoding) == (5, 6, step, encoding)
    assert not msg.is_bigendian and len(msg.data) == step * 5 and not any(msg.data)
    assert pixels.shape == shape and pixels.dtype == dtype
    pixels[...] = np.arange(pixels.size).reshape(shape)
    written = np.frombuffer(msg.data, np.dtype(dtype).newbyteorder('<')).reshape(shape)
    np.testing.assert_array_equal(written, np.arange(pixels.size).reshape(shape))


def test_rgb_and_labels_to_image(rgb):
    msg = ros_io.rgb_to_image(rgb[:, ::-1], header())
    assert (msg.encoding, msg.step, msg.width, msg.height) == ('rgb8', 18, 6, 5)
    np.testing.assert_array_equal(ros_io.image_to_rgb(msg), rgb[:, ::-1])
    labels = np.arange(30, dtype=np.uint8).reshape(5, 6)
    msg = ros_io.labels_to_image(labels, header())
    assert (msg.encoding, msg.step) == ('mono8', 6)
    np.testing.assert_array_equal(np.frombuffer(msg.data, np.uint8).reshape(5, 6), labels)
    with pytest.raises(ImageError, match='uint8'):
        ros_io.labels_to_image(labels.astype(np.int32), header())
    with pytest.raises(ImageError, match='uint8'):
        ros_io.rgb_to_image(rgb.astype(np.float32), header())


def small_scene():
    intrinsics = Intrinsics(fx=50.0, fy=55.0, cx=3.7, cy=2.4, width=8, height=6)
    depth = np.random.default_rng(2).uniform(0.5, 4.0, (6, 8)).astype(np.float32)
    depth[1, 2] = np.nan
    depth[4, 7] = 0.0
    colours = np.random.default_rng(3).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return intrinsics, depth, colours


@pytest.mark.parametrize('with_rgb', [False, True])
def test_cloud_layout_matches_depth_image_proc(with_rgb):
    intrinsics, depth, colours = small_scene()
    points = geometry.depth_to_points(depth, intrinsics)
    msg = ros_io.points_to_cloud(points, header(), colours if with_rgb else None)
    step = 32 if with_rgb else 16
    assert isinstance(msg, PointCloud2)
    assert (msg.height, msg.width, msg.point_step, msg.row_step) == (6, 8, step, 8 * step)
    assert not msg.is_dense and not msg.is_bigendian
    assert msg.header.frame_id == 'camera_optical_frame'
    layout = [(f.name, f.offset, f.datatype, f.count) for f in msg.fields]
    expected = [('x', 0, PointField.FLOAT32, 1), ('y', 4, PointField.FLOAT32, 1),
                ('z', 8, PointField.FLOAT32, 1)]
    if with_rgb:
        expected.append(('rgb', 16, PointField.FLOAT32, 1))
    assert layout == expected
    data = bytes(msg.data)
    assert len(data) == 6 * 8 * step
    for v in range(6):
        for u in range(8):
            offset = v * msg.row_step + u * step
            xyz = struct.unpack_from('<3f', data, offset)
            np.testing.assert_array_equal(xyz, points[v, u])
            if math.isfinite(depth[v, u]) and depth[v, u] > 0:
                assert xyz[0] == pytest.approx((u - 3.7) * depth[v, u] / 50.0, rel=1e-6)
                assert xyz[1] == pytest.approx((v - 2.4) * depth[v, u] / 55.0, rel=1e-6)
            else:
                assert all(math.isnan(c) for c in xyz)
            assert data[offset + 12:offset + 16] == b'\0' * 4
            if with_rgb:
                r, g, b = (int(c) for c in colours[v, u])
                assert struct.unpack_from('<I', data, offset + 16)[0] == (r << 16) | (g << 8) | b
                assert data[offset + 16:offset + 20] == bytes([b, g, r, 0])
                assert data[offset + 20:offset + 32] == b'\0' * 12


def test_cloud_round_trip(rgb):
    intrinsics, depth, colours = small_scene()
    points = geometry.depth_to_points(depth, intrinsics)
    back, back_rgb = ros_io.cloud_to_points(ros_io.points_to_cloud(points, header(), colours))
    np.testing.assert_array_equal(back, points)
    np.testing.assert_array_equal(back_rgb, colours)
    back, back_rgb = ros_io.cloud_to_points(ros_io.points_to_cloud(points, header()))
    np.testing.assert_array_equal(back, points)
    assert back_rgb is None


def reference_cloud_bytes(depth, intrinsics, k, min_depth, max_depth, colours):
    """Return the cloud records as first written: an (H, W, 3) array, then a strided copy."""
    z = depth[::k, ::k].astype(np.float32)
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(z) & (z > 0) & (z >= min_depth) & (z <= max_depth)
    z = np.where(valid, z, np.float32(np.nan))
    ax = (np.arange(0, intrinsics.width, k, dtype=np.float32) - np.float32(intrinsics.cx)) \
        / np.float32(intrinsics.fx)
    ay = (np.arange(0, intrinsics.height, k, dtype=np.float32) - np.float32(intrinsics.cy)) \
        / np.float32(intrinsics.fy)
    points = np.stack((z * ax, z * ay[:, None], z), axis=-1)
    words = np.zeros(z.shape + (4 if colours is None else 8,), '<f4')
    words[..., :3] = points
    if colours is not None:
        r, g, b = (colours[::k, ::k, c].astype(np.uint32) for c in range(3))
        words.view('<u4')[..., 4] = (r << 16) | (g << 8) | b
    return words


@pytest.mark.parametrize('k', [1, 2, 5])
@pytest.mark.parametrize('with_rgb', [False, True])
def test_depth_to_cloud_writes_the_bytes_of_the_reference(k, with_rgb):
    rng = np.random.default_rng(k)
    depth = rng.uniform(0.1, 12.0, (48, 64)).astype(np.float32)
    depth.flat[::11] = np.nan
    depth.flat[3::13] = 0.0
    depth.flat[5::17] = np.inf
    colours = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) if with_rgb else None
    intrinsics = Intrinsics(fx=60.0, fy=61.0, cx=31.7, cy=23.2, width=64, height=48)
    buffers = ros_io.MessageBuffers()
    buffer_ids = []
    for attempt in range(2):  # the second cloud is written into the first one's buffer
        msg = ros_io.depth_to_cloud(depth, intrinsics, header(), k, 0.5, 10.0, colours, buffers)
        buffer_ids.append(id(msg.data))
        expected = reference_cloud_bytes(depth, intrinsics, k, 0.5, 10.0, colours)
        step = 32 if with_rgb else 16
        assert (msg.height, msg.width) == expected.shape[:2]
        assert (msg.point_step, msg.row_step) == (step, step * expected.shape[1])
        assert [f.name for f in msg.fields] == ['x', 'y', 'z'] + (['rgb'] if with_rgb else [])
        words = np.frombuffer(msg.data, '<f4').reshape(expected.shape)
        nan = np.isnan(expected)
        np.testing.assert_array_equal(np.isnan(words), nan)
        np.testing.assert_array_equal(words.view('<u4')[~nan], expected.view('<u4')[~nan])
        msg.data[:] = array.array('B', [0xFF]) * len(msg.data)  # garbage for the next cloud
        del msg, words
    assert buffer_ids[0] == buffer_ids[1]  # the pool kept it alive: the very same buffer


def test_message_buffers_never_hand_out_a_buffer_a_message_holds():
    buffers = ros_io.MessageBuffers(keep=2)
    held = buffers.get(64)
    second = buffers.get(64)
    assert second is not held
    third = buffers.get(64)
    assert third is not held and third is not second  # both still referenced here
    second_id = id(second)
    del second, third
    reused = buffers.get(64)
    assert id(reused) == second_id and len(reused) == 64
    kept = weakref.ref(reused)
    del reused
    assert kept() is not None  # the pool keeps it for the next message of its size
    assert len(buffers.get(128)) == 128
    assert kept() is None  # a frame of another size: the pool let go of the old buffers


def test_cloud_message_layout_without_data():
    msg, records = ros_io.cloud_message(header(), 3, 4, with_rgb=True)
    assert records.shape == (3, 4, 8) and records.dtype == np.float32
    records[...] = 1.5
    assert bytes(msg.data[:4]) == struct.pack('<f', 1.5)
    with pytest.raises(ValueError, match='decimation'):
        ros_io.depth_to_cloud(np.ones((4, 4), np.float32), Intrinsics(1, 1, 1, 1, 4, 4),
                              header(), 0)


def test_pack_rgb_bits():
    colours = np.array([[1, 2, 3], [255, 0, 128], [0, 0, 0], [255, 255, 255]], np.uint8)
    packed = ros_io.pack_rgb(colours)
    np.testing.assert_array_equal(packed, [0x010203, 0xFF0080, 0, 0xFFFFFF])
    np.testing.assert_array_equal(ros_io.unpack_rgb(packed), colours)


def lidar_cloud(points: np.ndarray, intensity: np.ndarray, bigendian: bool) -> PointCloud2:
    """Return an unorganised Velodyne-like cloud: x y z float64, intensity float32, ring uint16."""
    order = '>' if bigendian else '<'
    record = np.dtype({'names': ['intensity', 'x', 'y', 'z', 'ring'],
                       'formats': [order + 'f4', order + 'f8', order + 'f8', order + 'f8',
                                   order + 'u2'],
                       'offsets': [0, 4, 12, 20, 28], 'itemsize': 32})
    table = np.zeros(len(points), dtype=record)
    table['x'], table['y'], table['z'] = points.T
    table['intensity'] = intensity
    table['ring'] = np.arange(len(points)) % 16
    msg = PointCloud2(height=1, width=len(points), is_bigendian=bigendian, point_step=32,
                      row_step=32 * len(points), is_dense=True)
    msg.fields = [
        PointField(name='intensity', offset=0, datatype=PointField.FLOAT32, count=1),
        PointField(name='x', offset=4, datatype=PointField.FLOAT64, count=1),
        PointField(name='y', offset=12, datatype=PointField.FLOAT64, count=1),
        PointField(name='z', offset=20, datatype=PointField.FLOAT64, count=1),
        PointField(name='ring', offset=28, datatype=PointField.UINT16, count=1),
    ]
    msg.data = table.tobytes()
    return msg


@pytest.mark.parametrize('bigendian', [False, True])
def test_cloud_to_points_reads_fields_by_name(bigendian):
    points = np.random.default_rng(4).normal(size=(7, 3)) * 10
    msg = lidar_cloud(points, np.linspace(0, 1, 7), bigendian)
    back, colours = ros_io.cloud_to_points(msg)
    assert back.shape == (1, 7, 3) and back.dtype == np.float32 and colours is None
    np.testing.assert_allclose(back[0], points, rtol=1e-6)


def test_cloud_errors():
    msg = lidar_cloud(np.zeros((3, 3)), np.zeros(3), False)
    msg.fields = [f for f in msg.fields if f.name != 'y']
    with pytest.raises(CloudError, match='no field y; it has intensity, x, z, ring'):
        ros_io.cloud_to_points(msg)
    msg = lidar_cloud(np.zeros((3, 3)), np.zeros(3), False)
    msg.data = msg.data[:-1]
    with pytest.raises(CloudError, match='95 bytes'):
        ros_io.cloud_to_points(msg)
    msg = lidar_cloud(np.zeros((3, 3)), np.zeros(3), False)
    msg.point_step = 24
    with pytest.raises(CloudError, match="'z' at offset 20 does not fit in point_step 24"):
        ros_io.cloud_to_points(msg)
    with pytest.raises(CloudError, match=r'\(H, W, 3\)'):
        ros_io.points_to_cloud(np.zeros((4, 3), np.float32), header())


def test_chair_frame_cloud_reprojects_to_its_pixels():
    info = chair_camera_info()
    intrinsics = ros_io.intrinsics_from_camera_info(info)
    chair = needs_shared('testdata', 'isaac_ros_chair')
    depth = np.load(chair / 'aligned_depth_expected.npy')
    colours = np.load(chair / 'resized_rgb_image.npy')
    ros_io.check_camera_info_matches(intrinsics, depth.shape[1], depth.shape[0])
    depth_msg = ros_io.depth_to_image(depth, info.header, '32FC1')
    metres = ros_io.depth_from_image(depth_msg)  # 0 = invalid in the file becomes NaN
    valid = np.isfinite(metres)
    assert 0.3 < valid.mean() < 1.0
    cloud = ros_io.points_to_cloud(geometry.depth_to_points(metres, intrinsics),
                                   info.header, colours)
    assert cloud.header.frame_id == 'camera_1_color_optical_frame'
    points, back_rgb = ros_io.cloud_to_points(cloud)
    np.testing.assert_array_equal(back_rgb, colours)
    assert np.array_equal(np.isfinite(points).all(axis=-1), valid)
    u, v, z = geometry.project_points(points[valid], intrinsics)
    grid_v, grid_u = np.nonzero(valid)
    np.testing.assert_allclose(u, grid_u, atol=1e-3)
    np.testing.assert_allclose(v, grid_v, atol=1e-3)
    np.testing.assert_allclose(z, depth[valid], rtol=1e-6)


# -- sizes from headers, before any decoding -------------------------------------------------

def _jpeg_with_app1(data: bytes) -> bytes:
    """Insert a 2 kB APP1 (EXIF-like) segment after SOI, as cameras write one."""
    payload = b'Exif\x00\x00' + bytes(2048)
    return data[:2] + b'\xff\xe1' + struct.pack('>H', len(payload) + 2) + payload + data[2:]


@pytest.mark.parametrize('kind', ['jpeg', 'progressive jpeg', 'jpeg with exif', 'png'])
def test_compressed_image_size_reads_the_header(kind):
    pixels = np.zeros((48, 64, 3), np.uint8)
    if kind == 'png':
        data = cv2.imencode('.png', pixels)[1].tobytes()
    else:
        flags = [cv2.IMWRITE_JPEG_PROGRESSIVE, 1] if kind == 'progressive jpeg' else []
        data = cv2.imencode('.jpg', pixels, flags)[1].tobytes()
        if kind == 'jpeg with exif':
            data = _jpeg_with_app1(data)
    assert ros_io.compressed_image_size(data) == (64, 48)
    assert ros_io.compressed_image_size(array.array('B', data)) == (64, 48)


@pytest.mark.parametrize('data, match', [
    (b'GIF89a' + bytes(100), 'neither JPEG nor PNG'),
    (b'\xff\xd8\xff\xe0\x00\x10JFIF', 'no frame header'),
    (b'\x89PNG\r\n\x1a\n\x00\x00', 'no IHDR'),
])
def test_compressed_image_size_errors(data, match):
    with pytest.raises(ImageError, match=match):
        ros_io.compressed_image_size(data)


@pytest.mark.parametrize('make', [jpeg_bomb, png_bomb])
def test_decompression_bombs_are_refused_from_their_header(make):
    bomb = make(20000, 20000)
    assert ros_io.compressed_image_size(bomb) == (20000, 20000)
    memory = PeakMemory()
    with pytest.raises(ros_io.ImageTooLargeError,
                       match='20000x20000 .400.0 MP., more than max_input_pixels 8294400'):
        ros_io.compressed_to_rgb(CompressedImage(format='jpeg', data=bomb), 3840 * 2160)
    assert memory.rise_mib() < 50  # decoded, it would take 1.2 GB


def test_a_small_image_within_the_limit_decodes():
    rgb = np.random.default_rng(3).integers(0, 255, (48, 64, 3), np.uint8)
    png = cv2.imencode('.png', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()
    decoded = ros_io.compressed_to_rgb(CompressedImage(format='png', data=png), 64 * 48)
    np.testing.assert_array_equal(decoded, rgb)


def test_raw_images_over_the_limit_are_refused_before_conversion():
    image = make_image(np.zeros((100, 100, 3), np.uint8), 'bgr8')
    assert ros_io.image_to_rgb(image, 10_000).shape == (100, 100, 3)
    with pytest.raises(ros_io.ImageTooLargeError, match='bgr8 image is 100x100'):
        ros_io.image_to_rgb(image, 9_999)


@pytest.mark.parametrize('fx, cx', [(1e-45, 160.0), (300.0, 1e39), (1e-30, 160.0),
                                    (300.0, 1e30)])
def test_intrinsics_whose_rays_are_not_finite_in_float32_are_refused(fx, cx):
    info = CameraInfo(width=320, height=240,
                      p=[fx, 0.0, cx, 0.0, 0.0, 300.0, 120.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    with pytest.raises(CameraInfoError, match='not finite or beyond 10000'):
        ros_io.intrinsics_from_camera_info(info)


def test_wide_but_real_lenses_pass_the_ray_check():
    # A 170-degree horizontal field of view on a 320-pixel image: fx = 160 / tan(85 deg).
    fx = 160 / math.tan(math.radians(85))
    info = CameraInfo(width=320, height=240,
                      p=[fx, 0.0, 160.0, 0.0, 0.0, fx, 120.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    assert ros_io.intrinsics_from_camera_info(info).fx == pytest.approx(fx)
