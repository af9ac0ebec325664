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
Conversions between sensor_msgs messages and numpy arrays; no node logic and no rclpy.

Images decode to ``(H, W, 3)`` uint8 RGB. Where the layout allows (``rgb8``, ``rgba8``) the
result is a strided view of the message buffer, not a copy: copy it before writing to it.
Depth follows REP 118 (:data:`DEPTH_ENCODINGS` is the one place that says how each depth encoding
stores metres and what is invalid), clouds follow depth_image_proc's PointCloud2 layout.
"""
from __future__ import annotations

import array
from dataclasses import dataclass
import math
import sys
from typing import Dict, Optional, Tuple

import cv2
from mono_depth_ros import compressed_depth, geometry
from mono_depth_ros.geometry import Intrinsics, pack_rgb, unpack_rgb
from mono_depth_ros.scan import Scan
import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, LaserScan, PointCloud2, PointField
from std_msgs.msg import Header


class ImageError(ValueError):
    """An Image or CompressedImage message that cannot be decoded."""


class ImageTooLargeError(ImageError):
    """An image whose header gives more pixels than allowed; found before any decoding."""


class CameraInfoError(ValueError):
    """A CameraInfo message that does not describe a usable pinhole camera for the image."""


class CloudError(ValueError):
    """A PointCloud2 message whose fields cannot be read as x, y, z (and rgb)."""


# Bytes per pixel of the colour encodings image_to_rgb accepts.
_BYTES_PER_PIXEL: Dict[str, int] = {
    'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4, 'mono8': 1, 'mono16': 2,
    'yuv422': 2, 'yuv422_yuy2': 2,
    'bayer_rggb8': 1, 'bayer_bggr8': 1, 'bayer_gbrg8': 1, 'bayer_grbg8': 1,
}
SUPPORTED_ENCODINGS: Tuple[str, ...] = tuple(_BYTES_PER_PIXEL)

# OpenCV names a Bayer pattern after the second row (BayerBG = the ROS rggb tile); these are
# checked by mosaicking a known image and demosaicking it back (test_ros_io.py).
_BAYER_TO_RGB: Dict[str, int] = {
    'bayer_rggb8': cv2.COLOR_BayerBG2RGB,
    'bayer_bggr8': cv2.COLOR_BayerRG2RGB,
    'bayer_gbrg8': cv2.COLOR_BayerGR2RGB,
    'bayer_grbg8': cv2.COLOR_BayerGB2RGB,
}
_YUV_TO_RGB: Dict[str, int] = {
    'yuv422': cv2.COLOR_YUV2RGB_UYVY,  # ROS yuv422 is UYVY: U0 Y0 V0 Y1
    'yuv422_yuy2': cv2.COLOR_YUV2RGB_YUY2,  # Y0 U0 Y1 V0
}


def _pixels(msg: Image, bytes_per_pixel: int, dtype: np.dtype) -> np.ndarray:
    """Validate the layout of ``msg`` and view its data as (H, W, channels) of ``dtype``."""
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    if width == 0 or height == 0:
        raise ImageError(f'empty {msg.encoding} image: width={width}, height={height}')
    row = width * bytes_per_pixel
    if step < row:
        raise ImageError(f'{msg.encoding} image step {step} is smaller than one row of {width} '
                         f'pixels x {bytes_per_pixel} bytes = {row}')
    buffer = np.frombuffer(msg.data, dtype=np.uint8)
    if buffer.size != step * height:
        raise ImageError(f'{msg.encoding} image data has {buffer.size} bytes, expected step * '
                         f'height = {step} * {height} = {step * height}')
    channels = bytes_per_pixel // dtype.itemsize
    return np.ndarray(shape=(height, width, channels), dtype=dtype, buffer=buffer,
                      strides=(step, bytes_per_pixel, dtype.itemsize))


def check_image_size(width: int, height: int, max_pixels: int | None, source: str) -> None:
    """Raise :class:`ImageTooLargeError` when ``width`` x ``height`` exceeds ``max_pixels``."""
    if max_pixels is not None and width * height > max_pixels:
        raise ImageTooLargeError(
            f'{source} is {width}x{height} ({width * height / 1e6:.1f} MP), more than '
            f'max_input_pixels {max_pixels} ({max_pixels / 1e6:.1f} MP); it was not decoded. '
            'Lower the camera resolution or raise max_input_pixels')


def image_to_rgb(msg: Image, max_pixels: int | None = None) -> np.ndarray:
    """
    Decode a sensor_msgs/Image into an ``(H, W, 3)`` uint8 RGB array.

    Supported encodings: see :data:`SUPPORTED_ENCODINGS`. ``mono16`` keeps the 8 most
    significant bits (value >> 8), honouring ``is_bigendian``; ``yuv422`` is UYVY and
    ``yuv422_yuy2`` is YUYV (both need an even width; BT.601 limited range, as OpenCV and
    cv_bridge convert them); Bayer images are demosaicked bilinearly.
    ``step`` may include row padding. ``rgb8`` and ``rgba8`` return a view of ``msg.data``.
    An image of more than ``max_pixels`` pixels is refused before any conversion.

    Raises
    ------
        ImageError: unknown encoding, empty image, step smaller than a row, data length other
            than step * height, or odd width for a yuv422 encoding.
        ImageTooLargeError: more than ``max_pixels`` pixels.

    """
    check_image_size(int(msg.width), int(msg.height), max_pixels, f'{msg.encoding} image')
    encoding = msg.encoding
    bytes_per_pixel = _BYTES_PER_PIXEL.get(encoding)
    if bytes_per_pixel is None:
        raise ImageError(f'unsupported image encoding {encoding!r}; supported: '
                         f'{", ".join(SUPPORTED_ENCODINGS)}')
    if encoding == 'mono16':
        order = '>' if msg.is_bigendian else '<'
        mono = _pixels(msg, 2, np.dtype(order + 'u2'))[..., 0]
        return cv2.cvtColor((mono >> 8).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    pixels = _pixels(msg, bytes_per_pixel, np.dtype(np.uint8))
    if encoding in ('rgb8', 'rgba8'):
        return pixels[..., :3]
    if encoding == 'bgr8':
        return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    if encoding == 'bgra8':
        return cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGB)
    if encoding == 'mono8':
        return cv2.cvtColor(pixels[..., 0], cv2.COLOR_GRAY2RGB)
    if encoding in _YUV_TO_RGB:
        if msg.width % 2:
            raise ImageError(f'{encoding} image width must be even (two pixels share U and V), '
                             f'got {msg.width}')
        return cv2.cvtColor(pixels, _YUV_TO_RGB[encoding])
    return cv2.cvtColor(pixels[..., 0], _BAYER_TO_RGB[encoding])


# JPEG start-of-frame markers (SOF0-SOF15 but DHT C4, JPG C8 and DAC CC), which carry the size.
_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# JPEG markers without a length field: TEM, RST0-RST7, SOI.
_JPEG_STANDALONE_MARKERS = frozenset([0x01, *range(0xD0, 0xD9)])
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def compressed_image_size(data) -> tuple[int, int]:
    """
    Return ``(width, height)`` from the header of JPEG or PNG bytes, without decoding them.

    JPEG: the first start-of-frame segment; PNG: the IHDR chunk. A decompression bomb (a small
    file whose header announces a huge image) is thus recognised before it costs anything.

    Raises
    ------
        ImageError: neither a PNG signature with its IHDR chunk nor a JPEG with a frame header.

    """
    view = memoryview(data).cast('B')
    if bytes(view[:8]) == _PNG_SIGNATURE:
        if len(view) < 24 or bytes(view[12:16]) != b'IHDR':
            raise ImageError('PNG data has no IHDR chunk: it is truncated or corrupt')
        return (int.from_bytes(view[16:20], 'big'), int.from_bytes(view[20:24], 'big'))
    if bytes(view[:2]) == b'\xff\xd8':
        position = 2
        while position + 4 <= len(view):
            if view[position] != 0xFF:
                break
            marker = view[position + 1]
            if marker == 0xFF:  # fill byte
                position += 1
            elif marker in _JPEG_STANDALONE_MARKERS:
                position += 2
            elif marker in _JPEG_FRAME_MARKERS:
                if position + 9 > len(view):
                    break
                return (int.from_bytes(view[position + 7:position + 9], 'big'),
                        int.from_bytes(view[position + 5:position + 7], 'big'))
            elif marker in (0xD9, 0xDA):  # end of image, or the scan before any frame header
                break
            else:
                position += 2 + int.from_bytes(view[position + 2:position + 4], 'big')
        raise ImageError('JPEG data has no frame header (SOF) before its image data: it is '
                         'truncated or corrupt')
    raise ImageError(f'compressed data ({len(view)} bytes) is neither JPEG nor PNG')


def compressed_to_rgb(msg: CompressedImage, max_pixels: int | None = None) -> np.ndarray:
    """
    Decode a JPEG or PNG sensor_msgs/CompressedImage into ``(H, W, 3)`` uint8 RGB.

    Grey images are expanded to three channels and 16-bit PNGs reduced to 8 bits by OpenCV.
    The size in the header is checked against ``max_pixels`` before decoding.

    Raises
    ------
        ImageError: empty or corrupt data, or a ``compressedDepth`` stream (not a colour image).
        ImageTooLargeError: the header gives more than ``max_pixels`` pixels.

    """
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if 'compresseddepth' in msg.format.lower():
        raise ImageError(f'CompressedImage format {msg.format!r} is a compressed depth stream, '
                         'not a colour image; subscribe to the colour image topic instead')
    if max_pixels is not None and data.size:
        width, height = compressed_image_size(data)
        check_image_size(width, height, max_pixels, f'CompressedImage ({data.size} bytes)')
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise ImageError(f'cannot decode CompressedImage with format {msg.format!r} '
                         f'({data.size} bytes): the data is empty, corrupt or not JPEG/PNG')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def intrinsics_from_camera_info(msg: CameraInfo) -> Intrinsics:
    """
    Return the pinhole intrinsics of the images described by a sensor_msgs/CameraInfo.

    Uses P (fx = P[0], fy = P[5], cx = P[2], cy = P[6]) as depth_image_proc does, i.e. the
    rectified camera. If P is all zero (some drivers leave it empty) and K is valid, K is used.
    Binning and a region of interest are applied as image_geometry does: the intrinsics then
    describe the binned/cropped image the camera publishes.

    Raises
    ------
        CameraInfoError: zero size, or fx, fy, cx, cy not finite, or fx, fy <= 0, or rays
            through the image corners that are not finite in float32 (see
            :func:`check_rays`).

    """
    width, height = int(msg.width), int(msg.height)
    if width == 0 or height == 0:
        raise CameraInfoError(f'camera_info has zero size: width={width}, height={height}; '
                              'the camera driver must fill width and height')
    p = np.asarray(msg.p, dtype=np.float64)
    k = np.asarray(msg.k, dtype=np.float64)
    if not p.any() and k.any():
        source, fx, fy, cx, cy = 'K', k[0], k[4], k[2], k[5]
    else:
        source, fx, fy, cx, cy = 'P', p[0], p[5], p[2], p[6]
    values = (fx, fy, cx, cy)
    if not all(math.isfinite(value) for value in values) or fx <= 0 or fy <= 0:
        raise CameraInfoError(
            f'camera_info {source} gives fx={fx}, fy={fy}, cx={cx}, cy={cy}: focal lengths '
            'must be finite and positive and centres finite; calibrate the camera or fix the '
            "driver's camera_info")
    bin_x, bin_y = max(int(msg.binning_x), 1), max(int(msg.binning_y), 1)
    roi = msg.roi
    if roi.width and roi.height:
        cx, cy = cx - roi.x_offset, cy - roi.y_offset
        width, height = int(roi.width), int(roi.height)
    intrinsics = Intrinsics(fx=float(fx) / bin_x, fy=float(fy) / bin_y, cx=float(cx) / bin_x,
                            cy=float(cy) / bin_y, width=width // bin_x, height=height // bin_y)
    check_rays(intrinsics, f'camera_info {source}')
    return intrinsics


# Largest tangent of the ray through a pixel (|x / z|, |y / z|): 1e4 is 89.994 degrees off the
# optical axis. Beyond it a pinhole model means nothing, and points overflow float32.
MAX_RAY_TANGENT = 1e4


def check_rays(intrinsics: Intrinsics, source: str = 'intrinsics') -> None:
    """
    Raise :class:`CameraInfoError` unless the rays through the image corners are usable.

    They are computed in float32, as the cloud is: fx = 1e-45 or cx = 1e39 pass a float64 check
    but give infinite points.
    """
    with np.errstate(all='ignore'):
        fx, fy, cx, cy = np.array([intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy],
                                  dtype=np.float32)
        columns = (np.array([0, intrinsics.width - 1], np.float32) - cx) / fx
        rows = (np.array([0, intrinsics.height - 1], np.float32) - cy) / fy
    tangents = np.concatenate([columns, rows])
    if not (np.isfinite(tangents).all() and np.abs(tangents).max() <= MAX_RAY_TANGENT):
        raise CameraInfoError(
            f'{source} gives fx={intrinsics.fx:g}, fy={intrinsics.fy:g}, cx={intrinsics.cx:g}, '
            f'cy={intrinsics.cy:g}: in float32, as the cloud is computed, the rays through the '
            f'image corners have tangents {", ".join(f"{t:g}" for t in tangents)}, which are not '
            f'finite or beyond {MAX_RAY_TANGENT:g} (89.99 degrees off the axis); calibrate the '
            "camera or fix the driver's camera_info")


def check_camera_info_matches(info_intrinsics: Intrinsics, width: int, height: int) -> None:
    """Raise :class:`CameraInfoError` when the camera_info's size is not the image's size."""
    if (info_intrinsics.width, info_intrinsics.height) != (width, height):
        raise CameraInfoError(
            f'camera_info is {info_intrinsics.width}x{info_intrinsics.height} but the image is '
            f'{width}x{height}; pair the image with the camera_info of the same camera and '
            'resolution')


def camera_info_for(intrinsics: Intrinsics, header: Header) -> CameraInfo:
    """
    Build a distortion-free CameraInfo describing ``intrinsics`` (e.g. for depth/camera_info).

    K and P hold fx, fy, cx, cy; R is the identity; D is five zeros with the plumb_bob model.
    """
    fx, fy = float(intrinsics.fx), float(intrinsics.fy)
    cx, cy = float(intrinsics.cx), float(intrinsics.cy)
    msg = CameraInfo()
    msg.header = header
    msg.width, msg.height = int(intrinsics.width), int(intrinsics.height)
    msg.distortion_model = 'plumb_bob'
    msg.d = [0.0] * 5
    msg.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


@dataclass(frozen=True)
class DepthEncoding:
    """How a REP 118 depth encoding stores metres: value * ``metres_per_unit``, ``invalid``."""

    dtype: np.dtype
    metres_per_unit: float
    invalid: float


DEPTH_ENCODINGS: Dict[str, DepthEncoding] = {
    '32FC1': DepthEncoding(np.dtype(np.float32), 1.0, math.nan),
    '16UC1': DepthEncoding(np.dtype(np.uint16), 0.001, 0.0),
}


def _depth_encoding(encoding: str) -> DepthEncoding:
    spec = DEPTH_ENCODINGS.get(encoding)
    if spec is None:
        raise ImageError(f'unsupported depth encoding {encoding!r}; supported: '
                         f'{", ".join(DEPTH_ENCODINGS)}')
    return spec


def metres_to_depth_values(depth: np.ndarray, encoding: str) -> np.ndarray:
    """
    Convert metres (NaN, inf or <= 0 = invalid) to the stored values of a depth encoding.

    ``32FC1``: float32 metres, invalid -> NaN. ``16UC1``: millimetres rounded to the nearest
    integer; invalid, below 0.5 mm or beyond 65.535 m -> 0 (invalid: there is no way to say
    "far" in 16UC1, so a clamp to 65535 would publish a wrong distance). ``32FC1`` returns
    ``depth`` itself when it has nothing to clip: do not write into the result.
    """
    spec = _depth_encoding(encoding)
    metres = np.asarray(depth, dtype=np.float32)
    if spec.dtype.kind == 'f':
        return geometry.clip_depth(metres, copy=False)  # NaN where not finite and positive
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(metres) & (metres > 0)
    units = np.floor(np.where(valid, metres, 0).astype(np.float64) / spec.metres_per_unit + 0.5)
    limit = np.iinfo(spec.dtype).max
    return np.where(units <= limit, units, spec.invalid).astype(spec.dtype)


def depth_values_to_metres(values: np.ndarray, encoding: str) -> np.ndarray:
    """
    Convert stored depth values to float32 metres with NaN for invalid pixels.

    Invalid: 0 for ``16UC1``; NaN, inf and values <= 0 for ``32FC1`` (several drivers mark
    missing depth with 0).
    """
    spec = _depth_encoding(encoding)
    metres = np.asarray(values, dtype=np.float32) * np.float32(spec.metres_per_unit)
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(metres) & (metres > 0)
    return np.where(valid, metres, np.float32(np.nan))


def _message(cls: type):
    """
    Create a message whose ``data`` setter keeps an ``array.array('B')`` without copying it.

    Generated messages of Jazzy and later copy an assigned array unless the message checks its
    fields; Humble's messages have no ``check_fields`` and never copy.
    """
    if '_check_fields' in cls.__slots__:
        return cls(check_fields=True)
    return cls()


def _zeroed_bytes(size: int) -> array.array:
    return array.array('B', [0]) * size


def image_message(header: Header, encoding: str, shape: Tuple[int, ...], dtype: np.dtype
                  ) -> Tuple[Image, np.ndarray]:
    """
    Return a new Image without row padding (little-endian) and a writable view of its pixels.

    ``shape`` is ``(H, W)`` or ``(H, W, C)`` of ``dtype``; the pixels start zeroed, so that
    an output can be written straight into the message instead of copied into it.
    """
    dtype = np.dtype(dtype)
    msg = _message(Image)
    msg.header = header
    msg.height, msg.width = int(shape[0]), int(shape[1])
    msg.encoding = encoding
    msg.is_bigendian = False
    msg.step = int(math.prod(shape[1:]) * dtype.itemsize)
    msg.data = _zeroed_bytes(msg.step * msg.height)
    return msg, np.frombuffer(msg.data, dtype=dtype.newbyteorder('<')).reshape(shape)


def _new_image(header: Header, encoding: str, pixels: np.ndarray) -> Image:
    """Copy an (H, W[, C]) array into a new Image without row padding (little-endian)."""
    msg, view = image_message(header, encoding, pixels.shape, pixels.dtype)
    view[...] = pixels
    return msg


def depth_to_image(depth: np.ndarray, header: Header, encoding: str = '32FC1') -> Image:
    """
    Encode an ``(H, W)`` depth map in metres (NaN = invalid) as a REP 118 Image.

    ``encoding`` is ``'32FC1'`` (metres, NaN invalid) or ``'16UC1'`` (millimetres, 0 invalid);
    see :func:`metres_to_depth_values` for rounding and the 65.535 m limit.
    """
    if np.ndim(depth) != 2:
        raise ImageError(f'depth must have shape (H, W), got {np.shape(depth)}')
    values = metres_to_depth_values(depth, encoding)
    return _new_image(header, encoding, values)


def depth_from_image(msg: Image) -> np.ndarray:
    """
    Decode a ``32FC1`` or ``16UC1`` depth Image to ``(H, W)`` float32 metres, NaN = invalid.

    Honours ``step`` and ``is_bigendian``.
    """
    spec = _depth_encoding(msg.encoding)
    dtype = spec.dtype.newbyteorder('>' if msg.is_bigendian else '<')
    return depth_values_to_metres(_pixels(msg, dtype.itemsize, dtype)[..., 0], msg.encoding)


def rgb_to_image(rgb: np.ndarray, header: Header) -> Image:
    """Encode an ``(H, W, 3)`` uint8 RGB array as an ``rgb8`` Image."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageError(f'rgb must be uint8 of shape (H, W, 3), got {rgb.dtype} {rgb.shape}')
    return _new_image(header, 'rgb8', rgb)


