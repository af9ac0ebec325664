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

"""Training in phases of growing resolution, resumed exactly inside and between phases."""
from __future__ import annotations

from mono_depth_ros.cli import main
from mono_depth_ros.train.loop import load_checkpoint, train, TrainConfig
from mono_depth_ros.train.phases import parse_phases, Phase, phase_size
import pytest
import torch

# Module-wide on one thread: a shared 2-core machine (restored for the other modules).
pytestmark = pytest.mark.usefixtures('one_torch_thread')

PHASES = '0.5:2:3e-3:4,1:2:1e-3:2'


def test_phases_parse_and_scale_the_size():
    assert parse_phases('0.25:10:5e-4:16, 0.5:5:5e-6:8,1:5:5e-6:4') == (
        Phase(0.25, 10, 5e-4, 16), Phase(0.5, 5, 5e-6, 8), Phase(1.0, 5, 5e-6, 4))
    assert phase_size((240, 320), 0.25) == (60, 80)
    assert phase_size((256, 320), 0.25, multiple=32) == (64, 96)  # 80 is nearer 96 than 64
    assert phase_size((256, 320), 0.05, multiple=32) == (32, 32)


@pytest.mark.parametrize('text, message', [
    ('0.5:2:1e-3', "phase 1 '0.5:2:1e-3' is not SCALE:EPOCHS:LR:BATCH"),
    ('1:2:1e-3:4,half:2:1e-3:4', "phase 2 'half:2:1e-3:4' is not SCALE:EPOCHS:LR:BATCH"),
    ('1:0:-1e-3:4', 'needs a positive epochs, lr'),
])
def test_malformed_phases_name_the_phase(tmp_path, capsys, text, message):
    with pytest.raises(ValueError, match=None) as error:
        parse_phases(text)
    assert message in str(error.value)
    assert main(['train', '--model', 'joint-mnv3-synthetic', '--phases', text,
                 '--out', str(tmp_path)]) == 2
    assert message in capsys.readouterr().out


def _tiny(tmp_path, name: str, **changes) -> TrainConfig:
    values = {'model': 'joint-mnv3-synthetic', 'out': str(tmp_path / name), 'width': 64,
              'height': 48, 'train_count': 8, 'val_count': 0, 'phases': PHASES,
              'warmup_steps': 1, 'augment': False, 'progress': False,
              'cache': str(tmp_path / 'cache'), 'threads': 1}
    values.update(changes)
    return TrainConfig(**values)


def test_each_phase_trains_at_its_size_batch_and_learning_rate(tmp_path):
    result = train(_tiny(tmp_path, 'phases', val_count=4))
    assert [(row['phase'], row['size'], row['step']) for row in result.history] == [
        (1, '32x24', 2), (1, '32x24', 4), (2, '64x48', 8), (2, '64x48', 12)]
    assert result.step == 12 and result.epoch == 4
    assert 0 <= result.history[-1]['val_miou'] <= 1
    assert result.history[-1]['loss'] < result.history[0]['loss']
    # Each phase has its own warmup and cosine: the learning rate peaks at its LR again.
    state = load_checkpoint(tmp_path / 'phases' / 'checkpoint_last.pt')
    assert state['phase'] == 1
    assert state['optimizer']['param_groups'][0]['initial_lr'] == 1e-3
    assert state['scheduler']['last_epoch'] == 8


@pytest.mark.parametrize('stop', [7, 4], ids=['inside-phase-2', 'between-phases'])
def test_resume_inside_or_between_phases_is_exact(tmp_path, stop):
    straight = train(_tiny(tmp_path, 'straight'))
    train(_tiny(tmp_path, 'stopped', max_steps=stop))
    checkpoint = tmp_path / 'stopped' / 'checkpoint_last.pt'
    state = load_checkpoint(checkpoint)
    # 7: phase 2, its first epoch, after 3 of 4 batches; 4: the end of phase 1.
    assert (state['phase'], state['epoch'], state['batch']) == (
        (1, 2, 3) if stop == 7 else (0, 2, 0))
    resumed = train(_tiny(tmp_path, 'resumed'), resume=checkpoint)
    assert resumed.step == straight.step == 12
    ours, theirs = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(ours[key], theirs[key]) for key in ours)
    assert [row['loss'] for row in resumed.history] == [row['loss'] for row in straight.history]


def test_a_resumed_run_logs_seconds_since_the_run_began(tmp_path):
    train(_tiny(tmp_path, 'stopped', max_steps=4))
    checkpoint = tmp_path / 'stopped' / 'checkpoint_last.pt'
    state = load_checkpoint(checkpoint)
    # The checkpoint is written after the epoch's row, whose seconds are rounded to 0.1.
    assert state['seconds'] >= state['history'][-1]['seconds'] - 0.05
    # As if the first two epochs had taken an hour: the later rows count on from there.
    state['seconds'] = 3600.0
    torch.save(state, checkpoint)
    resumed = train(_tiny(tmp_path, 'resumed'), resume=checkpoint)
    seconds = [row['seconds'] for row in resumed.history]
    assert len(seconds) == 4 and seconds[1] < 3600 < seconds[2] <= seconds[3]
