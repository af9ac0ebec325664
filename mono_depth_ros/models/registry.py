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
The model zoo: every variant by name, and ``create_model``.

Families are listed here explicitly (no registration by import side effect); each family module
exports ``SPECS``, a tuple of :class:`ModelSpec`. Every variant's name starts with one of its
family's prefixes, so that looking one variant up imports only its own family: a file-based
variant (TFLite) is found without importing PyTorch.
"""
from __future__ import annotations

from dataclasses import dataclass
import difflib
from functools import lru_cache
import importlib
import os
from typing import TYPE_CHECKING

from mono_depth_ros.models.spec import ModelSpec

if TYPE_CHECKING:
    import torch

# Family module -> the prefixes of its variants' names.
FAMILIES = {
    'mono_depth_ros.models.joint_refinenet': ('joint-', 'mtrn-'),
    'mono_depth_ros.models.lite_mono': ('lite-mono',),
    'mono_depth_ros.models.depth_anything_v2': ('depth-anything-v2-',),
    'mono_depth_ros.models.fastdepth': ('fastdepth-',),
    'mono_depth_ros.models.dpt': ('dpt-',),
    'mono_depth_ros.models.unet_ffm': ('unet-ffm-',),
}

# 'auto' picks a real pretrained model for the device and the scene (resolve_auto). The synthetic
# demo model is never picked: on real frames it is worse than a constant depth.
DEFAULT_MODEL = 'auto'
DEMO_MODEL = 'joint-mnv3-synthetic'
SCENES = ('indoor', 'outdoor')
DEMO_WARNING = (f'{DEMO_MODEL} is a synthetic demo model for make run and tests: on real camera '
                'frames its depth is worse than predicting one constant depth (README, real-frame '
                'accuracy). Use model:=auto or another zoo model on a real camera')


@dataclass(frozen=True)
class AutoChoice:
    """The model ``'auto'`` runs on a device kind (``cuda`` or ``cpu``) for a scene, and why."""

    model: str
    input_size: int | None
    reason: str


# The rule and its evidence are in the README ("Which model model:=auto runs").
AUTO_CHOICES = {
    ('cuda', 'indoor'): AutoChoice(
        'depth-anything-v2-metric-hypersim-small', None,
        'metric indoor depth to 20 m (Hypersim), Apache-2.0, at its full 518 input on a GPU'),
    ('cuda', 'outdoor'): AutoChoice(
        'depth-anything-v2-metric-vkitti-small', None,
        'metric outdoor depth to 80 m (Virtual KITTI 2), Apache-2.0, at its full 518 input on '
        'a GPU'),
    ('cpu', 'indoor'): AutoChoice(
        'fastdepth-nyu-int8', None,
        'the best measured real-frame accuracy among the models that reach 5 Hz on a 2-core '
        'CPU (int8 TFLite, NYU-trained, metric to 10 m)'),
    ('cpu', 'outdoor'): AutoChoice(
        'depth-anything-v2-metric-vkitti-small', 224,
        'metric outdoor depth to 80 m at a 224 input, which reaches 5 Hz on a 2-core CPU; '
        "FastDepth's measured outdoor depth is unusable (trained indoors, capped at 10 m)"),
}


def resolve_auto(device: str = 'auto', scene: str = 'indoor') -> tuple[str, AutoChoice]:
    """
    Return the device kind (``'cuda'`` or ``'cpu'``) and the model ``'auto'`` stands for there.

    ``device`` is the node's: ``'auto'`` means a CUDA GPU (a Jetson's too) when PyTorch sees
    one; a device this machine does not have is an error. ``scene`` is ``'indoor'`` or
    ``'outdoor'``.
    """
    if scene not in SCENES:
        raise ValueError(f'unknown scene {scene!r}; allowed: {", ".join(SCENES)}')
    if device == 'cpu' or (device == 'auto' and not nvidia_device_present()):
        kind = 'cpu'  # without an NVIDIA device file no PyTorch sees a GPU: none is imported
    else:
        from mono_depth_ros.backends.torch_backend import resolve_device

        kind = resolve_device(device).type  # an unusable device fails here, before any download
    return kind, AUTO_CHOICES[(kind, scene)]


# Device files of NVIDIA's drivers: desktop and server GPUs, and Jetson's integrated GPU.
NVIDIA_DEVICE_FILES = ('/dev/nvidiactl', '/dev/nvidia0', '/dev/nvhost-ctrl-gpu',
                       '/dev/nvhost-gpu')


def nvidia_device_present() -> bool:
    """Whether this machine has an NVIDIA GPU device file (checked without importing PyTorch)."""
    return any(os.path.exists(path) for path in NVIDIA_DEVICE_FILES)


@lru_cache(maxsize=None)
def family_specs(module_name: str) -> dict[str, ModelSpec]:
    """Return the variants of one family module by name (importing that module only)."""
    specs = {spec.name: spec for spec in importlib.import_module(module_name).SPECS}
    prefixes = FAMILIES[module_name]
    stray = [name for name in specs if not name.startswith(prefixes)]
    if stray:
        raise RuntimeError(f'{module_name} registers {stray}, whose names do not start with its '
                           f'prefixes {prefixes} (registry.FAMILIES)')
    return specs


@lru_cache(maxsize=None)
def _specs_by_name() -> dict[str, ModelSpec]:
    specs: dict[str, ModelSpec] = {}
    for module_name in FAMILIES:
        for name, spec in family_specs(module_name).items():
            if name in specs:
                raise RuntimeError(f'model name {name!r} is registered twice')
            specs[name] = spec
    return specs


def list_models() -> list[ModelSpec]:
    """Return every registered variant, in registry order."""
    return list(_specs_by_name().values())


def get_spec(name: str) -> ModelSpec:
    """Return the spec of ``name``; an unknown name is an error that lists the close names."""
    for module_name, prefixes in FAMILIES.items():
        if name.startswith(prefixes) and name in family_specs(module_name):
            return family_specs(module_name)[name]
    specs = _specs_by_name()
    close = difflib.get_close_matches(name, specs, n=5, cutoff=0.4)
    hint = f' Did you mean: {", ".join(close)}?' if close else ''
    raise KeyError(f'unknown model {name!r}.{hint} Known models: {", ".join(specs)}')


def create_model(name: str, weights: str | None = None, **overrides) -> torch.nn.Module:
    """
    Build the network of variant ``name`` in eval mode.

    ``weights`` is ``None`` for random initialisation, or anything the weights resolver accepts:
    ``'auto'`` (the variant's official checkpoint, downloaded once into the cache, or the weights
    shipped in the package), a local file or folder, or an https URL. ``overrides`` go to the
    family's builder.
    """
    spec = get_spec(name)
    if spec.builder is None:
        raise ValueError(f'model {name!r} runs on the {spec.backend} backend and has no PyTorch '
                         'module; use the estimator (mono_depth_ros.estimator) to run it')
    module = spec.builder(**overrides)
    if weights is not None:
        from mono_depth_ros.weights import resolve_weights

        spec.load_checkpoint(module, resolve_weights(spec, weights))
    return module.eval()
