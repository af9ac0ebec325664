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
The executables as a user starts and stops them: bad command lines, misspelt parameters, signals.

Real processes: a bad command line must give one fatal line, not a traceback; Ctrl-C and SIGTERM
at a random moment (while importing, loading the model, processing frames) must end them with
status 0.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

from conftest import executable, wait_until
from mono_depth_ros import params
from mono_depth_ros.models.registry import DEMO_MODEL
import pytest
from ros_rig import Rig
import yaml

DEMO = ['-p', f'model:={DEMO_MODEL}']


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run an executable to its end; stdout and stderr together."""
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)


def params_file(tmp_path, text: str):
    """Write a params file; return its path."""
    path = tmp_path / 'params.yaml'
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize('case, arguments, message', [
    ('not YAML', lambda t: ['--params-file', params_file(t, 'a: [b\n')],
     'is not valid YAML: expected'),
    ('a YAML list', lambda t: ['--params-file', params_file(t, '- 1\n- 2\n')],
     'holds a YAML list; it must map node names to ros__parameters'),
    ('no node name', lambda t: ['--params-file', params_file(t, 'max_depth: 3.0\n')],
     'max_depth: 3.0 is not under a node name and ros__parameters'),
    ('a missing file', lambda t: ['--params-file', str(t / 'nowhere.yaml')],
     'nowhere.yaml does not exist'),
    ('an empty -p value', lambda t: ['-p', 'max_depth:='],
     "-p 'max_depth:=' must be name:=value"),
])
def test_a_bad_command_line_is_one_fatal_line(tmp_path, case, arguments, message):
    result = run(executable('mono_depth_node'), '--ros-args', *arguments(tmp_path))
    assert result.returncode == 1, result.stdout
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and '[FATAL]' in lines[0] and message in lines[0], result.stdout


MISSPELT = yaml.safe_dump({'/**': {'ros__parameters': {'max_dept': 30.0,
                                                       'publsh_points': False}}})


def test_misspelt_parameters_stop_the_node_when_strict(tmp_path):
    result = run(executable('mono_depth_node'), '--ros-args', *DEMO, '--params-file',
                 params_file(tmp_path, MISSPELT), '-p', 'points_rgbb:=true',
                 '-p', 'strict_parameters:=true')
    assert result.returncode == 1, result.stdout
    fatal = [line for line in result.stdout.splitlines() if '[FATAL]' in line]
    assert len(fatal) == 1 and 'Traceback' not in result.stdout, result.stdout
    for name, close in (('max_dept', 'max_depth'), ('publsh_points', 'publish_points'),
                        ('points_rgbb', 'points_rgb')):
        assert f"'{name}' (did you mean '{close}'" in fatal[0], fatal[0]
    assert 'strict_parameters is true' in fatal[0]


def test_misspelt_parameters_are_a_warning_and_the_node_runs(graph, tmp_path):
    node = subprocess.Popen([executable('mono_depth_node'), '--ros-args', *DEMO,
                             '--params-file', params_file(tmp_path, MISSPELT)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rig = graph.add(Rig(outputs=()))
    running = wait_until(lambda: rig.diagnostics or node.poll() is not None, 120)
    node.send_signal(signal.SIGINT)
    output, _ = node.communicate(timeout=60)
    assert running and node.returncode == 0, output
    warning = next(line for line in output.splitlines() if 'unknown parameters' in line)
    assert '[WARN]' in warning
    assert "'max_dept' (did you mean 'max_depth'" in warning
    assert "'publsh_points' (did you mean 'publish_points'?)" in warning


# Python itself takes the first tenth of a second or so to start: before the first line of the
# program runs nothing can handle a signal, so the moments start after that.
EXECUTABLES = {
    'mono_depth_node': (DEMO, 8.0, 5),
    'mono_depth_lifecycle_node': (DEMO, 4.0, 3),
    'camera_player': (['-p', 'rate:=60.0', '-p', 'width:=640', '-p', 'height:=480'], 3.0, 5),
}


@pytest.fixture
def busy_graph(graph):
    """Feed the node frames (a camera_player) and subscribe to its depth, so that it works."""
    camera = subprocess.Popen([executable('camera_player'), '--ros-args', '-p', 'rate:=15.0'],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    graph.add(Rig(outputs=('depth/image', 'depth/points')))
    yield graph
    camera.send_signal(signal.SIGINT)
    camera.wait(timeout=30)


class RaisesWhenCollected:
    """An object whose finaliser raises ``error``: Python can only report it, not raise it."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __del__(self) -> None:
        raise self.error


def test_a_ctrl_c_python_cannot_raise_is_dropped_and_other_such_errors_are_reported(
        monkeypatch, capsys):
    # As the executables have it from their start: a SIGINT that lands in a finaliser or an
    # import callback (seen once at 1.76 s) must not print a traceback.
    monkeypatch.setattr(sys, 'unraisablehook', params._ignore_interrupts)
    RaisesWhenCollected(KeyboardInterrupt())
    RaisesWhenCollected(ValueError('a real error in a finaliser'))
    errors = capsys.readouterr().err
    assert 'KeyboardInterrupt' not in errors
    assert 'ValueError: a real error in a finaliser' in errors


@pytest.mark.parametrize('name', list(EXECUTABLES))
def test_ctrl_c_and_sigterm_at_any_moment_exit_0(busy_graph, name):
    arguments, latest, tries = EXECUTABLES[name]
    seed = int.from_bytes(os.urandom(4), 'little')
    moments = random.Random(seed)
    for attempt in range(tries):
        chosen = signal.SIGINT if attempt % 2 else signal.SIGTERM
        moment = moments.uniform(0.5, latest)
        process = subprocess.Popen([executable(name), '--ros-args', *arguments],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(moment)
        process.send_signal(chosen)
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        context = f'{chosen.name} after {moment:.2f} s (seed {seed}):\n{output}'
        assert process.returncode == 0, context
        assert 'Traceback' not in output and 'RCLError' not in output, context
