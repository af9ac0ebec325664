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
mono_depth_node: a camera image in; depth image, point cloud and segmentation out.

The subscription callbacks only store messages. A two-stage pipeline (mono_depth_ros.pipeline)
takes the newest image and hands it to mono_depth_ros.processing, the per-frame path shared with
offline processing: one thread runs the network on frame N+1 while the other builds and
publishes the outputs of frame N that have subscribers. This module is the ROS plumbing:
parameters, QoS, subscriptions, publishers, threads and diagnostics. Every bad input is logged
with its reason, counted in /diagnostics and dropped; the next good frame is processed as usual.
"""
from __future__ import annotations

from collections import Counter
import dataclasses
import gc
import re
import sys
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from mono_depth_ros import compressed_depth, filters, ros_io, scale, scan
from mono_depth_ros.batching import CameraBackend, SharedBackend
from mono_depth_ros.estimator import BACKENDS, DepthEstimator, OUTPUT_SIZES
from mono_depth_ros.memory import pin_mmap_threshold
from mono_depth_ros.models.registry import (DEFAULT_MODEL, DEMO_MODEL, DEMO_WARNING, get_spec,
                                            resolve_auto, SCENES)
from mono_depth_ros.params import (check_unknown_parameters, ConfigError, declare_all, Param,
                                   run_node)
from mono_depth_ros.pipeline import TwoStagePipeline
from mono_depth_ros.processing import (CAMERA_INFO_WAIT, DEFAULT_MAX_INPUT_PIXELS, error_reason,
                                       FrameProcessor, FrameSettings, Inference, OUTPUTS,
                                       SEGMENTATION_OUTPUTS, stamp_seconds)
from mono_depth_ros.qos import parse_qos
from mono_depth_ros.stats import RateMeter, Window
from mono_depth_ros.weights import resolve_weights
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2

# FrameSettings fields whose parameter has another name.
FRAME_SETTING_PARAMETERS = {'sparse_future_tolerance': 'scale.future_tolerance'}
DEPTH_ENCODINGS = ('32FC1', '16UC1')
TRANSPORTS = ('raw', 'compressed')
PRECISION_CHOICES = ('fp32', 'fp16', 'bf16')


PARAMS = (
    Param('model', DEFAULT_MODEL, "Zoo variant to run (mono-depth models lists them), or 'auto': "
          'a real pretrained model chosen at start for the device and the scene (logged; '
          'README: which model auto runs).'),
    Param('scene', 'indoor', "What the camera sees, for model 'auto': indoor (metric to 20 m) "
          'or outdoor (metric to 80 m).', choices=SCENES),
    Param('input_size', 0, 'Network input short side for models that keep the aspect ratio '
          '(Depth Anything V2: a multiple of 14, trained at 518; smaller is faster and less '
          "detailed). 0: the model's own, or what model 'auto' chose.", bounds=(0, 4096)),
    Param('weights', 'auto', "Checkpoint: 'auto' (the variant's official or shipped weights, "
          'downloaded once into the cache), a local file or folder, or an https URL.'),
    Param('device', 'auto', "Where the network runs: 'auto' (first CUDA GPU, else the CPU), "
          "'cpu', 'cuda' or 'cuda:N'."),
    Param('precision', 'fp32', 'Arithmetic of the network; fp16 needs a CUDA device.',
          choices=PRECISION_CHOICES),
    Param('backend', 'torch', "Runtime: 'torch' (PyTorch), 'onnx' (ONNX Runtime; exports the "
          "model once into the cache unless model_file is given) or 'tensorrt' (an engine in "
          'model_file). TFLite models always use the TFLite runtime.', choices=BACKENDS),
    Param('model_file', '', "ONNX file or TensorRT engine written by 'mono-depth export' for "
          "this model; '' with backend onnx exports one automatically."),
    Param('channels_last', True, 'PyTorch backend: channels-last memory layout (much faster '
          'for convolutional models, on the CPU and on GPUs).'),
    Param('num_threads', 0, 'CPU threads of one inference (PyTorch, ONNX Runtime, TFLite); 0 '
          "keeps the runtime's default (all cores). ONNX Runtime's threads do not spin-wait "
          'between inferences, so the output stage keeps its share of the CPU.', bounds=(0, 256)),
    Param('cameras', [], 'Cameras served by one model: for each NAME, NAME/image (or '
          'NAME/image/compressed) and NAME/camera_info in, the outputs under NAME/ '
          '(NAME/depth/image, ...) and a diagnostics status of its own. Frames of the cameras '
          'share forwards where the runtime batches. [] serves one camera on image and '
          'camera_info.', dynamic_typing=True),
    Param('input_transport', 'raw', "'raw' subscribes image (sensor_msgs/Image); 'compressed' "
          'subscribes image/compressed (sensor_msgs/CompressedImage, JPEG or PNG).',
          choices=TRANSPORTS),
    Param('max_input_pixels', DEFAULT_MAX_INPUT_PIXELS, 'Largest image (width x height, read '
          'from its header before any decoding) the node takes; larger frames are input errors '
          '(a decompression bomb, a camera in the wrong mode). The default is 4K UHD.',
          bounds=(1, 1_000_000_000), read_only=False),
    Param('output_size', 'input', "'input': depth at the camera's resolution; 'model': at the "
          "network's output resolution (depth/camera_info is scaled to match).",
          choices=OUTPUT_SIZES),
    Param('depth_encoding', '32FC1', "REP 118: '32FC1' metres (NaN invalid) or '16UC1' "
          'millimetres (0 invalid).', choices=DEPTH_ENCODINGS, read_only=False),
    Param('publish_points', True, 'Publish depth/points (PointCloud2) when it has subscribers.',
          read_only=False),
    Param('points_rgb', False, "Add the packed 'rgb' field of the camera image to the cloud.",
          read_only=False),
    Param('points_decimation', 1, 'Keep every N-th pixel in both directions in the cloud.',
          bounds=(1, 16), read_only=False),
    Param('min_depth', 0.0, 'Cloud points nearer than this (metres) are NaN.', bounds=(0.0, 1e4),
          read_only=False),
    Param('max_depth', 100.0, 'Cloud points farther than this (metres) are NaN.',
          bounds=(0.0, 1e4), read_only=False),
    Param('points_edge_filter', False, 'Drop flying pixels (points a network smears between a '
          'foreground and the background behind it) from depth/points and depth/scan.',
          read_only=False),
    Param('points_edge_threshold', filters.EDGE_THRESHOLD, 'Edge filter: a pixel is flying '
          'when the depths within points_edge_radius of it span more than this, relative (0.1 '
          '= 10 %).', bounds=(0.001, 10.0), read_only=False),
    Param('points_edge_radius', filters.EDGE_RADIUS, 'Edge filter: half the side of the window '
          '(pixels of the depth image); about the width of the smeared edges.', bounds=(1, 16),
          read_only=False),
    Param('depth_edge_filter', False, 'Drop the flying pixels from every output: depth/image and '
          'its views too, not only the cloud and the scan.', read_only=False),
    Param('points_min_confidence', 0.0, 'Cloud and scan points whose depth/confidence is below '
          'this are dropped (0 keeps every valid point).', bounds=(0.0, 1.0), read_only=False),
    Param('temporal_filter', 'off', "'ema': average the depth over frames per pixel to stop "
          'flicker, restarting where the depth or the image changed; off: each frame alone.',
          choices=filters.TEMPORAL_MODES, read_only=False),
    Param('temporal_alpha', filters.TEMPORAL_ALPHA, 'Temporal filter: weight of the new frame '
          'in the average (1 = no smoothing).', bounds=(0.01, 1.0), read_only=False),
    Param('temporal_delta', filters.TEMPORAL_DELTA, 'Temporal filter: a pixel whose new depth '
          'differs from the average by more than this, relative, takes the new depth as it is.',
          bounds=(0.001, 10.0), read_only=False),
    Param('temporal_reset', filters.TEMPORAL_RESET, 'Temporal filter: every pixel restarts when '
          'the mean grey-level change of the downscaled image exceeds this fraction of full '
          'scale (a cut, a fast pan).', bounds=(0.001, 1.0), read_only=False),
    Param('compressed_depth_max', compressed_depth.DEFAULT_DEPTH_MAX, 'depth/image/'
          'compressedDepth: depths from this (metres) on are sent as invalid (the plugin '
          'parameter depth_max).', bounds=(0.1, 1000.0), read_only=False),
    Param('compressed_depth_quantization', compressed_depth.DEFAULT_QUANTIZATION, 'depth/image/'
          'compressedDepth, 32FC1: inverse-depth resolution; the depth step is depth^2 / (q (q + '
          "1)) (the plugin's depth_quantization).", bounds=(1.0, 150.0), read_only=False),
    Param('compressed_depth_png_level', compressed_depth.DEFAULT_PNG_LEVEL, 'depth/image/'
          'compressedDepth: PNG compression level, 0 (fast) to 9 (small).', bounds=(0, 9),
          read_only=False),
    Param('scan_height', 1, 'depth/scan: rows of the band around the principal point whose '
          'nearest point per column makes the scan.', bounds=(1, 4096), read_only=False),
    Param('scan_range_min', scan.DEFAULT_RANGE_MIN, 'depth/scan: nearest range kept (m).',
          bounds=(0.0, 1000.0), read_only=False),
    Param('scan_range_max', scan.DEFAULT_RANGE_MAX, 'depth/scan: farthest range kept (m).',
          bounds=(0.0, 1000.0), read_only=False),
    Param('scan_time', 0.033, 'depth/scan: scan_time field (s between scans).',
          bounds=(0.0, 10.0), read_only=False),
    Param('scan_frame_id', 'camera_depth_frame', 'depth/scan: frame of the scan, at the camera '
          'with x forward and z up (not the optical frame).', read_only=False),
    Param('camera_info_tolerance', 0.001, 'Largest stamp difference (s) at which a camera_info '
          'pairs with an image; otherwise the latest camera_info is used with a warning.',
          bounds=(0.0, 10.0), read_only=False),
    Param('input_qos', 'sensor_data', 'QoS preset of the image and camera_info subscriptions: '
          'sensor_data, default, reliable or best_effort, optionally :DEPTH.'),
    Param('output_qos', 'reliable', 'QoS preset of the image outputs (reliable suits RViz).'),
    Param('points_qos', 'reliable', 'QoS preset of depth/points.'),
    Param('diagnostics_period', 1.0, 'Seconds between /diagnostics messages.',
          bounds=(0.1, 60.0)),
    Param('image_timeout', 5.0, 'Seconds without an image after which /diagnostics warns, '
          'naming the image topic.', bounds=(0.1, 3600.0), read_only=False),
    Param('strict_parameters', False, 'Refuse to start when a params file or -p sets a '
          'parameter this node does not have (a misspelling); false only warns, naming the '
          'closest parameters.'),
    Param('scale.policy', 'none', 'How a relative model gets metres: none (metric models), '
          'fixed, median (fitted to sparse metric depth) or ground_plane (known camera height '
          'and pitch over flat ground).', choices=tuple(scale.POLICIES)),
    Param('scale.scale', 1.0, 'fixed: depth = scale * unscaled depth (disparity models) or '
          'inverse depth = scale * prediction + shift (inverse_relative models).',
          bounds=(1e-9, 1e9)),
    Param('scale.shift', 0.0, 'fixed: shift of the inverse depth (inverse_relative models).',
          bounds=(-1e9, 1e9)),
    Param('scale.min_points', 50, 'median, ground_plane: fewest points a fit may use.',
          bounds=(2, 10_000_000)),
    Param('scale.smoothing', 0.0, 'median, ground_plane: weight of the previous scale in an '
          'exponential average across frames (0 uses each fit as it is).', bounds=(0.0, 0.999)),
    Param('scale.window', 1, 'median, ground_plane: the scale in use follows the median of the '
          'last N accepted fits (an odd N; 1 uses each fit), so that a few wild fits in a row do '
          'not move it.', bounds=(1, 99)),
    Param('scale.timeout', 1.0, 'median: seconds after the last accepted fit (and largest age '
          'of sparse depth) before the scale is unknown again.', bounds=(0.0, 3600.0)),
    Param('scale.future_tolerance', 0.5, 'median: how far (s) sparse depth may be stamped after '
          "the frame it scales; later ones (a clock ahead of the camera's) are rejected, so that "
          'scale.timeout still ends a stale scale.', bounds=(0.0, 60.0), read_only=False),
    Param('scale.height', 0.0, 'ground_plane: camera height above the ground (metres, > 0).',
          bounds=(0.0, 100.0)),
    Param('scale.pitch', 0.0, 'ground_plane: camera pitch (radians, positive looks down).',
          bounds=(-1.5, 1.5)),
    Param('scale.max_range', 20.0, 'ground_plane: farthest ground depth used in the fit (m).',
          bounds=(0.1, 1000.0)),
    Param('scale.sparse_input', 'points', "median: sparse metric depth from 'points' "
          "(sparse_depth/points, a LiDAR PointCloud2) or 'image' (sparse_depth/image, a depth "
          'image of the camera view, 32FC1 or 16UC1).', choices=('points', 'image')),
    Param('scale.lidar_xyz', [0.0, 0.0, 0.0], 'median with points: translation (m) of the LiDAR '
          'frame in the camera optical frame (the static transform camera_optical -> lidar).'),
    Param('scale.lidar_rpy', [0.0, 0.0, 0.0], 'median with points: roll, pitch, yaw (rad, REP '
          '103) of the LiDAR frame in the camera optical frame.'),
)


class CameraChannel:
    """
    One camera of the node: its subscriptions, per-frame processor, pipeline, publishers, counts.

    ``name`` is '' for the node's one camera (topics ``image``, ``camera_info``,
    ``depth/image``, ...) or a camera of the ``cameras`` parameter (``NAME/image``,
    ``NAME/depth/image``, ...). Each camera has its own two-stage pipeline, so a slow or silent
    camera holds up no other; the cameras of a node share its model and its parameters.
    """

    def __init__(self, node: DepthNodeMixin, name: str, processor: FrameProcessor) -> None:
        self.node, self.name, self.processor = node, name, processor
        self.output_pubs: dict[str, object] = {}
        self.subscriptions: list = []
        self.image_topic = ''
        self.pipeline: TwoStagePipeline | None = None
        self._counter_lock = threading.Lock()
        self.reset_statistics()

    def topic(self, relative: str) -> str:
        """Return the camera's topic name for a topic of the node: ``image`` -> ``NAME/image``."""
        return f'{self.name}/{relative}' if self.name else relative

    def reset_statistics(self) -> None:
        """Start the rates, latencies and counters again."""
        self.input_rate = RateMeter()
        self.output_rate = RateMeter()
        self.latency_ms = Window()
        self.inference_ms = Window()
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.last_error = ''
        self._last_image = time.monotonic()
        self._empty_depth = False  # the model's last depth had no valid pixel

    def create_entities(self, input_qos, output_qos, points_qos, overrides) -> None:
        """Subscribe the camera's inputs and create its publishers."""
        node, value = self.node, self.node._value

        def subscribe(msg_type, topic, callback) -> None:
            self.subscriptions.append(node.create_subscription(
                msg_type, self.topic(topic), callback, input_qos,
                qos_overriding_options=overrides))

        if value('input_transport') == 'compressed':
            subscribe(CompressedImage, 'image/compressed', self._on_image)
        else:
            subscribe(Image, 'image', self._on_image)
        self.image_topic = self.subscriptions[-1].topic_name
        subscribe(CameraInfo, 'camera_info', self.processor.add_camera_info)
        if value('scale.policy') == 'median':
            if value('scale.sparse_input') == 'points':
                subscribe(PointCloud2, 'sparse_depth/points', self.processor.add_sparse_depth)
            else:
                subscribe(Image, 'sparse_depth/image', self.processor.add_sparse_depth)
        self.output_pubs = {
            key: node._make_publisher(msg_type, self.topic(topic),
                                      points_qos if key == 'points' else output_qos,
                                      qos_overriding_options=overrides)
            for key, (topic, msg_type) in OUTPUTS.items()
            if self.processor.has_segmentation or key not in SEGMENTATION_OUTPUTS}

    def destroy_entities(self) -> None:
        """Destroy the subscriptions and publishers."""
        for subscription in self.subscriptions:
            self.node.destroy_subscription(subscription)
        for publisher in self.output_pubs.values():
            self.node._remove_publisher(publisher)
        self.subscriptions, self.output_pubs = [], {}

    def start(self) -> None:
        """Start the camera's pipeline with fresh statistics."""
        self.reset_statistics()
        self.pipeline = TwoStagePipeline(self._infer, self._publish_outputs, self._on_error,
                                         name=f'mono_depth_{self.name or "camera"}')
        self.pipeline.start()

    def stop(self) -> None:
        """Stop the camera's pipeline."""
        if self.pipeline is not None:
            self.pipeline.stop()
            self.pipeline = None

    # -- callbacks: store only ----------------------------------------------------------------

    def _on_image(self, msg) -> None:
        pipeline = self.pipeline
        if pipeline is None:  # configured but not active
            return
        self._last_image = time.monotonic()
        self.input_rate.tick()
        self._count(self.counts, 'received')
        if pipeline.submit(msg):
            self._count(self.counts, 'dropped_stale')

    # -- the two stages -------------------------------------------------------------------------

    def _wanted(self, settings: FrameSettings) -> set[str]:
        """Return the outputs to build: those with subscribers (lazy, as image_pipeline does)."""
        return self.processor.outputs_to_build(
            {key for key, publisher in self.output_pubs.items()
             if publisher.get_subscription_count() > 0}, settings)

    def _infer(self, msg) -> Inference | None:
        """Stage one: the network, unless no output has a subscriber."""
        settings = self.node._frame_settings()
        if not self._wanted(settings):
            self._count(self.counts, 'skipped_no_subscribers')
            return None
        inference = self.processor.infer(msg, settings)
        self.inference_ms.add(inference.result.timings_ms['inference'])
        for notice in inference.notices:
            self._count(self.counts, notice.key)
            self.node._warn(f'{self.name}:{notice.key}', self._about(notice.message))
        if inference.sparse_depth_error is not None:
            self._reject('sparse_depth', inference.sparse_depth_error, msg)
        return inference

    def _publish_outputs(self, msg, inference: Inference) -> None:
        """Stage two: build and publish the outputs that have subscribers now."""
        settings = self.node._frame_settings()
        outputs = self.processor.build(inference, self._wanted(settings), settings,
                                       sink=self._publish)
        if outputs.waiting_for_scale:
            self._count(self.counts, 'waiting_for_scale')
        else:
            self._empty_depth = outputs.empty_depth
            if outputs.empty_depth:
                self._count(self.counts, 'empty_depth')
        if outputs.error is not None:
            raise outputs.error
        now = self.node.get_clock().now().nanoseconds * 1e-9
        self.latency_ms.add((now - stamp_seconds(msg.header.stamp)) * 1e3)
        self.output_rate.tick()
        self._count(self.counts, 'processed')

    def _publish(self, key: str, message) -> None:
        publisher = self.output_pubs[key]
        publisher.publish(message)
        self._count(self.counts, f'published {publisher.topic_name}')

    def _on_error(self, msg, error: Exception) -> None:
        if not self.node.context.ok():
            return  # shutting down: the publishers are gone
        if isinstance(error, (ros_io.ImageError, ros_io.CameraInfoError)):
            self._reject(error_reason(error), error, msg)
            return
        self._reject('processing_error', error, msg)  # keep the node alive whatever a frame does
        self.node.get_logger().error(self._about(f'frame processing failed: {error!r}'),
                                     throttle_duration_sec=1.0)

    def _count(self, counter: Counter, key: str) -> None:
        with self._counter_lock:
            counter[key] += 1

    def _reject(self, reason: str, error: Exception, msg) -> None:
        stamp = msg.header.stamp
        self._count(self.errors, reason)
        self.last_error = f'{reason}: {error}'
        self.node.get_logger().warning(
            self._about(f'dropped frame {stamp.sec}.{stamp.nanosec:09d}: {error}'),
            throttle_duration_sec=1.0)

    def _about(self, message: str) -> str:
        return f'camera {self.name}: {message}' if self.name else message

    # -- diagnostics ------------------------------------------------------------------------------

    def statistics(self) -> dict[str, str]:
        """Return what /diagnostics reports: model, rates, latency, inference time, counters."""
        estimator = self.processor.estimator
        backend = estimator.backend
        values = {
            'model': estimator.spec.name, 'output kind': estimator.spec.output_kind,
            'device': backend.device, 'precision': backend.precision,
            'input rate (Hz)': f'{self.input_rate.rate():.2f}',
            'output rate (Hz)': f'{self.output_rate.rate():.2f}',
            'latency p50 (ms)': f'{self.latency_ms.percentile(50):.1f}',
            'latency p95 (ms)': f'{self.latency_ms.percentile(95):.1f}',
            'inference p50 (ms)': f'{self.inference_ms.percentile(50):.1f}',
            'frames received': str(self.counts['received']),
            'frames processed': str(self.counts['processed']),
            'frames dropped (stale)': str(self.counts['dropped_stale']),
            'frames skipped (no subscribers)': str(self.counts['skipped_no_subscribers']),
            'frames without scale': str(self.counts['waiting_for_scale']),
            'frames without valid depth': str(self.counts['empty_depth']),
            'camera_info unpaired': str(self.counts['camera_info_unpaired']),
            'errors': str(sum(self.errors.values())), 'last error': self.last_error,
            'scale': estimator.scale_policy.status,
        }
        values.update({f'errors: {reason}': str(n) for reason, n in sorted(self.errors.items())})
        if isinstance(backend, CameraBackend):
            shared = backend.shared.model.statistics
            values.update({
                'image topic': self.image_topic,
                'network forwards (all cameras)': str(shared.forwards),
                'frames per forward (all cameras)':
                    f'{shared.frames / shared.forwards:.2f}' if shared.forwards else 'nan'})
        return values

    def problems(self) -> list[str]:
        """Return what makes the camera's diagnostics WARN."""
        problems = []
        silent = time.monotonic() - self._last_image
        timeout = self.node._value('image_timeout')
        if silent > timeout:
            problems.append(f'no image on {self.image_topic} for {silent:.1f} s (more than '
                            f'image_timeout {timeout:g} s): check the camera and the remapping')
        if self._empty_depth:
            problems.append(f"the model's last depth has no valid pixel "
                            f'({self.counts["empty_depth"]} frames so far): check the weights '
                            'and the input')
        if self.last_error and self.errors:
            problems.append(f'{sum(self.errors.values())} frames rejected; last: '
                            f'{self.last_error}')
        return problems

    def diagnostic_status(self) -> DiagnosticStatus:
        """Return the camera's status: OK, or WARN saying what is wrong."""
        estimator = self.processor.estimator
        camera = f'{self.name}: ' if self.name else ''
        status = DiagnosticStatus(name=f'{self.node.get_name()}: {camera}monocular depth',
                                  hardware_id=estimator.backend.device)
        problems = self.problems()
        status.level = DiagnosticStatus.WARN if problems else DiagnosticStatus.OK
        status.message = '; '.join(problems) or 'running'
        if self.counts['waiting_for_scale']:
            status.message += f'; {estimator.scale_policy.status}'
        status.values = [KeyValue(key=k, value=v) for k, v in self.statistics().items()]
        return status


