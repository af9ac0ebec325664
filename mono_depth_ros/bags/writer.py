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
The output bag: a rosbag2 bag written in segments, so that an interrupted run resumes exactly.

The output folder is a split rosbag2 bag (``<name>_0.mcap``, ``<name>_1.mcap``, ... or ``.db3``),
as ``ros2 bag record`` writes one. A segment is written whole in a temporary folder, moved in,
then recorded in the progress journal (``.mono_depth_progress.json``) with how far the input was
read and the state the processing needs to go on. ``metadata.yaml`` is rewritten after every
segment, so the folder is always a playable bag of everything committed. A rerun after a crash
keeps the recorded segments, deletes what came after them and continues from the recorded input
position; segments end at fixed frame counts, so it writes the same segments as a run that was
never interrupted. The marker ``mono_depth_done.json`` is written last.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import shutil

from mono_depth_ros.bags.reader import Topic
import yaml

STORAGES = ('mcap', 'sqlite3')
SUFFIXES = {'mcap': '.mcap', 'sqlite3': '.db3'}
JOURNAL = '.mono_depth_progress.json'
DONE_MARKER = 'mono_depth_done.json'
_PARTIAL = '.partial'


class OutputError(RuntimeError):
    """An output folder that cannot be written or resumed; the message says what to do."""


@dataclass(frozen=True)
class TypeDefinition:
    """What a rosbag2 writer records about a message type: name, definition and RIHS01 hash."""

    msgtype: str
    msgdef: str
    digest: str


def ros2_definition(msgtype: str) -> TypeDefinition:
    """Return the ROS 2 (Kilted) definition of a standard message type."""
    from rosbags.typesys import get_typestore, Stores

    typestore = get_typestore(Stores.ROS2_KILTED)
    if msgtype not in typestore.types:
        raise KeyError(msgtype)
    msgdef, _ = typestore.generate_msgdef(msgtype, ros_version=2)
    return TypeDefinition(msgtype, msgdef, typestore.hash_rihs01(msgtype))


def input_definition(topic: Topic) -> TypeDefinition:
    """
    Return the definition to write an input topic with: the bag's own where it has one.

    Bags without definitions (ROS 1, older rosbag2) get the standard ROS 2 one; a topic of a
    custom type without a definition cannot be written.
    """
    from rosbags.typesys import get_types_from_idl, get_types_from_msg, get_typestore, Stores

    if not topic.msgdef:
        try:
            return ros2_definition(topic.msgtype)
        except KeyError:
            raise OutputError(f'cannot keep {topic.name}: the bag carries no definition of its '
                              f'type {topic.msgtype}, not a standard ROS 2 type') from None
    digest = topic.digest
    if not digest:
        typestore = get_typestore(Stores.EMPTY)
        if topic.msgdef_encoding == 'ros2idl':
            separator = '=' * 80 + '\n'
            for part in topic.msgdef.split(separator):
                if part.startswith('IDL: '):
                    typestore.register(get_types_from_idl(part.split('\n', 1)[1]))
        else:
            typestore.register(get_types_from_msg(topic.msgdef, topic.msgtype))
        digest = typestore.hash_rihs01(topic.msgtype)
    return TypeDefinition(topic.msgtype, topic.msgdef, digest)


@dataclass
class Checkpoint:
    """
    How far a run got: input messages consumed, frames processed, processing state.

    ``segments`` describes the committed files (name, message counts per topic, time span).
    """

    input_position: int = 0
    frames: int = 0
    state: dict = field(default_factory=dict)
    segments: list[dict] = field(default_factory=list)


def finished(folder: Path, fingerprint: dict) -> dict | None:
    """Return the completion marker of ``folder`` when it records this very run, else None."""
    marker = Path(folder) / DONE_MARKER
    if not marker.is_file():
        return None
    done = _read_json(marker)
    return done if done.get('fingerprint') == json.loads(json.dumps(fingerprint)) else None


