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
One bag in, one depth bag out, through the node's own per-frame path.

The camera's images and camera_info are deserialised into the node's message classes and handed
to :class:`mono_depth_ros.processing.FrameProcessor`, exactly as the node does; its output
messages are serialised with ``rclpy.serialization`` and written with the input image's log time,
stamp and frame_id, on the topics the node would publish under the camera's namespace. Each image
is processed once the bag has been read :data:`~mono_depth_ros.processing.CAMERA_INFO_WAIT`
seconds past it, so that a camera_info recorded just after its image pairs with it as it does
live.
"""
from __future__ import annotations

from collections import Counter, deque
import dataclasses
from dataclasses import asdict, dataclass, field
import math
from pathlib import Path
import sys
import time
from typing import Callable, TextIO

from mono_depth_ros.bags.reader import Bag, BagError, open_bag, RawMessage
from mono_depth_ros.bags.writer import input_definition, OutputBag, ros2_definition
from mono_depth_ros.infer import SCALE_POLICIES
from mono_depth_ros.models.registry import get_spec
from mono_depth_ros.processing import (CAMERA_INFO_WAIT, error_reason, FrameProcessor,
                                       FrameSettings, OUTPUTS)

IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
CAMERA_INFO_TYPE = 'sensor_msgs/msg/CameraInfo'
DEFAULT_OUTPUTS = ('depth', 'camera_info', 'labels')
# Outputs that need the camera's intrinsics.
INTRINSICS_OUTPUTS = ('camera_info', 'points')


class BagOptionError(ValueError):
    """Options that do not fit the bag; the message says what to change."""


class MessageError(ValueError):
    """A message of the bag whose bytes do not deserialise into its type."""


@dataclass(frozen=True)
class BagOptions:
    """
    Everything that decides a bag's output; it is also what a resumed run must match.

    ``keep``: input topics copied to the output; None keeps the image and its camera_info,
    ``('all',)`` every topic. ``start``/``end``: seconds after the bag's first message.
    ``checkpoint_every``: frames per output segment, the most work a crash loses.
    """

    model: str
    weights: str | None = 'auto'
    device: str = 'auto'
    precision: str = 'fp32'
    backend: str = 'torch'
    model_file: str | None = None
    input_size: int | None = None
    channels_last: bool = True
    output_size: str = 'input'
    scale_policy: str | None = None
    scale: float = 1.0
    shift: float = 0.0
    camera_height: float | None = None
    camera_pitch_deg: float = 0.0
    image_topic: str | None = None
    camera_info_topic: str | None = None
    namespace: str | None = None
    keep: tuple[str, ...] | None = None
    outputs: tuple[str, ...] = DEFAULT_OUTPUTS
    settings: FrameSettings = field(default_factory=FrameSettings)
    every: int = 1
    start: float | None = None
    end: float | None = None
    storage: str = 'mcap'
    checkpoint_every: int = 100

    def check(self) -> None:
        """Raise BagOptionError for values no bag can be processed with."""
        unknown = sorted(set(self.outputs) - set(OUTPUTS))
        if unknown or not self.outputs:
            raise BagOptionError(f'unknown outputs {", ".join(unknown) or "(none given)"}; '
                                 f'choose from {", ".join(OUTPUTS)}')
        if self.every < 1:
            raise BagOptionError(f'--every must be at least 1, got {self.every}')
        if self.checkpoint_every < 1:
            raise BagOptionError(f'--checkpoint-every must be at least 1, got '
                                 f'{self.checkpoint_every}')
        for name in ('start', 'end'):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise BagOptionError(f'--{name} must be seconds >= 0 after the first message of '
                                     f'the bag, got {value}')
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise BagOptionError(f'--end ({self.end}) must be after --start ({self.start})')
        if self.scale_policy not in (None, *SCALE_POLICIES):
            raise BagOptionError(f'scale policy {self.scale_policy!r} cannot run on a bag; '
                                 f'choose {" or ".join(SCALE_POLICIES)}')
        if self.scale_policy == 'ground_plane' and self.camera_height is None:
            raise BagOptionError('--scale-policy ground_plane needs --camera-height (metres)')
        if self.settings.temporal_filter != 'off':
            raise BagOptionError('temporal_filter works live only: its state across frames is '
                                 'not saved for resuming a bag; leave it off for bags')


def frame_settings(assignments: list[str]) -> FrameSettings:
    """
    Return the per-frame settings from ``NAME:=VALUE`` assignments of the node's parameters.

    Each value is checked as the node checks it (type, allowed values, range).
    """
    from mono_depth_ros.node import FRAME_SETTING_PARAMETERS, PARAMS

    params = {param.name: param for param in PARAMS}
    # The node's parameter name of each setting -> the setting.
    fields = {FRAME_SETTING_PARAMETERS.get(item.name, item.name): item.name
              for item in dataclasses.fields(FrameSettings)}
    values = {}
    for assignment in assignments:
        name, separator, text = assignment.partition(':=')
        if not separator or name not in fields:
            raise BagOptionError(f'-p {assignment!r}: give NAME:=VALUE with NAME one of '
                                 f'{", ".join(fields)}')
        param = params[name]
        values[fields[name]] = value = _parse_value(name, text, type(param.default))
        problem = param.check(value)
        if param.bounds is not None and not param.bounds[0] <= value <= param.bounds[1]:
            problem = (f'parameter {name!r} is {value!r}; allowed: {param.bounds[0]} to '
                       f'{param.bounds[1]}')
        if problem:
            raise BagOptionError(problem)
    return FrameSettings(**values)


def _parse_value(name: str, text: str, kind: type):
    try:
        if kind is bool:
            if text.lower() not in ('true', 'false'):
                raise ValueError(text)
            return text.lower() == 'true'
        return kind(text)
    except ValueError:
        raise BagOptionError(f'parameter {name!r}: {text!r} is not a {kind.__name__}') from None


@dataclass
class BagResult:
    """
    What happened to one bag: frames in its output, time, and the error that stopped it, if any.

    ``frames`` counts every frame in the output, ``processed`` those of this run (a resumed run
    found the others done).
    """

    bag: str
    out: str
    frames: int = 0
    processed: int = 0
    seconds: float = 0.0
    already_complete: bool = False
    error: str | None = None
    rejected: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the bag's output is complete."""
        return self.error is None


