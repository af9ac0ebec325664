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
The compressedDepth encoder, checked by a decoder written here from the format's specification.

The decoder shares nothing with the encoder (which uses OpenCV's PNG writer): it parses the PNG
chunks, checks their CRCs, inflates the image data with zlib and undoes the five PNG scanline
filters itself, then applies compressed_depth_image_transport's decoding rule to the 12-byte
header's parameters, exactly as that plugin's subscriber (and so RViz) does.
"""
from __future__ import annotations

import struct
import zlib

import cv2
from mono_depth_ros import compressed_depth
import numpy as np
import pytest

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def _paeth(left: int, up: int, up_left: int) -> int:
    estimate = left + up - up_left
    distances = (abs(estimate - left), abs(estimate - up), abs(estimate - up_left))
    return (left, up, up_left)[distances.index(min(distances))]


def read_png16(data: bytes) -> np.ndarray:
    """Decode a 16-bit greyscale, non-interlaced PNG (ISO/IEC 15948) into uint16."""
    assert data[:8] == PNG_SIGNATURE
    offset, chunks = 8, []
    while offset < len(data):
        length, kind = struct.unpack('>I4s', data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack('>I', data[offset + 8 + length:offset + 12 + length])
        assert zlib.crc32(kind + body) == crc, f'bad CRC in chunk {kind!r}'
        chunks.append((kind, body))
        offset += 12 + length
    assert chunks[0][0] == b'IHDR' and chunks[-1][0] == b'IEND'
    width, height, bit_depth, colour, method, filtering, interlace = struct.unpack(
        '>IIBBBBB', chunks[0][1])
    assert (bit_depth, colour, method, filtering, interlace) == (16, 0, 0, 0, 0)
    raw = zlib.decompress(b''.join(body for kind, body in chunks if kind == b'IDAT'))
    stride, bpp = width * 2, 2
    assert len(raw) == height * (stride + 1)
    rows, previous = [], bytearray(stride)
    for y in range(height):
        line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        kind, row = line[0], bytearray(line[1:])
        for i in range(stride):
            left = row[i - bpp] if i >= bpp else 0
            up_left = previous[i - bpp] if i >= bpp else 0
            predictor = {0: 0, 1: left, 2: previous[i], 3: (left + previous[i]) // 2,
                         4: _paeth(left, previous[i], up_left)}[kind]
            row[i] = (row[i] + predictor) & 0xFF
        rows.append(bytes(row))
        previous = row
    return np.frombuffer(b''.join(rows), dtype='>u2').reshape(height, width).astype(np.uint16)


def decode(fmt: str, data: bytes) -> tuple[str, np.ndarray]:
    """Decode a compressedDepth message body the way the plugin's subscriber does."""
    encoding, _, transport = fmt.partition(';')
    assert transport.strip() == 'compressedDepth png'
    kind, quant_a, quant_b = struct.unpack('<iff', data[:12])
    assert kind == 0  # INV_DEPTH
    codes = read_png16(data[12:])
    if encoding == '16UC1':
        return encoding, codes
    assert encoding == '32FC1'
    a, b = np.float32(quant_a), np.float32(quant_b)
    with np.errstate(divide='ignore'):
        depth = a / (codes.astype(np.float32) - b)
    return encoding, np.where(codes > 0, depth, np.float32(np.nan))


def structured_depth(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """Return a room-like float32 depth in metres: planes, a box edge, noise, holes."""
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    depth = 0.5 + 9.0 * (1.0 - v / height) + 0.02 * u
    depth[10:30, 20:40] = 1.2
    depth += rng.normal(0.0, 0.01, depth.shape).astype(np.float32)
    depth[rng.random(depth.shape) < 0.05] = np.nan
    return depth.astype(np.float32)


def test_16uc1_is_lossless_up_to_depth_max():
    rng = np.random.default_rng(1)
    millimetres = rng.integers(0, 20000, (48, 64)).astype(np.uint16)
    millimetres[0, :3] = [0, 12000, 12001]
    fmt, data = compressed_depth.encode(millimetres, '16UC1', depth_max=12.0)
    assert fmt == '16UC1; compressedDepth png'
    _, decoded = decode(fmt, data)
    np.testing.assert_array_equal(decoded, np.where(millimetres > 12000, 0, millimetres))
    assert list(decoded[0, :3]) == [0, 12000, 0]


def test_32fc1_inverse_depth_quantisation_round_trips_within_one_step():
    depth = structured_depth()
    depth[0, :4] = [0.1, 10.0, 12.0, -1.0]  # too near to code, depth_max, beyond, invalid
    fmt, data = compressed_depth.encode(depth, '32FC1', depth_max=10.0, quantization=100.0)
    assert fmt == '32FC1; compressedDepth png'
    _, decoded = decode(fmt, data)
    quant_a = 100.0 * 101.0
    coded = np.isfinite(depth) & (depth > quant_a / 65535.0) & (depth < 10.0)
    np.testing.assert_array_equal(np.isfinite(decoded), coded)
    # One code step in depth is d^2 / A; truncation puts the decoded depth d' up to one step
    # (at d') beyond the depth, never before it.
    error = decoded[coded].astype(np.float64) - depth[coded]
    assert np.all(error >= -1e-6)
    assert np.all(error <= 1.001 * decoded[coded].astype(np.float64) ** 2 / quant_a)
    assert np.median(error / depth[coded]) < 0.005  # 0.5 % at these indoor depths


def test_32fc1_parameters_change_the_header_and_the_resolution():
    depth = structured_depth(seed=2)
    _, coarse = compressed_depth.encode(depth, '32FC1', depth_max=30.0, quantization=20.0)
    _, fine = compressed_depth.encode(depth, '32FC1', depth_max=30.0, quantization=150.0)
    assert struct.unpack('<iff', coarse[:12]) == pytest.approx((0, 420.0, 1.0 - 420.0 / 30.0))
    _, decoded_coarse = decode('32FC1; compressedDepth png', coarse)
    _, decoded_fine = decode('32FC1; compressedDepth png', fine)
    valid = np.isfinite(depth)
    coarse_error = np.nanmean(np.abs(decoded_coarse - depth)[valid])
    fine_error = np.nanmean(np.abs(decoded_fine - depth)[valid])
    assert fine_error < coarse_error / 5


def test_png_level_trades_size_not_content():
    depth = structured_depth(seed=3)
    fast = compressed_depth.encode(depth, '32FC1', png_level=1)
    small = compressed_depth.encode(depth, '32FC1', png_level=9)
    assert len(small[1]) <= len(fast[1])
    np.testing.assert_array_equal(decode(*fast)[1], decode(*small)[1])


def test_the_decoder_reads_every_png_filter():
    # The encoder writes Up rows only; libpng's adaptive choice uses all five filters, and the
    # decoder must read those too (a plugin on another machine may have written them).
    codes = (np.nan_to_num(structured_depth(seed=4)) * 1000).astype(np.uint16)
    ok, png = cv2.imencode('.png', codes, [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_ALL_FILTERS])
    np.testing.assert_array_equal(read_png16(png.tobytes()), codes)


def test_bad_input_is_refused_with_the_reason():
    with pytest.raises(ValueError, match='16UC1 or 32FC1'):
        compressed_depth.encode(np.zeros((4, 4), np.float32), '32FC3')
    with pytest.raises(ValueError, match='uint16 millimetres'):
        compressed_depth.encode(np.zeros((4, 4), np.float32), '16UC1')
    with pytest.raises(ValueError, match='float32 metres'):
        compressed_depth.encode(np.zeros((4, 4), np.uint16), '32FC1')
    with pytest.raises(ValueError, match=r'\(H, W\)'):
        compressed_depth.encode(np.zeros((4, 4, 1), np.float32), '32FC1')
    with pytest.raises(ValueError, match='png_level'):
        compressed_depth.encode(np.zeros((4, 4), np.float32), '32FC1', png_level=10)
    with pytest.raises(ValueError, match='depth_max'):
        compressed_depth.encode(np.zeros((4, 4), np.float32), '32FC1', depth_max=0.0)
