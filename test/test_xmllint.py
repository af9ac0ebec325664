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
What ament_xmllint checks, offline: every XML file is well formed and package.xml is valid.

ament_xmllint downloads the schema that package.xml names; this test validates against
test/package_format3.xsd, a copy of REP 149's structure written for it.
"""
from pathlib import Path
import xml.etree.ElementTree as ElementTree

from conftest import REPO
import pytest

XML_FILES = sorted(REPO.glob('*.xml')) + sorted((REPO / 'config').glob('*.xml'))
SCHEMA = Path(__file__).with_name('package_format3.xsd')


@pytest.mark.linter
@pytest.mark.xmllint
@pytest.mark.parametrize('path', XML_FILES, ids=[p.name for p in XML_FILES])
def test_xml_is_well_formed(path):
    ElementTree.parse(path)


@pytest.mark.linter
@pytest.mark.xmllint
def test_package_xml_is_valid_format_3():
    etree = pytest.importorskip('lxml.etree')
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    manifest = etree.parse(str(REPO / 'package.xml'))
    assert schema.validate(manifest), str(schema.error_log)
    assert manifest.getroot().findall('maintainer') and manifest.getroot().findall('license')
    model = manifest.xpath('/processing-instruction("xml-model")')[0]
    assert 'package_format3.xsd' in model.text


def test_the_schema_rejects_a_broken_manifest():
    etree = pytest.importorskip('lxml.etree')
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    broken = etree.fromstring(b'<package format="3"><version>1.0</version>'
                              b'<name>Bad-Name</name></package>')
    assert not schema.validate(broken)


def test_package_xml_matches_setup():
    root = ElementTree.parse(REPO / 'package.xml').getroot()
    assert root.findtext('name') == 'mono_depth_ros'
    assert root.findtext('export/build_type') == 'ament_python'
    setup = (REPO / 'setup.py').read_text()
    assert f"version='{root.findtext('version')}'" in setup
    assert f"license='{root.findtext('license')}'" in setup