@dataclass(frozen=True)
class Plan:
    """The topics of one run: which image and camera_info to read, what to keep and write."""

    image: str
    camera_info: str | None
    keep: tuple[str, ...]
    outputs: dict[str, str]  # output key -> output topic


def plan_topics(bag: Bag, options: BagOptions, has_segmentation: bool) -> Plan:
    """Choose the image and camera_info topics and name the outputs; BagOptionError if unclear."""
    image = options.image_topic or _detect_image_topic(bag)
    if image not in bag.topics:
        raise BagOptionError(f'bag {bag.path} has no topic {image}; its image topics: '
                             f'{_listing(bag, IMAGE_TYPES)}')
    if bag.topics[image].msgtype not in IMAGE_TYPES:
        raise BagOptionError(f'{image} is a {bag.topics[image].msgtype} topic, not an image; its '
                             f'image topics: {_listing(bag, IMAGE_TYPES)}')
    base = camera_namespace(image, bag.topics[image].msgtype)
    camera_info = options.camera_info_topic or _detect_camera_info(bag, base)
    if camera_info is not None and (camera_info not in bag.topics
                                    or bag.topics[camera_info].msgtype != CAMERA_INFO_TYPE):
        raise BagOptionError(f'bag {bag.path} has no CameraInfo topic {camera_info}; its '
                             f'CameraInfo topics: {_listing(bag, (CAMERA_INFO_TYPE,))}')
    wanted = [key for key in options.outputs
              if has_segmentation or not key.startswith('labels')]
    if camera_info is None and set(wanted) & set(INTRINSICS_OUTPUTS):
        raise BagOptionError(
            f'bag {bag.path} has no camera_info for {image} (CameraInfo topics: '
            f'{_listing(bag, (CAMERA_INFO_TYPE,))}), and '
            f'{", ".join(sorted(set(wanted) & set(INTRINSICS_OUTPUTS)))} need the intrinsics: '
            'give --camera-info-topic, or ask for --outputs without them')
    namespace = base if options.namespace is None else options.namespace.rstrip('/')
    outputs = {key: f'{namespace}/{OUTPUTS[key][0]}' for key in wanted}
    if options.keep is None:
        keep = (image,) + ((camera_info,) if camera_info else ())
    elif options.keep == ('all',):
        keep = tuple(bag.topics)
    else:
        missing = [topic for topic in options.keep if topic not in bag.topics]
        if missing:
            raise BagOptionError(f'bag {bag.path} has no topic {", ".join(missing)} to keep; '
                                 f'its topics: {", ".join(sorted(bag.topics))}')
        keep = tuple(options.keep)
    clash = sorted(set(keep) & set(outputs.values()))
    if clash:
        raise BagOptionError(f'the bag already has {", ".join(clash)}, which the output would '
                             'also write: do not keep it, or give another --namespace')
    return Plan(image, camera_info, keep, outputs)