def labels_to_image(labels: np.ndarray, header: Header) -> Image:
    """Encode ``(H, W)`` uint8 class ids as a ``mono8`` Image."""
    if labels.dtype != np.uint8 or labels.ndim != 2:
        raise ImageError(f'labels must be uint8 of shape (H, W), got {labels.dtype} '
                         f'{labels.shape}')
    return _new_image(header, 'mono8', labels)


_XYZ_FIELDS = ('x', 'y', 'z')
_FIELD_DTYPES: Dict[int, str] = {
    PointField.INT8: 'i1', PointField.UINT8: 'u1', PointField.INT16: 'i2',
    PointField.UINT16: 'u2', PointField.INT32: 'i4', PointField.UINT32: 'u4',
    PointField.FLOAT32: 'f4', PointField.FLOAT64: 'f8',
}
# References to a pooled buffer when nothing outside the pool holds it: the pool's list, the
# loop variable and getrefcount's own argument.
_POOL_ONLY_REFERENCES = 3


class MessageBuffers:
    """
    Data buffers for outgoing messages, handed out again once nothing else refers to them.

    A published message that its publisher dropped leaves its buffer here; the next message of
    the same size is written into it instead of a freshly allocated and zero-filled one (which
    costs more than the writing itself for camera-sized clouds). A buffer that a message still
    holds is never handed out. At most ``keep`` buffers are kept, all of the current size, so a
    single large frame leaves nothing large behind.
    """

    def __init__(self, keep: int = 2) -> None:
        self._keep = keep
        self._buffers: list = []

    def get(self, size: int) -> array.array:
        """Return an ``array.array('B')`` of ``size`` bytes that nothing else refers to."""
        for buffer in self._buffers:
            if len(buffer) == size and sys.getrefcount(buffer) <= _POOL_ONLY_REFERENCES:
                return buffer
        buffer = _zeroed_bytes(size)
        same_size = [b for b in self._buffers if len(b) == size]
        self._buffers = same_size[len(same_size) + 1 - self._keep:] + [buffer]
        return buffer


