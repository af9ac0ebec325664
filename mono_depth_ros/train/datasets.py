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
Torch datasets for training: adapters over the data layer, an on-disk cache, augmentation.

The data layer (``mono_depth_ros.data``) yields samples with ``rgb`` (H, W, 3) uint8, ``depth``
(H, W) float32 metres (NaN = invalid), ``labels`` (H, W) uint8 or ``None`` and ``intrinsics``.
:class:`TrainingSet` turns them into tensors at the training resolution and augments them.

Augmentation is reproducible without any global RNG: the random draws of item ``i`` in epoch ``e``
come from ``numpy.random.default_rng([seed, e, i])``, so results do not depend on the number of
workers or on the order in which workers run, and a resumed run sees the same data.
"""
from __future__ import annotations

from dataclasses import dataclass
import json
import multiprocessing
from pathlib import Path
from typing import Sequence

import cv2
from mono_depth_ros.geometry import Intrinsics
from mono_depth_ros.train.losses import IGNORE_INDEX
import numpy as np
import torch

CACHE_FILES = ('rgb.npy', 'depth.npy', 'labels.npy', 'intrinsics.npy')


@dataclass(frozen=True)
class Augmentation:
    """Random horizontal flip and colour jitter (factors drawn in ``[1 - x, 1 + x]``)."""

    flip: bool = True
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    gamma: float = 0.1


@dataclass
class CachedSample:
    """One sample read back from a :func:`write_cache` folder."""

    rgb: np.ndarray
    depth: np.ndarray
    labels: np.ndarray | None
    intrinsics: Intrinsics


class CachedScenes:
    """A folder written by :func:`write_cache`, read through memory maps (cheap in workers)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        missing = [name for name in CACHE_FILES if not (self.root / name).is_file()]
        if missing:
            raise FileNotFoundError(f'{self.root} is not a complete training cache: missing '
                                    f'{missing}; delete it and let the trainer render it again')
        self.meta = json.loads((self.root / 'meta.json').read_text())
        self._arrays = {name: np.load(self.root / name, mmap_mode='r') for name in CACHE_FILES}

    def __len__(self) -> int:
        return int(self._arrays['rgb.npy'].shape[0])

    def __getitem__(self, index: int) -> CachedSample:
        if not 0 <= index < len(self):
            raise IndexError(f'sample {index} out of range for a cache of {len(self)}')
        # Copies: arrays handed out must not alias the read-only memory map.
        rgb = np.array(self._arrays['rgb.npy'][index])
        fx, fy, cx, cy = (float(v) for v in self._arrays['intrinsics.npy'][index])
        labels = np.array(self._arrays['labels.npy'][index])
        return CachedSample(
            rgb=rgb,
            depth=np.array(self._arrays['depth.npy'][index], dtype=np.float32),
            labels=labels if self.meta.get('has_labels', True) else None,
            intrinsics=Intrinsics(fx, fy, cx, cy, width=rgb.shape[1], height=rgb.shape[0]))


