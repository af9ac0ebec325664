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

"""Hostile inputs for the tests: decompression bombs, and the peak memory they may cost."""
from __future__ import annotations

from pathlib import Path
import struct
import zlib

import cv2
import numpy as np
import pytest

CLEAR_REFS = Path('/proc/self/clear_refs')


def jpeg_bomb(width: int, height: int) -> bytes:
    """Return a real 16x16 JPEG (630 bytes) whose frame header says ``width`` x ``height``."""
    ok, data = cv2.imencode('.jpg', np.full((16, 16, 3), 128, np.uint8))
    data = bytearray(data.tobytes())
    frame = data.find(b'\xff\xc0')  # baseline start of frame: FF C0, length, precision, h, w
    data[frame + 5:frame + 9] = struct.pack('>HH', height, width)
    return bytes(data)


def png_bomb(width: int, height: int) -> bytes:
    """Return a valid black RGB PNG of ``width`` x ``height`` (20000 x 20000: 1.2 MB)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack('>I', len(data)) + kind + data
                + struct.pack('>I', zlib.crc32(kind + data)))

    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    pixels = _zeros_zlib(height * (1 + 3 * width))  # each row: filter byte 0, then the pixels
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', pixels)
            + chunk(b'IEND', b''))


def _zeros_zlib(size: int) -> bytes:
    """
    Return a zlib stream of ``size`` zero bytes, built in milliseconds.

    After a full flush each compressed megabyte of zeros is the same bytes, so one is repeated;
    the Adler-32 of n zeros is (n mod 65521) << 16 | 1.
    """
    block = 1 << 20
    count, rest = divmod(size, block)
    compressor = zlib.compressobj(9)
    first = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    last = compressor.compress(bytes(rest)) + compressor.flush()
    return (first + repeated * (count - 1) + last[:-4]
            + struct.pack('>I', (size % 65521) << 16 | 1))


def _status_kib(field: str) -> int:
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith(field + ':'):
            return int(line.split()[1])
    raise LookupError(field)


class PeakMemory:
    """
    How far this process's resident memory rose above where it was, in MiB.

    Linux resets the peak (VmHWM) when 5 is written to /proc/self/clear_refs.
    """

    def __init__(self) -> None:
        try:
            CLEAR_REFS.write_text('5')
        except OSError as error:
            pytest.skip(f'cannot reset the peak resident memory here: {error}')
        self.start_kib = _status_kib('VmRSS')

    def rise_mib(self) -> float:
        """Return the peak since the reset minus the resident memory at the reset."""
        return (_status_kib('VmHWM') - self.start_kib) / 1024