def camera_namespace(image_topic: str, msgtype: str) -> str:
    """Return the namespace of a camera's image topic: ``/cam/image_raw`` gives ``/cam``."""
    topic = image_topic
    if msgtype.endswith('CompressedImage') and topic.endswith('/compressed'):
        topic = topic[:-len('/compressed')]
    return topic.rsplit('/', 1)[0]


def _detect_image_topic(bag: Bag) -> str:
    images = sorted(name for name, topic in bag.topics.items() if topic.msgtype in IMAGE_TYPES)
    # A camera recorded raw and compressed: read the raw images.
    raw = [name for name in images if f'{name}/compressed' not in images]
    if len(raw) == 1 or len(images) == 1:
        return raw[0] if len(raw) == 1 else images[0]
    if not images:
        raise BagOptionError(f'bag {bag.path} has no image topic (sensor_msgs/Image or '
                             f'CompressedImage); its topics: {", ".join(sorted(bag.topics))}')
    raise BagOptionError(f'bag {bag.path} has several image topics ({", ".join(images)}); '
                         'choose one with --image-topic')


def _detect_camera_info(bag: Bag, namespace: str) -> str | None:
    sibling = f'{namespace}/camera_info'
    if sibling in bag.topics:
        return sibling
    infos = [name for name, topic in bag.topics.items() if topic.msgtype == CAMERA_INFO_TYPE]
    return infos[0] if len(infos) == 1 else None


def _listing(bag: Bag, msgtypes: tuple[str, ...]) -> str:
    return ', '.join(sorted(name for name, topic in bag.topics.items()
                            if topic.msgtype in msgtypes)) or 'none'


def _type_name(msg_class: type) -> str:
    """Return the ROS 2 type name of a message class: ``sensor_msgs/msg/Image``."""
    return f'{msg_class.__module__.split(".")[0]}/msg/{msg_class.__name__}'


