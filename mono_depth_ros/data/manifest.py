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
Real RGB-D frames listed in a ``manifest.json``: colour, metric depth and intrinsics per frame.

The format (``docs/MANIFEST.md``) is that of the repository's real-frame test set, and is meant for
a user's own captures too::

    {"frames": [{"id": "kitchen_0001", "rgb": "rgb/0001.png", "depth": "depth/0001.png",
                 "depth_decoding": {"format": "png_uint16", "scale": 1000},
                 "intrinsics": {"fx": 525.0, "fy": 525.0, "cx": 319.5, "cy": 239.5,
                                "width": 640, "height": 480},
                 "env": "indoor", "dataset": "my robot"}]}

Paths are relative to the folder holding the manifest. Every entry is checked when the manifest
is read (keys, decoding, files), and each frame's sizes when it is loaded; every error names the
frame.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import json
import math
from pathlib import Path

from mono_depth_ros.data import Sample
from mono_depth_ros.data.folder import read_depth_npy, read_depth_png, read_rgb
from mono_depth_ros.geometry import Intrinsics

# decoding format -> what it means
DEPTH_FORMATS = {
    'png_uint16': '16-bit PNG, metres = value / scale, 0 = no ground truth',
    'npy_float32': '.npy float array in metres, NaN or <= 0 = no ground truth',
}
INTRINSICS_KEYS = ('fx', 'fy', 'cx', 'cy', 'width', 'height')
UNNAMED_SOURCE = 'unnamed'


class ManifestError(ValueError):
    """A manifest or one of its frames that cannot be used; the message names the frame."""


@dataclass(frozen=True)
class ManifestFrame:
    """
    One entry of a manifest.

    ``name``: the entry's ``id``; ``depth_scale``: stored value per metre (``png_uint16``);
    ``source``: the entry's ``dataset`` (frames are grouped by it in evaluation); ``env``:
    ``indoor``, ``outdoor`` or ``''``.
    """

    name: str
    rgb: Path
    depth: Path
    depth_format: str
    depth_scale: float
    intrinsics: Intrinsics
    source: str = UNNAMED_SOURCE
    env: str = ''


class Manifest(Sequence):
    """The frames of a manifest file, as :class:`~mono_depth_ros.data.Sample` read on demand."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            document = json.loads(self.path.read_text())
        except OSError as error:
            raise ManifestError(f'cannot read manifest {self.path}: {error.strerror}') from None
        except json.JSONDecodeError as error:
            raise ManifestError(f'manifest {self.path} is not valid JSON: {error}') from None
        entries = document.get('frames') if isinstance(document, dict) else None
        if not isinstance(entries, list) or not entries:
            raise ManifestError(f'manifest {self.path} has no "frames" list (see '
                                'docs/MANIFEST.md for the format)')
        self.frames = [self._frame(index, entry) for index, entry in enumerate(entries)]
        seen: set[str] = set()
        for frame in self.frames:
            if frame.name in seen:
                raise ManifestError(f'manifest {self.path}: frame id {frame.name!r} appears twice')
            seen.add(frame.name)

    def _frame(self, index: int, entry: object) -> ManifestFrame:
        name = entry.get('id', f'#{index}') if isinstance(entry, dict) else f'#{index}'

        def fail(problem: str) -> ManifestError:
            return ManifestError(f'manifest {self.path}, frame {name}: {problem}')

        if not isinstance(entry, dict):
            raise fail(f'an entry must be a JSON object, got {type(entry).__name__}')
        missing = [key for key in ('id', 'rgb', 'depth', 'depth_decoding', 'intrinsics')
                   if key not in entry]
        if missing:
            raise fail(f'missing {", ".join(missing)}')
        decoding = entry['depth_decoding']
        depth_format = decoding.get('format') if isinstance(decoding, dict) else None
        if depth_format not in DEPTH_FORMATS:
            raise fail(f'unknown depth_decoding format {depth_format!r}; known: '
                       + '; '.join(f'{key} ({meaning})' for key, meaning in DEPTH_FORMATS.items()))
        scale = decoding.get('scale', 1.0)
        if depth_format == 'png_uint16' and not (isinstance(scale, (int, float))
                                                 and math.isfinite(scale) and scale > 0):
            raise fail(f'depth_decoding scale {scale!r} must be a positive number (stored value '
                       'per metre: 1000 for millimetres, 256 for KITTI)')
        values = entry['intrinsics']
        absent = [key for key in INTRINSICS_KEYS
                  if not isinstance(values, dict) or not isinstance(values.get(key), (int, float))]
        if absent:
            raise fail(f'intrinsics lack a number for {", ".join(absent)}')
        intrinsics = Intrinsics(fx=float(values['fx']), fy=float(values['fy']),
                                cx=float(values['cx']), cy=float(values['cy']),
                                width=int(values['width']), height=int(values['height']))
        if not (intrinsics.fx > 0 and intrinsics.fy > 0 and intrinsics.width > 0
                and intrinsics.height > 0):
            raise fail(f'intrinsics must have positive fx, fy, width and height: {values}')
        paths = {}
        for key in ('rgb', 'depth'):
            path = self.path.parent / str(entry[key])
            if not path.is_file():
                raise fail(f'{key} file {path} does not exist')
            paths[key] = path
        return ManifestFrame(name=str(entry['id']), rgb=paths['rgb'], depth=paths['depth'],
                             depth_format=depth_format, depth_scale=float(scale),
                             intrinsics=intrinsics,
                             source=str(entry.get('dataset') or UNNAMED_SOURCE),
                             env=str(entry.get('env', '')))

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> Sample:
        """Read frame ``index``: RGB, depth in metres (NaN = none) and intrinsics."""
        frame = self.frames[index]
        try:
            rgb = read_rgb(frame.rgb)
            if frame.depth_format == 'png_uint16':
                depth = read_depth_png(frame.depth, frame.depth_scale)
            else:
                depth = read_depth_npy(frame.depth)
        except ValueError as error:
            raise ManifestError(f'manifest {self.path}, frame {frame.name}: {error}') from None
        height, width = rgb.shape[:2]
        size = (frame.intrinsics.width, frame.intrinsics.height)
        if size != (width, height):
            raise ManifestError(f'manifest {self.path}, frame {frame.name}: the intrinsics are '
                                f'for {size[0]}x{size[1]} but the rgb image is {width}x{height}; '
                                'give the intrinsics of the colour image as stored')
        if depth.shape != (height, width):
            raise ManifestError(f'manifest {self.path}, frame {frame.name}: the depth image is '
                                f'{depth.shape[1]}x{depth.shape[0]} but the rgb image is '
                                f'{width}x{height}; depth must be registered to the colour image')
        return Sample(rgb=rgb, depth=depth, intrinsics=frame.intrinsics, name=frame.name)