class OutputBag:
    """
    A segmented rosbag2 output bag in ``folder`` for the run described by ``fingerprint``.

    ``fingerprint`` (JSON values: the input and every option that changes the output) guards
    against resuming or skipping a run of another input or other options. Register every topic
    with :meth:`add_topic` before the first :meth:`write`.
    """

    def __init__(self, folder: Path, fingerprint: dict, storage: str = 'mcap') -> None:
        if storage not in STORAGES:
            raise OutputError(f'unknown output storage {storage!r}; allowed: '
                              f'{", ".join(STORAGES)}')
        self.folder = Path(folder)
        self.fingerprint = json.loads(json.dumps(fingerprint))  # as it reads back from JSON
        self.storage = storage
        self.checkpoint = Checkpoint()
        self.done: dict | None = None
        self._topics: list[tuple[str, TypeDefinition]] = []
        self._writer = None
        self._connections: dict[str, object] = {}
        self._open()

    @property
    def complete(self) -> bool:
        """Whether the folder holds the finished output of this very run."""
        return self.done is not None

    def _open(self) -> None:
        if self.folder.exists() and not self.folder.is_dir():
            raise OutputError(f'output {self.folder} is a file; give a folder for the output bag')
        marker, journal = self.folder / DONE_MARKER, self.folder / JOURNAL
        if marker.is_file():
            done = _read_json(marker)
            if done.get('fingerprint') != self.fingerprint:
                raise OutputError(f'{self.folder} holds the finished output of another input or '
                                  'other options; delete it or choose another --out')
            self.done = done
            return
        if journal.is_file():
            saved = _read_json(journal)
            if saved.get('fingerprint') != self.fingerprint:
                raise OutputError(f'{self.folder} holds an unfinished run of another input or '
                                  'other options; delete it to start over, or rerun with the '
                                  'same input and options to resume it')
            self.checkpoint = Checkpoint(saved['input_position'], saved['frames'],
                                         saved['state'], saved['segments'])
            self._drop_uncommitted()
        elif self.folder.is_dir() and any(self.folder.iterdir()):
            raise OutputError(f'output folder {self.folder} exists and is not an output of '
                              'mono-depth; choose another --out')
        self.folder.mkdir(parents=True, exist_ok=True)

    def _drop_uncommitted(self) -> None:
        """Delete what a crashed run wrote after its last commit."""
        shutil.rmtree(self.folder / _PARTIAL, ignore_errors=True)
        committed = {segment['file'] for segment in self.checkpoint.segments}
        for path in self.folder.glob(f'{self.folder.name}_*{SUFFIXES[self.storage]}'):
            if path.name not in committed:
                path.unlink()

    def add_topic(self, topic: str, definition: TypeDefinition) -> None:
        """Declare an output topic; every segment carries every declared topic."""
        if any(name == topic for name, _ in self._topics):
            raise OutputError(f'output topic {topic} is declared twice')
        self._topics.append((topic, definition))

    def write(self, topic: str, log_time: int, data: bytes) -> None:
        """Write one serialised message to the current segment (opened on the first write)."""
        if self._writer is None:
            self._start_segment()
        self._writer.write(self._connections[topic], log_time, data)

    def _start_segment(self) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        partial = self.folder / _PARTIAL
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        writer = Writer(partial / self._segment_name(), version=Writer.VERSION_LATEST,
                        storage_plugin=StoragePlugin[self.storage.upper()])
        writer.open()
        self._connections = {
            name: writer.add_connection(name, definition.msgtype, msgdef=definition.msgdef,
                                        rihs01=definition.digest)
            for name, definition in self._topics}
        self._writer = writer

    def _segment_name(self) -> str:
        return f'{self.folder.name}_{len(self.checkpoint.segments)}'

    def commit(self, input_position: int, frames: int, state: dict) -> None:
        """
        Make everything written so far durable and record how far the input was processed.

        A rerun after a crash resumes from the last commit.
        """
        segments = list(self.checkpoint.segments)
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            name = self._segment_name()
            partial = self.folder / _PARTIAL / name
            info = yaml.safe_load((partial / 'metadata.yaml').read_text())
            info = info['rosbag2_bagfile_information']
            file_name = name + SUFFIXES[self.storage]
            os.replace(partial / file_name, self.folder / file_name)
            shutil.rmtree(self.folder / _PARTIAL)
            segments.append({
                'file': file_name,
                'start': info['starting_time']['nanoseconds_since_epoch'],
                'duration': info['duration']['nanoseconds'],
                'topics': [entry['topic_metadata'] for entry in info['topics_with_message_count']],
                'counts': [entry['message_count'] for entry in info['topics_with_message_count']],
            })
        self.checkpoint = Checkpoint(input_position, frames, state, segments)
        _write_json(self.folder / JOURNAL, {
            'fingerprint': self.fingerprint, 'input_position': input_position, 'frames': frames,
            'state': state, 'segments': segments})
        self._write_metadata()

    def finish(self, input_position: int, frames: int, state: dict, summary: dict) -> None:
        """Commit the last segment and mark the output complete."""
        self.commit(input_position, frames, state)
        self.done = {'fingerprint': self.fingerprint, **summary}
        _write_json(self.folder / DONE_MARKER, self.done)
        (self.folder / JOURNAL).unlink()

    def abort(self) -> None:
        """Drop the segment in progress (what a crash would lose) without committing it."""
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
        shutil.rmtree(self.folder / _PARTIAL, ignore_errors=True)

    def _write_metadata(self) -> None:
        """Describe the committed segments as one split rosbag2 bag."""
        segments = self.checkpoint.segments
        if not segments:
            return
        start = min(segment['start'] for segment in segments)
        end = max(segment['start'] + segment['duration'] for segment in segments)
        totals = [sum(column) for column in zip(*(segment['counts'] for segment in segments))]
        info = {
            'version': 9,
            'storage_identifier': self.storage,
            'relative_file_paths': [segment['file'] for segment in segments],
            'duration': {'nanoseconds': end - start},
            'starting_time': {'nanoseconds_since_epoch': start},
            'message_count': sum(totals),
            'topics_with_message_count': [
                {'topic_metadata': topic, 'message_count': count}
                for topic, count in zip(segments[0]['topics'], totals)],
            'compression_format': '',
            'compression_mode': '',
            'files': [{'path': segment['file'],
                       'starting_time': {'nanoseconds_since_epoch': segment['start']},
                       'duration': {'nanoseconds': segment['duration']},
                       'message_count': sum(segment['counts'])} for segment in segments],
            'custom_data': None,
            'ros_distro': 'rosbags',
        }
        temporary = self.folder / 'metadata.yaml.tmp'
        temporary.write_text(yaml.safe_dump({'rosbag2_bagfile_information': info},
                                            sort_keys=False))
        os.replace(temporary, self.folder / 'metadata.yaml')


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise OutputError(f'cannot read {path}: {error}; delete the output folder to start '
                          'over') from error


def _write_json(path: Path, content: dict) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of one."""
    temporary = path.with_name(path.name + '.tmp')
    with temporary.open('w') as stream:
        json.dump(content, stream, indent=1)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)