def write_cache(source: Sequence, root: Path, meta: dict | None = None,
                workers: int = 0) -> CachedScenes:
    """
    Render every sample of ``source`` once into ``root`` (``.npy`` files plus ``meta.json``).

    All samples must have the same size. Depth is stored as float32, labels as uint8
    (``IGNORE_INDEX`` where the source has none). ``meta`` is recorded for provenance; a folder
    that already holds a cache with the same ``meta`` is reused as it is. ``workers > 1`` renders
    in that many processes (the order of the samples stays the same).
    """
    root = Path(root)
    meta = dict(meta or {})
    meta_path = root / 'meta.json'
    if meta_path.is_file() and json.loads(meta_path.read_text()).get('source') == meta:
        return CachedScenes(root)
    root.mkdir(parents=True, exist_ok=True)
    count = len(source)
    first = source[0]
    height, width = first.rgb.shape[:2]
    arrays = {
        'rgb.npy': np.lib.format.open_memmap(root / 'rgb.npy', 'w+', np.uint8,
                                             (count, height, width, 3)),
        'depth.npy': np.lib.format.open_memmap(root / 'depth.npy', 'w+', np.float32,
                                               (count, height, width)),
        'labels.npy': np.lib.format.open_memmap(root / 'labels.npy', 'w+', np.uint8,
                                                (count, height, width)),
        'intrinsics.npy': np.lib.format.open_memmap(root / 'intrinsics.npy', 'w+',
                                                    np.float64, (count, 4)),
    }
    has_labels = first.labels is not None
    if workers > 1:
        pool = multiprocessing.get_context('fork').Pool(workers)
        samples = pool.imap(source.__getitem__, range(count), chunksize=4)
    else:
        pool = None
        samples = (source[index] for index in range(count))
    for index, sample in enumerate(samples):
        if sample.rgb.shape[:2] != (height, width):
            raise ValueError(f'sample {index} is {sample.rgb.shape[1]}x{sample.rgb.shape[0]}, '
                             f'the first one {width}x{height}; a cache needs one size')
        arrays['rgb.npy'][index] = sample.rgb
        arrays['depth.npy'][index] = sample.depth
        arrays['labels.npy'][index] = (sample.labels if sample.labels is not None
                                       else IGNORE_INDEX)
        k = sample.intrinsics
        arrays['intrinsics.npy'][index] = (k.fx, k.fy, k.cx, k.cy)
    if pool is not None:
        pool.close()
        pool.join()
    for array in arrays.values():
        array.flush()
    meta_path.write_text(json.dumps({'source': meta, 'count': count, 'width': width,
                                     'height': height, 'has_labels': has_labels}, indent=1))
    return CachedScenes(root)


def _jitter_colours(rgb: np.ndarray, rng: np.random.Generator, aug: Augmentation) -> np.ndarray:
    """Brightness, contrast, saturation and gamma on a float (H, W, 3) image in [0, 1]."""
    def factor(amount: float) -> float:
        return float(rng.uniform(1 - amount, 1 + amount))

    rgb = rgb * factor(aug.brightness)
    mean = rgb.mean()
    rgb = (rgb - mean) * factor(aug.contrast) + mean
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    rgb = (rgb - grey[..., None]) * factor(aug.saturation) + grey[..., None]
    rgb = np.clip(rgb, 0.0, 1.0)
    return rgb ** factor(aug.gamma)


class TrainingSet(torch.utils.data.Dataset):
    """
    Samples of a data-layer sequence as training tensors, resized and augmented.

    Items are dicts: ``image`` (3, H, W) float32 RGB in [0, 1] (normalisation belongs to the model
    spec and happens in the loop), ``depth`` (1, H, W) float32 metres (NaN invalid), ``labels``
    (H, W) int64 (``IGNORE_INDEX`` where unknown), ``intrinsics`` (4,) float32 ``fx fy cx cy``.
    """

    def __init__(self, source: Sequence, size: tuple[int, int] | None = None,
                 augmentation: Augmentation | None = None, seed: int = 0) -> None:
        self.source = source
        self.size = size
        self.augmentation = augmentation
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentation draws ``__getitem__`` uses."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        sample = self.source[index]
        rgb = np.asarray(sample.rgb)
        depth = np.asarray(sample.depth, dtype=np.float32)
        labels = (np.full(depth.shape, IGNORE_INDEX, np.uint8) if sample.labels is None
                  else np.asarray(sample.labels, dtype=np.uint8))
        k = sample.intrinsics
        height, width = rgb.shape[:2]
        if self.size is not None and self.size != (height, width):
            height, width = self.size
            k = k.scaled(width, height) if k is not None else None
            rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
            depth = cv2.resize(depth, (width, height), interpolation=cv2.INTER_NEAREST)
            labels = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
        image = rgb.astype(np.float32) / 255.0
        # A folder without camera_info has no intrinsics: they are NaN in the batch.
        fx, fy, cx, cy = (k.fx, k.fy, k.cx, k.cy) if k is not None else (float('nan'),) * 4
        if self.augmentation is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            if self.augmentation.flip and rng.random() < 0.5:
                image, depth, labels = image[:, ::-1], depth[:, ::-1], labels[:, ::-1]
                cx = width - 1 - cx
            image = _jitter_colours(image, rng, self.augmentation)
        return {
            'image': torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1),
                                                           dtype=np.float32)),
            'depth': torch.from_numpy(np.ascontiguousarray(depth))[None],
            'labels': torch.from_numpy(np.ascontiguousarray(labels).astype(np.int64)),
            'intrinsics': torch.tensor([fx, fy, cx, cy], dtype=torch.float32),
        }
