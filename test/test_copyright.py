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
What ament_copyright checks: every source file carries the Apache-2.0 notice; LICENSE the text.

ament_copyright has no PyPI wheel; this test checks the same notice (ament's apache2 template).
"""
import re

from conftest import REPO
from lint_paths import python_files
import pytest

COPYRIGHT = re.compile(r'^# Copyright (\d{4})(-\d{4})? The mono_depth_ros Authors$')
APACHE_NOTICE = [
    '#',
    '# Licensed under the Apache License, Version 2.0 (the "License");',
    '# you may not use this file except in compliance with the License.',
    '# You may obtain a copy of the License at',
    '#',
    '#     http://www.apache.org/licenses/LICENSE-2.0',
    '#',
    '# Unless required by applicable law or agreed to in writing, software',
    '# distributed under the License is distributed on an "AS IS" BASIS,',
    '# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.',
    '# See the License for the specific language governing permissions and',
    '# limitations under the License.',
]
FILES = python_files()


@pytest.mark.copyright
@pytest.mark.linter
@pytest.mark.parametrize('path', FILES, ids=[str(p.relative_to(REPO)) for p in FILES])
def test_every_source_file_carries_the_notice(path):
    lines = path.read_text().splitlines()
    if lines and lines[0].startswith('#!'):
        lines = lines[1:]
    assert lines and COPYRIGHT.match(lines[0]), f'{path}: no copyright line first'
    assert lines[1:1 + len(APACHE_NOTICE)] == APACHE_NOTICE, f'{path}: no Apache-2.0 notice'


@pytest.mark.copyright
@pytest.mark.linter
def test_the_license_file_is_apache_2():
    text = (REPO / 'LICENSE').read_text()
    assert 'Apache License' in text and 'Version 2.0, January 2004' in text
    assert 'END OF TERMS AND CONDITIONS' in text
