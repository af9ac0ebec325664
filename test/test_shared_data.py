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
Tests reach ../shared only through conftest, so that a clone with nothing beside it skips them.

The development tree and CI have ../shared, so a test that opens a file there by a path of its own
passes everywhere but on a user's machine. This check finds such paths in the source; `make
colcon-test` (run by CI) also runs the whole suite in a copy with nothing beside it.
"""
from __future__ import annotations

import ast
from pathlib import Path
import re

from conftest import REPO
import pytest

# A path part named shared: 'shared', '../shared', '/work/shared/testdata', f'{root}/shared/x'.
SHARED_PART = re.compile(r'(^|[/\\])shared($|[/\\])')


def shared_paths_of_its_own(source: str) -> list[int]:
    """Return the lines of ``source`` that build a path to ../shared or use conftest's SHARED."""
    tree = ast.parse(source)
    docstrings = {id(body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                  and (body := node.body) and isinstance(body[0], ast.Expr)}
    lines = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in docstrings and SHARED_PART.search(node.value)):
            lines.add(node.lineno)
        elif (isinstance(node, ast.Name) and node.id == 'SHARED'
              or isinstance(node, ast.Attribute) and node.attr == 'SHARED'
              or isinstance(node, ast.alias) and node.name == 'SHARED'):
            lines.add(node.lineno)
    return sorted(lines)


# Every test module but this one, whose examples below are what the check looks for.
TEST_MODULES = sorted(path for path in (REPO / 'test').glob('test_*.py')
                      if path.name != Path(__file__).name)


@pytest.mark.parametrize('path', TEST_MODULES, ids=lambda p: p.name)
def test_no_test_builds_its_own_path_to_shared(path):
    found = shared_paths_of_its_own(path.read_text())
    assert not found, (f'{path.name}, lines {found}: reach ../shared through needs_shared(), '
                       'shared_params() or a conftest fixture, which skip when it is absent')


@pytest.mark.parametrize('source', [
    "KITTI = Path(__file__).resolve().parents[2] / 'shared' / 'testdata'",
    "CASES = sorted((REPO.parent / 'shared/parity').glob('*.json'))",
    "data = Path('/work/shared/testdata/kitti_000008/calib.json').read_text()",
    "folder = f'{root}/shared/parity'",
    'from conftest import SHARED',
    "calib = conftest.SHARED / 'calib.json'",
])
def test_the_check_finds_paths_of_their_own(source):
    assert shared_paths_of_its_own(source) == [1]


def test_the_check_lets_docstrings_and_other_words_through():
    source = ('def f():\n'
              '    """Read ../shared/parity through needs_shared."""\n'
              "    return needs_shared('parity'), 'the shared-memory profile', 'shared_params'\n")
    assert shared_paths_of_its_own(source) == []
