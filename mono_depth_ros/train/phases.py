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
Training in phases of growing resolution (``mono-depth train --phases``).

Multi-Task RefineNet is trained in three phases: at 1/4, then 1/2, then the full resolution, each
with its own one-cycle schedule (peak 5e-4 for the first, 5e-6 for the two fine-tuning ones) and a
smaller batch as the images grow. A phase here is ``SCALE:EPOCHS:LR:BATCH``: the input size is
the run's size times ``SCALE`` (rounded to the model's stride), and the phase gets a fresh AdamW
and its own schedule (``--schedule``, ``--warmup-steps``) peaking at ``LR``. The weights carry
over from one phase to the next.
"""
from __future__ import annotations

from dataclasses import dataclass
import math

FORMAT = 'SCALE:EPOCHS:LR:BATCH[,SCALE:EPOCHS:LR:BATCH...]'


@dataclass(frozen=True)
class Phase:
    """One phase: resolution scale, epochs, peak learning rate and batch size."""

    scale: float
    epochs: int
    lr: float
    batch_size: int


def parse_phases(text: str) -> tuple[Phase, ...]:
    """
    Parse ``'0.25:10:5e-4:16,0.5:5:5e-6:8,1:5:5e-6:4'`` into phases.

    Raises
    ------
        ValueError: naming the phase that is malformed and the expected format.

    """
    phases = []
    for number, part in enumerate(text.split(','), start=1):
        fields = part.strip().split(':')
        try:
            if len(fields) != 4:
                raise ValueError(f'{len(fields)} fields')
            phase = Phase(float(fields[0]), int(fields[1]), float(fields[2]), int(fields[3]))
        except ValueError as error:
            raise ValueError(f'--phases: phase {number} {part.strip()!r} is not {FORMAT} '
                             f'({error})') from None
        checks = (('scale', phase.scale > 0), ('epochs', phase.epochs >= 1),
                  ('lr', phase.lr > 0), ('batch', phase.batch_size >= 1))
        problems = [name for name, ok in checks if not ok]
        if problems:
            raise ValueError(f'--phases: phase {number} {part.strip()!r} needs a positive '
                             f'{", ".join(problems)}')
        phases.append(phase)
    return tuple(phases)


def phase_size(size: tuple[int, int], scale: float, multiple: int = 1) -> tuple[int, int]:
    """Return ``size`` (height, width) times ``scale``, each side to the nearest ``multiple``."""
    return tuple(max(multiple, math.floor(side * scale / multiple + 0.5) * multiple)
                 for side in size)
