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
Bags of any kind read as CDR bytes, in recording order.

ROS 2 bags (a rosbag2 folder, a bare ``.mcap`` or ``.db3`` file) hold CDR already; ROS 1 bags
(``.bag``) are converted to CDR with their own message definitions, so that every message
deserialises with ``rclpy.serialization`` into the classes the node uses. MCAP files are read front
to back with a streaming reader: a recording whose recorder died before writing the index still
gives every message before the damage. Damage of any kind raises :class:`BagError` naming the bag
and the offset, after the messages before it were delivered.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Iterator

import yaml

BAG_SUFFIXES = ('.mcap', '.db3', '.bag')


class BagError(RuntimeError):
    """A bag that cannot be opened or read further; the message names the bag and the offset."""


@dataclass(frozen=True)
class Topic:
    """
    One topic of a bag.

    ``msgdef`` is the ROS 2 definition the bag carries (``msgdef_encoding`` ``'ros2msg'`` or
    ``'ros2idl'``), ``digest`` its RIHS01 type hash; both are empty when the bag does not say (ROS
    1 bags, older rosbag2 bags).
    """

    name: str
    msgtype: str
    count: int
    msgdef: str = ''
    msgdef_encoding: str = ''
    digest: str = ''


@dataclass(frozen=True)
class RawMessage:
    """One message: its topic, log (receive) time in nanoseconds and CDR bytes."""

    topic: str
    log_time: int
    data: bytes


class Bag:
    """
    An open bag: its topics, its time span, and its messages in recording order.

    Use it as a context manager. ``start_time`` and ``end_time`` are the log times (ns) of the
    first and the last message.
    """

    storage = ''

    def __init__(self, path: Path) -> None:
        self.path = path
        self.topics: dict[str, Topic] = {}
        self.start_time = 0
        self.end_time = 0

    def messages(self, topics: Collection[str], start: int | None = None,
                 stop: int | None = None) -> Iterator[RawMessage]:
        """Yield the messages of ``topics`` logged in ``[start, stop)``; BagError on damage."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the files."""

    def __enter__(self) -> Bag:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def is_bag(path: Path) -> bool:
    """Whether ``path`` is a bag: a rosbag2 folder (with metadata.yaml) or a bag file."""
    path = Path(path)
    if path.is_dir():
        return (path / 'metadata.yaml').is_file()
    return path.is_file() and path.suffix in BAG_SUFFIXES


def open_bag(path: str | Path) -> Bag:
    """Open a rosbag2 folder, a bare ``.mcap`` or ``.db3`` file or a ROS 1 ``.bag`` file."""
    path = Path(path)
    if not path.exists():
        raise BagError(f'bag {path} does not exist')
    if path.is_dir():
        storage, files, digests = _rosbag2_metadata(path)
        if storage == 'mcap' and files is not None:
            return McapBag(path, files, digests)
        return RosbagsBag(path, storage)
    if path.suffix == '.mcap':
        return McapBag(path, [path], {})
    if path.suffix in ('.db3', '.bag'):
        return RosbagsBag(path, 'sqlite3' if path.suffix == '.db3' else 'ros1')
    raise BagError(f'{path} is not a bag: give a rosbag2 folder (with metadata.yaml) or a '
                   f'{", ".join(BAG_SUFFIXES)} file')


def _rosbag2_metadata(folder: Path) -> tuple[str, list[Path] | None, dict[str, str]]:
    """
    Return a rosbag2 folder's storage, its files (None when compressed) and type hashes by topic.

    Compressed bags are left to rosbags, which decompresses them.
    """
    meta_path = folder / 'metadata.yaml'
    try:
        info = yaml.safe_load(meta_path.read_text())['rosbag2_bagfile_information']
        storage = info['storage_identifier']
        compressed = bool(info.get('compression_mode')) and info['compression_mode'] != 'none'
        files = [folder / Path(name).name for name in info['relative_file_paths']]
        digests = {entry['topic_metadata']['name']:
                   entry['topic_metadata'].get('type_description_hash', '')
                   for entry in info.get('topics_with_message_count') or []}
    except FileNotFoundError:
        raise BagError(f'{folder} is a folder without metadata.yaml: not a rosbag2 bag') from None
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        raise BagError(f'cannot read {meta_path}: {error}') from error
    missing = [str(file) for file in files if not file.is_file()]
    if missing:
        raise BagError(f'bag {folder} lists files that are missing: {", ".join(missing)}')
    return storage, (None if compressed else files), digests


