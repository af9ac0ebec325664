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
FastDepth on NYU Depth v2, as an int8 TFLite file.

Wofk, Ma, Yang, Karaman, Sze: "FastDepth: Fast Monocular Depth Estimation on Embedded Systems",
ICRA 2019 (https://github.com/dwofk/fast-depth, MIT). The final network of the paper: a MobileNet
encoder, a depthwise NNConv5 decoder with additive skip connections, pruned with NetAdapt.

The variant here is OpenMV's int8 quantisation of it (https://github.com/openmv/openmv, MIT): a
``1x224x224x3`` uint8 RGB input taking raw 0-255 pixels, and a ``1x224x224x1`` uint8 output
that dequantises to metres. It has no PyTorch graph and runs on the TFLite backend
(:class:`mono_depth_ros.backends.tflite.TFLiteBackend`).
"""
from __future__ import annotations

from mono_depth_ros.models.spec import InputPolicy, ModelSpec, WeightsSource

# The file lives on a commit of an open pull request of openmv/openmv, not on a branch: if it
# disappears, a copy of the file passed as weights:=FILE works the same (same sha256).
OPENMV_COMMIT = '49a017eafd3aebda9b6b827bd2a367ded1592efc'

SPECS = (
    ModelSpec(
        name='fastdepth-nyu-int8',
        family='fastdepth',
        builder=None,
        backend='tflite',
        input_policy=InputPolicy(height=224, width=224),
        output_kind='metric',
        # The file takes raw uint8 pixels; its input quantisation maps them to [0, 1] itself.
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        min_depth=0.1,
        max_depth=10.0,
        weights=WeightsSource(
            url=('https://raw.githubusercontent.com/openmv/openmv/'
                 f'{OPENMV_COMMIT}/lib/models/fast_depth_224.tflite'),
            sha256='e8957602750f16ac130210868f4403b38b4042f0d10c00b89ec03fc3dc840125',
            file_format='tflite',
        ),
        license_terms='MIT',
        source='https://github.com/dwofk/fast-depth (int8 TFLite: '
               'https://github.com/openmv/openmv)',
        paper='Wofk et al., FastDepth: Fast Monocular Depth Estimation on Embedded Systems, '
              'ICRA 2019',
        reported='NYU Depth v2 test, float model (paper): RMSE 0.604 m, delta1 0.771',
    ),
)