def cloud_message(header: Header, height: int, width: int, with_rgb: bool,
                  buffers: Optional[MessageBuffers] = None) -> Tuple[PointCloud2, np.ndarray]:
    """
    Return an organised PointCloud2 and a writable float32 view of its records.

    Same layout as depth_image_proc's point_cloud_xyz / point_cloud_xyzrgb (PCL's PointXYZ and
    PointXYZRGB): little-endian, x y z FLOAT32 at offsets 0 4 8 and ``point_step`` 16; with
    ``with_rgb`` an ``rgb`` FLOAT32 field at offset 16 holding the bits 0x00RRGGBB and
    ``point_step`` 32; ``is_dense`` False. The view is ``(height, width, lanes)`` as
    :func:`mono_depth_ros.geometry.point_records` writes them, pads included: the caller fills
    every byte (the buffer may come from ``buffers`` and hold an older cloud).
    """
    lanes = geometry.XYZRGB_LANES if with_rgb else geometry.XYZ_LANES
    point_step = 4 * lanes
    size = int(height) * int(width) * point_step
    data = buffers.get(size) if buffers is not None else _zeroed_bytes(size)
    fields = [PointField(name=name, offset=4 * i, datatype=PointField.FLOAT32, count=1)
              for i, name in enumerate(_XYZ_FIELDS)]
    if with_rgb:
        fields.append(PointField(name='rgb', offset=4 * geometry.RGB_LANE,
                                 datatype=PointField.FLOAT32, count=1))
    msg = _message(PointCloud2)
    msg.header = header
    msg.height, msg.width = int(height), int(width)
    msg.fields = fields
    msg.is_bigendian = False
    msg.point_step = point_step
    msg.row_step = point_step * int(width)
    msg.is_dense = False
    msg.data = data
    records = np.frombuffer(data, dtype='<f4').reshape(int(height), int(width), lanes)
    return msg, records


