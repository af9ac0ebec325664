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
Segmentation logit distillation: the teacher's classes mapped onto the student's.

A teacher's logits only teach a student whose classes they can be read as. :class:`ClassMap` says,
for every student class, which teacher classes it stands for: the teacher class of the same name
(``'Sky'``, ``'sky'`` and ``'sky '`` match; so do ``floor_mat`` and ``floor mat``), or what a
mapping file says. Several teacher classes may make one student class (``"ground": ["road",
"sidewalk"]``): their probabilities add up, so the grouped logit at temperature ``T`` is the
log-sum-exp of the members' logits over ``T``. Teacher classes that no student class takes are
left out and the rest renormalised: where the teacher is sure of such a class, the student learns
the teacher's second opinion among its own classes.

A mapping file is a JSON object from each student class to a teacher class or a list of them::

    {"sky": "sky", "ground": ["floor", "floor mat"], "wall": "wall", "box": ["box", "cabinet"]}
"""
from __future__ import annotations

from dataclasses import dataclass
import json
from pathlib import Path
from typing import Sequence

from mono_depth_ros.train import losses
import torch
import torch.nn.functional as F


class ClassMapError(ValueError):
    """The student's classes cannot be read from the teacher's."""


def _key(name: str) -> str:
    return ' '.join(name.lower().replace('_', ' ').replace('-', ' ').split())


def _listing(names: Sequence[str]) -> str:
    return ', '.join(repr(name) for name in names)


@dataclass(frozen=True)
class ClassMap:
    """For each student class, in the student's order, the indices of its teacher classes."""

    student: tuple[str, ...]
    teacher: tuple[str, ...]
    groups: tuple[tuple[int, ...], ...]

    @classmethod
    def build(cls, student: Sequence[str], teacher: Sequence[str],
              mapping: Path | str | None = None, student_name: str = 'the student',
              teacher_name: str = 'the teacher') -> ClassMap:
        """
        Map ``student`` classes to ``teacher`` classes by name, or by the ``mapping`` file.

        Raises
        ------
            ClassMapError: a student class has no teacher class, the file names a class that
                does not exist or gives one teacher class to two student classes.

        """
        student, teacher = tuple(student), tuple(teacher)
        if not student or not teacher:
            who = student_name if not student else teacher_name
            raise ClassMapError(f'{who} has no segmentation classes: segmentation distillation '
                                'needs a segmentation head on both models')
        by_key = {_key(name): index for index, name in enumerate(teacher)}
        if mapping is None:
            missing = [name for name in student if _key(name) not in by_key]
            if missing:
                raise ClassMapError(
                    f'cannot map the classes of {student_name} to those of {teacher_name} by '
                    f'name: no teacher class is called {_listing(missing)} (teacher classes: '
                    f'{_listing(teacher)}). Give --class-map FILE, a JSON object from each '
                    'student class to a teacher class or a list of them, e.g. '
                    f'{{"{missing[0]}": ["{teacher[0]}"]}}')
            return cls(student, teacher, tuple((by_key[_key(name)],) for name in student))
        return cls(student, teacher, cls._read(Path(mapping), student, teacher, by_key))

    @staticmethod
    def _read(path: Path, student: tuple[str, ...], teacher: tuple[str, ...],
              by_key: dict[str, int]) -> tuple[tuple[int, ...], ...]:
        try:
            entries = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ClassMapError(f'class map {path}: {error}') from error
        if not isinstance(entries, dict):
            raise ClassMapError(f'class map {path}: expected a JSON object from student classes '
                                f'to teacher classes, got {type(entries).__name__}')
        entries = {_key(name): ([value] if isinstance(value, str) else value)
                   for name, value in entries.items()}
        student_keys = {_key(name) for name in student}
        unknown = [name for name in entries if name not in student_keys]
        missing = [name for name in student if _key(name) not in entries]
        if unknown or missing:
            problems = ([f'names classes the student does not have: {_listing(unknown)}']
                        if unknown else []) + (
                [f'does not map the student classes {_listing(missing)}'] if missing else [])
            raise ClassMapError(f'class map {path} {" and ".join(problems)} (student classes: '
                                f'{_listing(student)})')
        groups, owner = [], {}
        for name in student:
            members = entries[_key(name)]
            if not isinstance(members, list) or not members or not all(
                    isinstance(member, str) for member in members):
                raise ClassMapError(f'class map {path}: {name!r} must map to a teacher class or '
                                    f'a non-empty list of them, got {members!r}')
            absent = [member for member in members if _key(member) not in by_key]
            if absent:
                raise ClassMapError(f'class map {path}: {name!r} maps to {_listing(absent)}, '
                                    f'which the teacher does not have (teacher classes: '
                                    f'{_listing(teacher)})')
            indices = tuple(by_key[_key(member)] for member in members)
            for index in indices:
                if index in owner:
                    raise ClassMapError(f'class map {path}: teacher class {teacher[index]!r} is '
                                        f'given to both {owner[index]!r} and {name!r}')
                owner[index] = name
            groups.append(indices)
        return tuple(groups)

    def log_probs(self, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
        """
        Return the teacher's log-probabilities over the student's classes at ``temperature``.

        ``teacher_logits`` is ``(B, len(teacher), h, w)``; the result ``(B, len(student), h, w)``.
        """
        scaled = teacher_logits.float() / temperature
        grouped = torch.stack([torch.logsumexp(scaled[:, list(group)], dim=1)
                               for group in self.groups], dim=1)
        return F.log_softmax(grouped, dim=1)


@dataclass(frozen=True)
class SegmentationDistillation:
    """The soft-target term of logit distillation at one temperature, through a class map."""

    class_map: ClassMap
    temperature: float

    def loss(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
        """
        ``T^2 * KL(p_teacher || p_student)`` (:func:`losses.logit_distillation_loss`).

        The teacher's logits are resized bilinearly to the student's resolution first.
        """
        teacher_logits = losses.resize_to(teacher_logits.float(), student_logits)
        return losses.logit_distillation_loss(
            student_logits, self.class_map.log_probs(teacher_logits, self.temperature),
            self.temperature)