class DepthNodeMixin:
    """
    What the plain and the lifecycle node share; mixed into an rclpy ``Node``.

    The parts, in the order of a lifecycle: :meth:`_declare_parameters` (constructor),
    :meth:`_configure` (load the model, create each camera's subscriptions and publishers),
    :meth:`_start_processing` / :meth:`_stop_processing` (the cameras' two-stage pipelines and
    the diagnostics timer), :meth:`_unconfigure` (destroy the entities, free the model).
    """

    def _declare_parameters(self) -> None:
        declare_all(self, PARAMS)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.cameras: list[CameraChannel] = []
        self.diagnostics_pub = None
        self._diagnostics_timer = None
        self._warned: dict[str, float] = {}  # warning key -> when it was last logged

    # The node's one camera, or the first of its cameras: what a single-camera caller sees.

    @property
    def processor(self) -> FrameProcessor | None:
        """Return the per-frame processor of the first camera (None while not configured)."""
        return self.cameras[0].processor if self.cameras else None

    @property
    def counts(self) -> Counter:
        """Return the first camera's counters."""
        return self.cameras[0].counts

    @property
    def errors(self) -> Counter:
        """Return the first camera's rejected frames by reason."""
        return self.cameras[0].errors

    @property
    def last_error(self) -> str:
        """Return the first camera's last rejected frame."""
        return self.cameras[0].last_error

    def statistics(self) -> dict[str, str]:
        """Return what /diagnostics reports for the first camera."""
        return self.cameras[0].statistics()

    # Publisher factory and disposal: the lifecycle node makes managed publishers instead.

    def _make_publisher(self, msg_type, topic: str, qos, **options):
        return self.create_publisher(msg_type, topic, qos, **options)

    def _remove_publisher(self, publisher) -> None:
        self.destroy_publisher(publisher)

    # -- configuration ------------------------------------------------------------------------

    def _configure(self) -> None:
        """Check the parameters, load the model, create the ROS entities; ConfigError if bad."""
        value = self._value
        if value('min_depth') >= value('max_depth'):
            raise ConfigError(f"parameter 'min_depth' ({value('min_depth')}) must be below "
                              f"'max_depth' ({value('max_depth')})")
        if value('scan_range_min') >= value('scan_range_max'):
            raise ConfigError(f"parameter 'scan_range_min' ({value('scan_range_min')}) must be "
                              f"below 'scan_range_max' ({value('scan_range_max')})")
        names = camera_names(value('cameras'))
        input_qos = parse_qos(value('input_qos'), 'input_qos')
        output_qos = parse_qos(value('output_qos'), 'output_qos')
        points_qos = parse_qos(value('points_qos'), 'points_qos')

        policy_name = value('scale.policy')
        if len(names) > 1 and policy_name == 'median' and value('scale.sparse_input') == 'points':
            raise ConfigError("parameter 'cameras': scale.policy median with LiDAR points needs "
                              'the pose of the LiDAR in each camera, and scale.lidar_xyz/rpy '
                              'give one; use scale.sparse_input image, or a node per camera')

        def policy() -> scale.ScalePolicy:
            return scale.make_policy(policy_name, **{
                name: value(f'scale.{name}') for name in scale.policy_defaults(policy_name)})

        try:
            policies = [policy() for _ in names]
            lidar_extrinsic = scale.extrinsic_from_params(value('scale.lidar_xyz'),
                                                          value('scale.lidar_rpy'))
        except ValueError as error:
            raise ConfigError(f'scale parameters: {error}') from error
        model, runtime = value('model'), value('backend')
        try:
            model, input_size = self._model_to_run()
            weights = value('model_file') or value('weights')
            if runtime != 'onnx' and not value('model_file'):
                # Fetched here so that a first download shows its progress in the log; the
                # estimator then finds the files there. (ONNX Runtime may find a cached export
                # instead, without the model zoo or PyTorch.)
                weights = resolve_weights(get_spec(model), value('weights'),
                                          progress=self._download_logger(model))
            options = {'threads': value('num_threads') or None}
            if runtime == 'torch':
                options['channels_last'] = value('channels_last')
            estimator = DepthEstimator.from_name(
                model, weights=value('weights'), device=value('device'),
                precision=value('precision'), output_size=value('output_size'),
                scale_policy=policies[0], backend=runtime,
                model_file=value('model_file') or None, input_size=input_size, **options)
        except (KeyError, ValueError, RuntimeError, OSError) as error:
            raise ConfigError(f'cannot start model {model!r} with weights '
                              f'{value("weights")!r} on device {value("device")!r}: '
                              f'{error}') from error
        backend = estimator.backend
        if value('device') == 'auto' and backend.device == 'cpu':
            self.get_logger().info("device 'auto': no CUDA GPU found, running on the CPU")
        self.get_logger().info(f'model {model} ({estimator.spec.output_kind}) on '
                               f'{backend.device}, {backend.precision}, weights {weights}')
        estimators = [estimator]
        if len(names) > 1:
            # One network for every camera; each camera keeps its own scale.
            shared = SharedBackend(backend)
            estimators = [DepthEstimator(estimator.spec, shared.camera(name), camera_policy,
                                         value('output_size'))
                          for name, camera_policy in zip(names, policies)]
            how = ('frames of the same size batched' if shared.model.batches
                   else 'in turn (this runtime takes one frame at a time)')
            self.get_logger().info(f'{len(names)} cameras ({", ".join(names)}) share the '
                                   f'model, {how}')
        overrides = QoSOverridingOptions.with_default_policies()
        for name, camera_estimator in zip(names, estimators):
            camera = CameraChannel(self, name, FrameProcessor(
                camera_estimator, lidar_extrinsic,
                camera_info_topic=self.resolve_topic_name(
                    f'{name}/camera_info' if name else 'camera_info'),
                camera_info_wait=CAMERA_INFO_WAIT))
            self.cameras.append(camera)
            camera.create_entities(input_qos, output_qos, points_qos, overrides)
        self.diagnostics_pub = self._make_publisher(DiagnosticArray, '/diagnostics', 10)
        check_unknown_parameters(self, value('strict_parameters'))

    def _unconfigure(self) -> None:
        """Destroy the subscriptions and publishers and free the model (and its GPU memory)."""
        for camera in self.cameras:
            camera.destroy_entities()
        if self.diagnostics_pub is not None:
            self._remove_publisher(self.diagnostics_pub)
        uses_cuda = any(str(camera.processor.estimator.backend.device).startswith('cuda')
                        for camera in self.cameras)
        self.cameras, self.diagnostics_pub = [], None
        gc.collect()
        if uses_cuda:
            import torch

            torch.cuda.empty_cache()

    # -- processing ---------------------------------------------------------------------------

    def _start_processing(self) -> None:
        for camera in self.cameras:
            camera.start()
        self._diagnostics_timer = self.create_timer(self._value('diagnostics_period'),
                                                    self._publish_diagnostics)

    def _stop_processing(self) -> None:
        if self._diagnostics_timer is not None:
            self.destroy_timer(self._diagnostics_timer)
            self._diagnostics_timer = None
        for camera in self.cameras:
            camera.stop()

    def destroy_node(self) -> None:
        """Stop the pipelines, then the ROS entities."""
        if hasattr(self, 'cameras'):
            self._stop_processing()
        super().destroy_node()

    # -- parameters ---------------------------------------------------------------------------

    def _model_to_run(self) -> tuple[str, int | None]:
        """Return the zoo model and input size to run: 'auto' resolved (and logged)."""
        model, input_size = self._value('model'), self._value('input_size') or None
        if model == DEFAULT_MODEL:
            device, choice = resolve_auto(self._value('device'), self._value('scene'))
            model, input_size = choice.model, input_size or choice.input_size
            size = f', input_size {input_size}' if input_size else ''
            self.get_logger().info(f"model 'auto' on {device}, scene {self._value('scene')}: "
                                   f'{model}{size}: {choice.reason}')
        elif model == DEMO_MODEL:
            self.get_logger().warning(DEMO_WARNING)
        if input_size:
            get_spec(model).with_input_size(input_size)  # a bad size fails before any download
        return model, input_size

    def _download_logger(self, model: str):
        """Return a progress report that logs a download of the weights of ``model``."""
        def report(done: int, total: int | None) -> None:
            of = f' of {total / 1e6:.1f}' if total else ''
            self.get_logger().info(f'downloading the weights of {model}: {done / 1e6:.1f}{of} MB')
        return report

    def _value(self, name: str):
        return self.get_parameter(name).value

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        known = {param.name: param for param in PARAMS}
        current = {p.name: self._value(p.name) for p in PARAMS if not p.read_only}
        for parameter in parameters:
            if parameter.name not in known:
                continue
            problem = known[parameter.name].check(parameter.value)
            if problem:
                return SetParametersResult(successful=False, reason=problem)
            current[parameter.name] = parameter.value
        if current['min_depth'] >= current['max_depth']:
            return SetParametersResult(successful=False,
                                       reason='min_depth must be below max_depth')
        if current['scan_range_min'] >= current['scan_range_max']:
            return SetParametersResult(successful=False,
                                       reason='scan_range_min must be below scan_range_max')
        return SetParametersResult(successful=True)

    def _frame_settings(self) -> FrameSettings:
        """Return the current values of the parameters the per-frame path reads."""
        return FrameSettings(**{
            field.name: self._value(FRAME_SETTING_PARAMETERS.get(field.name, field.name))
            for field in dataclasses.fields(FrameSettings)})

    def _warn(self, key: str, message: str, period: float = 5.0) -> None:
        """Log a warning at most once per ``period`` seconds for each ``key``."""
        now = time.monotonic()
        if now - self._warned.get(key, -period) >= period:
            self._warned[key] = now
            self.get_logger().warning(message)

    # -- diagnostics ------------------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        array = DiagnosticArray(status=[camera.diagnostic_status() for camera in self.cameras])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(array)