def points_to_cloud(points: np.ndarray, header: Header,
                    rgb: Optional[np.ndarray] = None) -> PointCloud2:
    """
    Pack an organised ``(H, W, 3)`` float32 cloud (NaN = invalid) into a PointCloud2.

    The layout of :func:`cloud_message`; ``rgb`` is ``(H, W, 3)`` uint8 or None.
    """
    if points.ndim != 3 or points.shape[2] != 3:
        raise CloudError(f'points must have shape (H, W, 3), got {points.shape}')
    height, width = points.shape[:2]
    if rgb is not None and (rgb.shape != points.shape or rgb.dtype != np.uint8):
        raise CloudError(f'rgb must be uint8 of shape {points.shape}, got {rgb.dtype} '
                         f'{rgb.shape}')
    msg, records = cloud_message(header, height, width, rgb is not None)
    packed = None if rgb is None else pack_rgb(rgb)
    geometry.merge_records([np.ascontiguousarray(points, dtype=np.float32)], packed, records)
    return msg


def depth_to_cloud(depth: np.ndarray, intrinsics: Intrinsics, header: Header,
                   decimation: int = 1, min_depth: float = 0.0, max_depth: float = math.inf,
                   rgb: Optional[np.ndarray] = None,
                   buffers: Optional[MessageBuffers] = None) -> PointCloud2:
    """
    Back-project ``(H, W)`` depth in metres into an organised PointCloud2, as depth_image_proc.

    The points of :func:`mono_depth_ros.geometry.depth_to_points` (``decimation``, NaN below
    ``min_depth``, above ``max_depth`` or invalid), written once into the message's buffer
    (:func:`mono_depth_ros.geometry.point_records`); ``rgb`` (``(H, W, 3)`` uint8, the colour
    of each depth pixel) adds the packed ``rgb`` field. ``buffers`` lets consecutive clouds
    reuse the buffers of messages already published and dropped.
    """
    if np.ndim(depth) != 2:
        raise CloudError(f'depth must have shape (H, W), got {np.shape(depth)}')
    height, width = geometry.decimated_size(depth.shape[0], depth.shape[1], decimation)
    msg, records = cloud_message(header, height, width, rgb is not None, buffers)
    geometry.point_records(depth, intrinsics, decimation, min_depth, max_depth, rgb,
                           out=records)
    return msg