class McapBag(Bag):
    """MCAP files (one bare file, or the files of a rosbag2 folder), streamed front to back."""

    storage = 'mcap'

    def __init__(self, path: Path, files: list[Path], digests: dict[str, str]) -> None:
        super().__init__(path)
        self.files = files
        counts: dict[str, int] = {}
        types: dict[str, Topic] = {}
        times: list[int] = []
        for file in files:
            for topic, count, first, last in self._file_topics(file):
                known = types.setdefault(topic.name, topic)
                if known.msgtype != topic.msgtype:
                    raise BagError(f'bag {path}: topic {topic.name} has two types, '
                                   f'{known.msgtype} and {topic.msgtype}')
                counts[topic.name] = counts.get(topic.name, 0) + count
                if count:
                    times += [first, last]
        self.topics = {name: Topic(name, topic.msgtype, counts[name], topic.msgdef,
                                   topic.msgdef_encoding, digests.get(name, ''))
                       for name, topic in types.items()}
        self.start_time, self.end_time = (min(times), max(times)) if times else (0, 0)

    def _file_topics(self, file: Path) -> Iterator[tuple[Topic, int, int, int]]:
        """Yield (topic, message count, first and last log time) per channel of one file."""
        from mcap.exceptions import InvalidMagic, McapError
        from mcap.reader import SeekingReader

        with file.open('rb') as stream:
            try:
                reader = SeekingReader(stream)
            except InvalidMagic as error:
                raise BagError(f'{file} is not an MCAP file: {error}') from error
            try:
                summary = reader.get_summary()
            except (McapError, ValueError, EOFError):
                summary = None  # no index (a recorder that died): count by reading the file
        if summary is None or summary.statistics is None:
            yield from self._scan_topics(file)
            return
        stats = summary.statistics
        for channel in summary.channels.values():
            yield (_mcap_topic(channel, summary.schemas.get(channel.schema_id), 0),
                   stats.channel_message_counts.get(channel.id, 0), stats.message_start_time,
                   stats.message_end_time)

    def _scan_topics(self, file: Path) -> Iterator[tuple[Topic, int, int, int]]:
        """
        Count the messages of a file without an index by reading it.

        Damage ends the count (reading the messages raises it again when it is reached), unless
        no message comes before it: then there is nothing to process and it is raised now.
        """
        from mcap.records import Channel, Message, Schema

        schemas, channels, counts, first, last = {}, {}, {}, {}, {}
        try:
            for record in _records(file):
                if isinstance(record, Schema):
                    schemas[record.id] = record
                elif isinstance(record, Channel):
                    channels[record.id] = record
                elif isinstance(record, Message):
                    counts[record.channel_id] = counts.get(record.channel_id, 0) + 1
                    first.setdefault(record.channel_id, record.log_time)
                    last[record.channel_id] = record.log_time
        except BagError:
            if not counts:
                raise
        for channel in channels.values():
            yield (_mcap_topic(channel, schemas.get(channel.schema_id), 0),
                   counts.get(channel.id, 0), first.get(channel.id, 0), last.get(channel.id, 0))

    def messages(self, topics: Collection[str], start: int | None = None,
                 stop: int | None = None) -> Iterator[RawMessage]:
        """Yield the messages of ``topics`` logged in ``[start, stop)``; BagError on damage."""
        from mcap.records import Channel, Message

        wanted = set(topics)
        for file in self.files:
            channels: dict[int, str] = {}
            for record in _records(file):
                if isinstance(record, Channel):
                    channels[record.id] = record.topic
                elif isinstance(record, Message):
                    topic = channels.get(record.channel_id)
                    if (topic in wanted and (start is None or record.log_time >= start)
                            and (stop is None or record.log_time < stop)):
                        yield RawMessage(topic, record.log_time, record.data)


def _mcap_topic(channel, schema, count: int) -> Topic:
    if schema is None:
        raise BagError(f'topic {channel.topic} has no schema: cannot tell its message type')
    encoding = schema.encoding if schema.encoding in ('ros2msg', 'ros2idl') else ''
    return Topic(channel.topic, schema.name, count,
                 schema.data.decode() if encoding else '', encoding)