def camera_names(value) -> list[str]:
    """
    Return the cameras of the ``cameras`` parameter; ``['']`` (the node's one camera) if empty.

    Raises ConfigError unless it is a list of distinct names that are valid in a ROS topic.
    """
    names = list(value) if isinstance(value, (list, tuple)) else None
    if names is None or not all(isinstance(name, str) for name in names):
        raise ConfigError(f"parameter 'cameras' is {value!r}; give a list of camera names, e.g. "
                          '[front, left, right], or [] for one camera on image and camera_info')
    for name in names:
        if not re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*', name):
            raise ConfigError(f"parameter 'cameras': {name!r} is not a valid topic namespace "
                              '(letters, digits, underscores and /, not starting with a digit)')
    if len(set(names)) != len(names):
        raise ConfigError(f"parameter 'cameras' names a camera twice: {names}")
    return names or ['']


class MonoDepthNode(DepthNodeMixin, Node):
    """Monocular depth estimation node: configured and processing from the start."""

    def __init__(self, **node_options) -> None:
        super().__init__('mono_depth_node', **node_options)
        try:
            self._declare_parameters()
            self._configure()
        except Exception:
            self.destroy_node()
            raise
        self._start_processing()


def main(args: list[str] | None = None) -> int:
    """Run the node until shutdown; a bad configuration exits with status 1 and a message."""
    pin_mmap_threshold()  # camera-sized messages: see mono_depth_ros.memory
    return run_node(MonoDepthNode, 'mono_depth_node', args)


if __name__ == '__main__':
    sys.exit(main())