def cloud_to_points(msg: PointCloud2) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """
    Read x, y, z (and ``rgb``/``rgba`` if present) from any PointCloud2 by field name.

    Returns ``(points, rgb)``: ``(H, W, 3)`` float32 (an unorganised cloud has H = 1) and
    ``(H, W, 3)`` uint8 or None. Field offsets, types, ``point_step``, ``row_step`` and
    ``is_bigendian`` are honoured.

    Raises
    ------
        CloudError: a missing x, y or z field, an unknown field type, or a data size that does
            not match the declared layout.

    """
    order = '>' if msg.is_bigendian else '<'
    fields = {field.name: field for field in msg.fields}
    missing = [name for name in _XYZ_FIELDS if name not in fields]
    if missing:
        raise CloudError(f'PointCloud2 has no field {", ".join(missing)}; it has '
                         f'{", ".join(fields) or "no fields"}')
    colour = next((name for name in ('rgb', 'rgba') if name in fields), None)
    names = list(_XYZ_FIELDS) + ([colour] if colour else [])
    formats = []
    for name in names:
        field = fields[name]
        code = _FIELD_DTYPES.get(field.datatype)
        if code is None:
            raise CloudError(f'PointCloud2 field {name!r} has unknown datatype '
                             f'{field.datatype}')
        # Packed colour is read as raw bits, whatever type the field declares.
        formats.append(order + ('u4' if name == colour else code))
        if field.offset + np.dtype(formats[-1]).itemsize > msg.point_step:
            raise CloudError(f'PointCloud2 field {name!r} at offset {field.offset} does not fit '
                             f'in point_step {msg.point_step}')
    height, width = int(msg.height), int(msg.width)
    point_step, row_step = int(msg.point_step), int(msg.row_step)
    record = np.dtype({'names': names, 'formats': formats,
                       'offsets': [int(fields[name].offset) for name in names],
                       'itemsize': point_step})
    buffer = np.frombuffer(msg.data, dtype=np.uint8)
    needed = (height - 1) * row_step + width * point_step if height and width else 0
    if buffer.size < needed or row_step < width * point_step:
        raise CloudError(f'PointCloud2 data has {buffer.size} bytes but height {height}, width '
                         f'{width}, point_step {point_step}, row_step {row_step} need {needed}')
    table = np.ndarray(shape=(height, width), dtype=record, buffer=buffer,
                       strides=(row_step, point_step))
    points = np.stack([table[name].astype(np.float32) for name in _XYZ_FIELDS], axis=-1)
    rgb = unpack_rgb(table[colour]) if colour else None
    return points, rgb


