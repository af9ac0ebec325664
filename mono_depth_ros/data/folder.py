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
Datasets on disk: a folder of image/depth pairs, and KITTI raw with the Eigen split.

Both are plain sequences of :class:`mono_depth_ros.data.Sample` that read their files when an
item is requested; every path is checked when the dataset is built, so a missing file is found
before a long evaluation starts.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
from mono_depth_ros.data import Sample
from mono_depth_ros.geometry import Intrinsics, intrinsics_from_mapping, read_camera_file
import numpy as np

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg')
CAMERA_INFO_NAMES = ('camera_info.yaml', 'camera_info.yml', 'camera_info.json')


def read_rgb(path: Path) -> np.ndarray:
    """Read an 8-bit colour or grey image as ``(H, W, 3)`` uint8 RGB."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f'cannot read image {path}: missing, empty or not an image')
    if image.dtype != np.uint8:
        raise ValueError(f'{path}: expected an 8-bit image, got {image.dtype}')
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_depth_png(path: Path, units_per_metre: float) -> np.ndarray:
    """Read a 16-bit depth PNG (0 = invalid) as float32 metres with NaN for invalid pixels."""
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ValueError(f'cannot read depth image {path}: missing, empty or not an image')
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise ValueError(f'{path}: a depth PNG must be single-channel 16-bit, got {raw.dtype} '
                         f'with shape {raw.shape}')
    depth = raw.astype(np.float32) / np.float32(units_per_metre)
    depth[raw == 0] = np.nan
    return depth


def read_depth_npy(path: Path) -> np.ndarray:
    """Read a ``.npy`` depth map in metres; non-finite and non-positive values become NaN."""
    depth = np.load(path, allow_pickle=False)
    if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.floating):
        raise ValueError(f'{path}: a depth .npy must be a 2-D float array in metres, got '
                         f'{depth.dtype} with shape {depth.shape}')
    depth = depth.astype(np.float32)
    with np.errstate(invalid='ignore'):
        depth[~(depth > 0) | ~np.isfinite(depth)] = np.nan
    return depth


def read_labels(path: Path) -> np.ndarray:
    """Read a single-channel 8-bit PNG of class ids."""
    labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if labels is None:
        raise ValueError(f'cannot read label image {path}: missing, empty or not an image')
    if labels.dtype != np.uint8 or labels.ndim != 2:
        raise ValueError(f'{path}: labels must be a single-channel 8-bit PNG of class ids, got '
                         f'{labels.dtype} with shape {labels.shape}')
    return labels


def _check_same_size(rgb: np.ndarray, other: np.ndarray, path: Path) -> None:
    if other.shape[:2] != rgb.shape[:2]:
        raise ValueError(f'{path} is {other.shape[1]}x{other.shape[0]} but its image is '
                         f'{rgb.shape[1]}x{rgb.shape[0]}; ground truth must be pixel-aligned')


class FolderPairs(Sequence):
    """
    Images with depth ground truth in one folder.

    The layout::

        root/
          rgb/<stem>.png | .jpg | .jpeg      8-bit colour images
          depth/<stem>.png                   16-bit depth in millimetres, 0 = invalid
          depth/<stem>.npy                   or float depth in metres (NaN, inf, <= 0 invalid)
          labels/<stem>.png                  optional: 8-bit class ids
          camera_info.yaml | .yml | .json    optional: fx fy cx cy [width height], or a
                                             sensor_msgs/CameraInfo, or a camera_calibration file

    Every image needs its depth file; labels are read when the ``labels`` folder has the stem.
    Samples come in the sorted order of the stems. Without a camera info file the samples carry
    no intrinsics; with one sized for another resolution of the same aspect ratio, the
    intrinsics are scaled to each image. Label ids are taken to be the evaluated model's
    (``classes`` is None).
    """

    classes = None

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        rgb_dir = self.root / 'rgb'
        if not rgb_dir.is_dir():
            raise FileNotFoundError(f'{rgb_dir} does not exist; FolderPairs expects root/rgb, '
                                    'root/depth and optionally root/labels')
        images: dict[str, Path] = {}
        for path in sorted(rgb_dir.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if path.stem in images:
                raise ValueError(f'two images share the stem {path.stem!r} in {rgb_dir}: '
                                 f'{images[path.stem].name} and {path.name}')
            images[path.stem] = path
        if not images:
            raise ValueError(f'no .png or .jpg image in {rgb_dir}')
        self.items = []
        missing = []
        for stem, image in images.items():
            depth = next((p for p in (self.root / 'depth' / f'{stem}.png',
                                      self.root / 'depth' / f'{stem}.npy') if p.is_file()), None)
            if depth is None:
                missing.append(stem)
                continue
            labels = self.root / 'labels' / f'{stem}.png'
            self.items.append((stem, image, depth, labels if labels.is_file() else None))
        if missing:
            raise FileNotFoundError(f'{len(missing)} images have no depth/<stem>.png or .npy in '
                                    f'{self.root}, e.g. {missing[:5]}')
        self.camera_info = next((self.root / name for name in CAMERA_INFO_NAMES
                                 if (self.root / name).is_file()), None)
        self._info = None
        if self.camera_info is not None:
            info = self._info = read_camera_file(self.camera_info)
            # Parse against the first image now, so that a bad file fails before a long run.
            first = read_rgb(self.items[0][1])
            intrinsics_from_mapping(info, first.shape[1], first.shape[0], self.camera_info)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Sample:
        stem, image, depth_path, labels_path = self.items[index]
        rgb = read_rgb(image)
        if depth_path.suffix == '.npy':
            depth = read_depth_npy(depth_path)
        else:
            depth = read_depth_png(depth_path, units_per_metre=1000.0)
        _check_same_size(rgb, depth, depth_path)
        labels = None
        if labels_path is not None:
            labels = read_labels(labels_path)
            _check_same_size(rgb, labels, labels_path)
        intrinsics = None
        if self._info is not None:
            intrinsics = intrinsics_from_mapping(self._info, rgb.shape[1], rgb.shape[0],
                                                 self.camera_info)
        return Sample(rgb=rgb, depth=depth, labels=labels, intrinsics=intrinsics, name=stem)


def read_kitti_calibration(path: Path) -> dict[str, np.ndarray]:
    """Read a KITTI ``calib_cam_to_cam.txt`` (``key: numbers`` lines) into arrays."""
    out = {}
    for line in path.read_text().splitlines():
        key, sep, values = line.partition(':')
        if not sep:
            continue
        try:
            out[key.strip()] = np.array([float(v) for v in values.split()])
        except ValueError:
            continue  # the calib_time line holds a date
    return out


class KittiEigen(Sequence):
    """
    KITTI raw frames listed by an Eigen split file, with the depth benchmark's ground truth.

    Each line of ``split_file`` is ``<date>/<drive> <frame> <side>``, for example
    ``2011_09_26/2011_09_26_drive_0002_sync 0000000069 l`` (side ``l`` is the left colour camera
    ``image_02``, ``r`` the right one ``image_03``). The tree, as KITTI raw and
    ``data_depth_annotated`` unpack::

        root/
          2011_09_26/
            calib_cam_to_cam.txt                       optional: P_rect_02/03 -> intrinsics
            2011_09_26_drive_0002_sync/
              image_02/data/0000000069.png             (or .jpg)
        depth_root/                                    defaults to root
          [train/ | val/ | 2011_09_26/]2011_09_26_drive_0002_sync/
            proj_depth/groundtruth/image_02/0000000069.png

    Ground truth PNGs are 16-bit, metres = value / 256, 0 = no measurement. A frame without a
    ground truth file is an error, or is skipped with ``skip_missing`` (the Eigen test split has
    697 frames, 652 of them with annotated depth). There are no labels (``classes`` is None).
    """

    classes = None

    def __init__(self, root: str | Path, split_file: str | Path,
                 depth_root: str | Path | None = None, skip_missing: bool = False) -> None:
        self.root = Path(root)
        self.depth_root = Path(depth_root) if depth_root is not None else self.root
        self.items = []
        missing = []
        lines = Path(split_file).read_text().splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 3 or parts[2] not in ('l', 'r') or '/' not in parts[0]:
                raise ValueError(f'{split_file}:{number}: expected "<date>/<drive> <frame> l|r", '
                                 f'got {line!r}')
            folder, frame, side = parts
            date, drive = folder.split('/', 1)
            camera = 'image_02' if side == 'l' else 'image_03'
            name = f'{int(frame):010d}'
            image = self._first([self.root / folder / camera / 'data' / f'{name}{suffix}'
                                 for suffix in IMAGE_SUFFIXES])
            if image is None:
                raise FileNotFoundError(f'{split_file}:{number}: no image '
                                        f'{self.root / folder / camera / "data" / name}.png|.jpg')
            gt_tail = Path(drive) / 'proj_depth' / 'groundtruth' / camera / f'{name}.png'
            depth = self._first([self.depth_root / prefix / gt_tail
                                 for prefix in ('', 'train', 'val', date)])
            if depth is None:
                missing.append(f'{folder} {frame}')
                continue
            self.items.append((f'{folder}/{camera}/{name}', date, camera, image, depth))
        if missing and not skip_missing:
            raise FileNotFoundError(
                f'{len(missing)} frames of {split_file} have no ground truth '
                f'[train/|val/|<date>/]<drive>/proj_depth/groundtruth/<camera>/<frame>.png under '
                f'{self.depth_root}, e.g. {missing[:3]}; pass skip_missing to leave them out')
        self.skipped = len(missing)
        self._calibration: dict[str, dict[str, np.ndarray] | None] = {}

    @staticmethod
    def _first(paths: list[Path]) -> Path | None:
        return next((path for path in paths if path.is_file()), None)

    def __len__(self) -> int:
        return len(self.items)

    def _intrinsics(self, date: str, camera: str, width: int, height: int) -> Intrinsics | None:
        if date not in self._calibration:
            path = self.root / date / 'calib_cam_to_cam.txt'
            self._calibration[date] = read_kitti_calibration(path) if path.is_file() else None
        calibration = self._calibration[date]
        key = 'P_rect_' + camera[-2:]
        if calibration is None or key not in calibration:
            return None
        return intrinsics_from_mapping({'p': calibration[key]}, width, height,
                                       self.root / date / 'calib_cam_to_cam.txt')

    def __getitem__(self, index: int) -> Sample:
        name, date, camera, image, depth_path = self.items[index]
        rgb = read_rgb(image)
        depth = read_depth_png(depth_path, units_per_metre=256.0)
        _check_same_size(rgb, depth, depth_path)
        intrinsics = self._intrinsics(date, camera, rgb.shape[1], rgb.shape[0])
        return Sample(rgb=rgb, depth=depth, labels=None, intrinsics=intrinsics, name=name)