def make_processor(options: BagOptions) -> FrameProcessor:
    """Build the estimator and the per-frame processor as the node does."""
    from mono_depth_ros import scale
    from mono_depth_ros.estimator import DepthEstimator
    from mono_depth_ros.weights import CheckpointError

    if options.scale_policy == 'ground_plane':
        policy = scale.make_policy('ground_plane', height=options.camera_height,
                                   pitch=math.radians(options.camera_pitch_deg))
    elif options.scale_policy == 'fixed':
        policy = scale.make_policy('fixed', scale=options.scale, shift=options.shift)
    else:
        policy = None
    try:
        estimator = DepthEstimator.from_name(
            options.model, weights=options.weights, device=options.device,
            precision=options.precision, output_size=options.output_size, scale_policy=policy,
            backend=options.backend, model_file=options.model_file,
            input_size=options.input_size,
            **({'channels_last': options.channels_last} if options.backend == 'torch' else {}))
    except (KeyError, ValueError, RuntimeError, OSError, CheckpointError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        hint = ('; a relative model needs --scale-policy fixed --scale S, or ground_plane '
                '--camera-height M' if policy is None and 'scale' in str(message) else '')
        raise BagOptionError(f'cannot start model {options.model!r}: {message}{hint}') from error
    return FrameProcessor(estimator)


def fingerprint(bag_path: Path, options: BagOptions) -> dict:
    """Return what identifies a run: the input bag (name and size) and every option."""
    files = [bag_path] if bag_path.is_file() else [p for p in bag_path.iterdir() if p.is_file()]
    return {'input': {'name': bag_path.name,
                      'bytes': sum(p.stat().st_size for p in files)},
            'options': asdict(options)}


class Progress:
    """
    A progress line on ``stream``: percentage of the bag's time span, frames, frames/s and ETA.

    Redrawn in place on a terminal (at most 4 times a second), else printed every 10 seconds.
    """

    def __init__(self, label: str, start_ns: int, end_ns: int, stream: TextIO = sys.stderr,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.start_ns, self.span_ns = start_ns, max(end_ns - start_ns, 1)
        self.stream = stream
        self.clock = clock
        self.tty = stream.isatty()
        self.started = clock()
        self._first_fraction: float | None = None
        self._shown = -math.inf

    def line(self, log_time: int, frames: int) -> str:
        """Return the progress line at input time ``log_time`` with ``frames`` done this run."""
        fraction = min(max((log_time - self.start_ns) / self.span_ns, 0.0), 1.0)
        if self._first_fraction is None:
            self._first_fraction = fraction
        elapsed = self.clock() - self.started
        rate = frames / elapsed if elapsed > 0 else 0.0
        done = fraction - self._first_fraction  # a resumed run started part way
        eta = elapsed * (1.0 - fraction) / done if done > 0 else math.inf
        width = 24
        bar = '#' * round(width * fraction)
        eta_text = _clock_text(eta) if math.isfinite(eta) else '--:--'
        return (f'{self.label} [{bar:<{width}}] {100 * fraction:5.1f}% {frames} frames '
                f'{rate:.2f} frames/s ETA {eta_text}')

    def update(self, log_time: int, frames: int, final: bool = False) -> None:
        """Show the progress if it is time to."""
        now = self.clock()
        if not final and now - self._shown < (0.25 if self.tty else 10.0):
            return
        self._shown = now
        text = self.line(log_time, frames)
        if self.tty:
            self.stream.write('\r' + text + ('\n' if final else ''))
        else:
            self.stream.write(text + '\n')
        self.stream.flush()


def _clock_text(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f'{hours}:{minutes:02d}:{secs:02d}' if hours else f'{minutes:02d}:{secs:02d}'


def process_bag(bag_path: str | Path, out_dir: str | Path, options: BagOptions,
                show_progress: bool = True, log: TextIO = sys.stderr) -> BagResult:
    """
    Process one bag into the output bag ``out_dir``, resuming an interrupted run there.

    A bag that is corrupt part way gives an output of everything before the damage and a result
    whose ``error`` names the bag and the offset. Options that do not fit the bag raise
    BagOptionError; an output folder that cannot be used raises OutputError.
    """
    bag_path, out_dir = Path(bag_path), Path(out_dir)
    result = BagResult(str(bag_path), str(out_dir))
    options.check()
    output = OutputBag(out_dir, fingerprint(bag_path, options), options.storage)
    if output.complete:
        result.frames = output.done.get('frames', 0)
        result.already_complete = True
        return result
    started = time.monotonic()
    with open_bag(bag_path) as bag:
        plan = plan_topics(bag, options, get_spec(options.model).has_segmentation)
        processor = make_processor(options)
        for topic in plan.keep:
            output.add_topic(topic, input_definition(bag.topics[topic]))
        for key, topic in plan.outputs.items():
            output.add_topic(topic, ros2_definition(_type_name(OUTPUTS[key][1])))
        run = _Run(bag, plan, options, processor, output, log)
        if show_progress:
            run.progress = Progress(bag_path.name, *run.window)
        try:
            run.go()
        except BagError as error:  # everything read before the damage is kept
            output.commit(run.position, run.frames, run.state())
            result.error = str(error)
        except BaseException:
            output.abort()  # a crash or Ctrl-C: the rerun resumes from the last commit
            raise
        result.frames, result.processed = run.frames, run.frames_this_run
        result.rejected = dict(run.rejected)
    result.seconds = time.monotonic() - started
    if result.error is None:
        output.finish(run.position, run.frames, run.state(), {
            'frames': run.frames, 'rejected': result.rejected,
            'image_topic': plan.image, 'camera_info_topic': plan.camera_info,
            'outputs': plan.outputs, 'kept': list(plan.keep)})
    return result


class _Run:
    """The reading loop of one bag: the look-ahead queue, the frame counts, the commits."""

    def __init__(self, bag: Bag, plan: Plan, options: BagOptions, processor: FrameProcessor,
                 output: OutputBag, log: TextIO) -> None:
        from rclpy.serialization import deserialize_message, serialize_message
        from sensor_msgs.msg import CameraInfo, CompressedImage, Image

        self.bag, self.plan, self.options = bag, plan, options
        self.processor, self.output, self.log = processor, output, log
        self._deserialize, self._serialize = deserialize_message, serialize_message
        self._camera_info_class = CameraInfo
        self._image_class = (CompressedImage if bag.topics[plan.image].msgtype.endswith(
            'CompressedImage') else Image)
        first = bag.start_time
        self.window = (first + _ns(options.start or 0.0),
                       bag.end_time + 1 if options.end is None else first + _ns(options.end))
        self.progress: Progress | None = None
        checkpoint = output.checkpoint
        self.resume_from = checkpoint.input_position
        self.position = 0  # input messages handled (all of them written or processed)
        self.images_seen = 0  # image messages handled, for --every
        self.selected = 0  # images handled that --every selects, for the commits
        self.frames = checkpoint.frames
        self.frames_this_run = 0
        self.rejected: Counter[str] = Counter()
        self._last_warning = -math.inf
        if checkpoint.state:
            self.processor.estimator.scale_policy.restore(checkpoint.state['scale'])

    def state(self) -> dict:
        """Return what a resumed run needs beyond the input position: the scale policy's state."""
        return {'scale': self.processor.estimator.scale_policy.state()}

    def go(self) -> None:
        """Read the bag from the start (skipping what was committed) and process it."""
        plan = self.plan
        topics = {*plan.keep, plan.image, *([plan.camera_info] if plan.camera_info else [])}
        pending: deque[tuple[int, RawMessage]] = deque()
        wait = _ns(CAMERA_INFO_WAIT)
        last_time = self.window[0]
        try:
            for index, message in enumerate(self.bag.messages(topics, *self.window)):
                if message.topic == plan.camera_info:
                    # Fed as read, also when replaying committed messages: the pairing then has
                    # the same camera_infos at hand as an uninterrupted run had.
                    self._add_camera_info(message)
                if index < self.resume_from:
                    if message.topic == plan.image:
                        self.images_seen += 1
                        self.selected += (self.images_seen - 1) % self.options.every == 0
                    continue
                pending.append((index, message))
                last_time = message.log_time
                while pending and (pending[0][1].topic != plan.image
                                   or message.log_time > pending[0][1].log_time + wait):
                    self._handle(*pending.popleft())
        except BagError:
            self._drain(pending, last_time)  # what was read before the damage is kept
            raise
        self._drain(pending, last_time)

    def _drain(self, pending: deque[tuple[int, RawMessage]], last_time: int) -> None:
        while pending:
            self._handle(*pending.popleft())
        if self.progress is not None:
            self.progress.update(last_time, self.frames_this_run, final=True)

    def _add_camera_info(self, message: RawMessage) -> None:
        try:
            info = self._deserialize(message.data, self._camera_info_class)
        except RuntimeError as error:  # rclpy's error for bytes that are not the type
            self._reject(MessageError(f'camera_info does not deserialise: {error}'), message)
            return
        self.processor.add_camera_info(info)

    def _handle(self, index: int, message: RawMessage) -> None:
        selected = (message.topic == self.plan.image
                    and self.images_seen % self.options.every == 0)
        # A segment holds checkpoint_every selected images and what was logged up to the next
        # one: a resumed run cuts the segments where an uninterrupted one does.
        if selected and self.selected and self.selected % self.options.checkpoint_every == 0:
            self.output.commit(index, self.frames, self.state())
        if message.topic in self.plan.keep:
            self.output.write(message.topic, message.log_time, message.data)
        if message.topic == self.plan.image:
            self.images_seen += 1
        if selected:
            self.selected += 1
            self._process(message)
        self.position = index + 1
        if self.progress is not None:
            self.progress.update(message.log_time, self.frames_this_run)

    def _process(self, message: RawMessage) -> None:
        """Run one frame through the node's per-frame path and write its outputs."""
        try:
            image = self._deserialize(message.data, self._image_class)
        except RuntimeError as error:  # rclpy's error for bytes that are not the type
            self._reject(MessageError(f'image does not deserialise: {error}'), message)
            return
        try:
            outputs = self.processor.process(image, self.plan.outputs, self.options.settings)
        except ValueError as error:  # ImageError, CameraInfoError: the frame is dropped
            self._reject(error, message)
            return
        for key, msg in outputs.messages.items():
            self.output.write(self.plan.outputs[key], message.log_time, self._serialize(msg))
        if outputs.error is not None:
            self._reject(outputs.error, message)
        self.frames += 1
        self.frames_this_run += 1

    def _reject(self, error: ValueError, message: RawMessage) -> None:
        self.rejected[error_reason(error)] += 1
        now = time.monotonic()
        if now - self._last_warning >= 5.0:  # throttled, as the node's warnings
            self._last_warning = now
            self.log.write(f'{self.bag.path}: dropped the message logged at '
                           f'{message.log_time * 1e-9:.6f} s: {error}\n')


def _ns(seconds: float) -> int:
    return int(round(seconds * 1e9))