def confidence_to_image(confidence: np.ndarray, header: Header) -> Image:
    """Encode an ``(H, W)`` per-pixel confidence in [0, 1] as a ``32FC1`` Image."""
    if confidence.ndim != 2:
        raise ImageError(f'confidence must have shape (H, W), got {confidence.shape}')
    return _new_image(header, '32FC1', np.asarray(confidence, dtype=np.float32))


def depth_to_compressed_depth(depth: np.ndarray, header: Header, encoding: str = '32FC1',
                              depth_max: float = compressed_depth.DEFAULT_DEPTH_MAX,
                              quantization: float = compressed_depth.DEFAULT_QUANTIZATION,
                              png_level: int = compressed_depth.DEFAULT_PNG_LEVEL
                              ) -> CompressedImage:
    """
    Encode depth in metres (NaN invalid) as compressed_depth_image_transport does.

    The depth is first stored as the ``encoding`` REP 118 image would store it
    (:func:`metres_to_depth_values`), then compressed by :func:`compressed_depth.encode`; the
    message is what an image_transport ``compressedDepth`` publisher of that image sends.
    """
    if np.ndim(depth) != 2:
        raise ImageError(f'depth must have shape (H, W), got {np.shape(depth)}')
    msg = _message(CompressedImage)
    msg.header = header
    msg.format, data = compressed_depth.encode(metres_to_depth_values(depth, encoding),
                                               encoding, depth_max, quantization, png_level)
    msg.data = array.array('B', data)
    return msg


def scan_to_message(scan: Scan, header: Header, frame_id: str, scan_time: float) -> LaserScan:
    """
    Build the sensor_msgs/LaserScan of a :class:`~mono_depth_ros.scan.Scan`.

    The stamp is the depth image's; ``frame_id`` is the scan's frame (x forward, z up at the
    camera), not the optical frame; ``time_increment`` is 0 (every range is of one instant).
    """
    msg = LaserScan()
    msg.header = Header(stamp=header.stamp, frame_id=frame_id)
    msg.angle_min, msg.angle_max = scan.angle_min, scan.angle_max
    msg.angle_increment = scan.angle_increment
    msg.time_increment = 0.0
    msg.scan_time = float(scan_time)
    msg.range_min, msg.range_max = scan.range_min, scan.range_max
    msg.ranges = array.array('f', scan.ranges.astype(np.float32).tobytes())
    return msg