def _records(file: Path) -> Iterator[object]:
    """
    Yield the records of an MCAP file in file order, chunks opened.

    Damage (truncation, a bad record, a chunk that does not decompress) raises BagError with the
    byte offset from which the file cannot be read.
    """
    from mcap.stream_reader import StreamReader

    size = file.stat().st_size
    with file.open('rb') as stream:
        records = iter(StreamReader(stream, emit_chunks=False).records)
        readable_to = 0
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            # The file's bytes are untrusted: any failure to decode them is damage, whatever
            # the decoder (mcap, zstandard, lz4, struct) raises.
            except Exception as error:
                reason = f'{type(error).__name__}: {str(error) or "end of file"}'
                raise BagError(
                    f'bag {file} is truncated or corrupt: it cannot be read from byte offset '
                    f'{readable_to} of {size} on ({reason}); everything before that offset was '
                    'read') from error
            readable_to = stream.tell()
            yield record


class RosbagsBag(Bag):
    """SQLite3 and compressed rosbag2 bags and ROS 1 bags, read with rosbags."""

    def __init__(self, path: Path, storage: str) -> None:
        from rosbags.highlevel import AnyReader, AnyReaderError
        from rosbags.typesys import get_typestore, Stores

        super().__init__(path)
        self.storage = storage
        self._reader = AnyReader([path], default_typestore=get_typestore(Stores.ROS2_KILTED))
        try:
            self._reader.open()
        except (AnyReaderError, OSError) as error:
            raise BagError(f'cannot open bag {path}: {error}') from error
        self.topics = {}
        for name, info in self._reader.topics.items():
            from_ros2 = self._reader.is2 and info.msgdef.format.name in ('MSG', 'IDL')
            self.topics[name] = Topic(
                name, info.msgtype or '', info.msgcount,
                info.msgdef.data if from_ros2 else '',
                {'MSG': 'ros2msg', 'IDL': 'ros2idl'}.get(info.msgdef.format.name, '')
                if from_ros2 else '',
                info.connections[0].digest if self._reader.is2 else '')
        if self._reader.message_count:
            self.start_time = self._reader.start_time
            self.end_time = self._reader.end_time - 1
        # ROS 1 messages become CDR through the ROS 2 definition of the same type, which must
        # have the same layout apart from the header's seq (rosbags drops it).
        self._ros2_types = get_typestore(Stores.ROS2_KILTED)
        self._unconvertible = set() if self._reader.is2 else {
            name for name, topic in self.topics.items()
            if not _same_layout(self._reader.typestore, self._ros2_types, topic.msgtype)}

    def messages(self, topics: Collection[str], start: int | None = None,
                 stop: int | None = None) -> Iterator[RawMessage]:
        """Yield the messages of ``topics`` logged in ``[start, stop)``; BagError on damage."""
        unconvertible = sorted(self._unconvertible.intersection(topics))
        if unconvertible:
            raise BagError(f'ROS 1 bag {self.path}: ' + ', '.join(
                f'{name} ({self.topics[name].msgtype})' for name in unconvertible)
                + ' have no ROS 2 message type of the same layout to convert to')
        connections = [c for c in self._reader.connections if c.topic in set(topics)]
        if not connections:
            return
        stream = self._reader.messages(connections=connections, start=start, stop=stop)
        delivered, last_time = 0, None
        while True:
            try:
                connection, log_time, data = next(stream)
                if not self._reader.is2:
                    data = self._ros2_types.ros1_to_cdr(data, connection.msgtype)
            except StopIteration:
                return
            # As in _records: any failure to decode the bag's bytes is damage.
            except Exception as error:
                after = ('at its first message' if last_time is None else
                         f'after message {delivered} (logged at {last_time * 1e-9:.6f} s)')
                raise BagError(
                    f'bag {self.path} is corrupt: it cannot be read {after} of the topics read '
                    f'({type(error).__name__}: {error}); everything before it was read') from error
            delivered, last_time = delivered + 1, log_time
            yield RawMessage(connection.topic, log_time, bytes(data))

    def close(self) -> None:
        """Release the files."""
        self._reader.close()


def _same_layout(ros1_types, ros2_types, msgtype: str) -> bool:
    from rosbags.convert.converter import is_same_wireformat

    try:
        return is_same_wireformat(ros1_types, ros2_types, msgtype, msgtype)
    except KeyError:  # no ROS 2 type of that name
        return False
