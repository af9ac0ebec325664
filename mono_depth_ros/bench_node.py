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
``mono-depth bench --node``: what the node costs around the network, and how it keeps up.

In one run, every figure against a baseline measured in the same run:

1. **steps**: a camera frame (bgr8) through the node's per-frame path in this process: decode,
   preprocess, the network, postprocess, then each output built and published to a subscriber.
   The overhead is everything but the network, as a fraction of the network's time.
2. **cloud**: building ``depth/points`` as the node does (a network's depth, the default range)
   against a plain copy of the same number of bytes into allocated memory, against
   the two-pass way (an ``(H, W, 3)`` array, then packed) and against
   ``sensor_msgs_py.point_cloud2.create_cloud`` given the same layout, when it is installed.
3. **startup**: the node started in a new process until its first depth image arrives, on
   PyTorch and on ONNX Runtime from a cached export.
4. **dds**: the node in its own process under a camera at ``--camera-rate`` (30 Hz) over DDS,
   its camera outputs subscribed (raw, as a C++ subscriber takes them): output rate and
   stamp-to-receipt latency of the depth image (p50, p95) against the node's inference time;
   then the same camera against :mod:`mono_depth_ros.bench_echo`, a node that does no work: the
   latency of the transport itself, which no node goes below.
5. **memory** (``--memory``): the node's resident memory before, at the peak of, and after one
   large frame.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import struct
import subprocess
import sys
import threading
import time

import numpy as np

TARGETS = {'overhead': 0.15, 'cloud_over_copy': 2.5, 'p95_over_inference': 2.0, 'startup_s': 1.5}
# The outputs the overhead target is stated for (issue: every output of a depth camera).
CAMERA_OUTPUTS = ('depth', 'camera_info', 'points', 'depth_colorized')


def _stats(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    return {'p50_ms': float(np.percentile(array, 50)), 'p95_ms': float(np.percentile(array, 95)),
            'min_ms': float(array.min()), 'n': int(array.size)}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def _camera_frame(width: int, height: int):
    """Return a synthetic frame as the camera sends it: bgr8 Image and its CameraInfo."""
    from mono_depth_ros import ros_io
    from mono_depth_ros.camera_player import encode
    from mono_depth_ros.data.synthetic import SyntheticScenes
    from std_msgs.msg import Header

    scene = SyntheticScenes(seed=0, count=1, width=width, height=height)[0]
    header = Header(frame_id='camera_optical_frame')
    return (encode(scene.rgb, 'bgr8', header), ros_io.camera_info_for(scene.intrinsics, header),
            scene)


def node_defaults():
    """Return the node's default FrameSettings (what a launched node uses)."""
    import dataclasses

    from mono_depth_ros.node import PARAMS
    from mono_depth_ros.processing import FrameSettings

    defaults = {param.name: param.default for param in PARAMS}
    return FrameSettings(**{f.name: defaults[f.name] for f in dataclasses.fields(FrameSettings)
                            if f.name in defaults})


def time_steps(estimator, width: int, height: int, warmup: int, iters: int) -> dict:
    """
    Time each step of the node's per-frame path on one frame, interleaved over ``iters`` rounds.

    Publishing goes through real publishers, each matched by a subscription of this process.
    """
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from mono_depth_ros import ros_io
    from mono_depth_ros.processing import FrameProcessor, OUTPUTS

    settings = node_defaults()
    processor = FrameProcessor(estimator)
    image, info, _ = _camera_frame(width, height)
    processor.add_camera_info(info)
    wanted = sorted(processor.outputs_to_build(OUTPUTS, settings))
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    node = rclpy.create_node('bench_node_steps')
    publishers = {key: node.create_publisher(OUTPUTS[key][1], OUTPUTS[key][0], qos)
                  for key in wanted}
    for key in wanted:
        node.create_subscription(OUTPUTS[key][1], OUTPUTS[key][0], lambda msg: None, qos)
    steps: dict[str, list[float]] = {}
    depth_shapes = set()

    def one_round(record: bool) -> None:
        times = {'decode': _timed(lambda: ros_io.image_to_rgb(image))}
        inference = processor.infer(image, settings)
        depth_shapes.add(inference.result.depth.shape)
        times.update(inference.result.timings_ms)
        for key in wanted:
            messages = {}  # this output's message, dropped after publishing, as the node does
            times[f'build {key}'] = _timed(lambda: messages.update(
                processor.build(inference, {key}, settings).messages))
            times[f'publish {key}'] = _timed(lambda: publishers[key].publish(messages[key]))
        if record:
            for name, ms in times.items():
                steps.setdefault(name, []).append(ms)

    try:
        for round_index in range(warmup + iters):
            one_round(record=round_index >= warmup)
    finally:
        node.destroy_node()
    result = {name: _stats(values) for name, values in steps.items()}
    around = ('decode', 'preprocess', 'postprocess')

    def overhead(keys, publish: bool, statistic: str = 'p50_ms') -> float:
        names = list(around) + [f'build {k}' for k in keys]
        names += [f'publish {k}' for k in keys] if publish else []
        return (sum(result[name][statistic] for name in names if name in result)
                / result['inference'][statistic])

    camera = [key for key in CAMERA_OUTPUTS if key in wanted]
    (depth_size,) = depth_shapes
    return {'steps': result, 'outputs': wanted, 'camera_outputs': camera,
            'depth_size': list(depth_size),
            'overhead_camera_outputs': overhead(camera, publish=False),
            'overhead_camera_outputs_published': overhead(camera, publish=True),
            'overhead_all_outputs': overhead(wanted, publish=False),
            'overhead_all_outputs_published': overhead(wanted, publish=True),
            # Under load p50s include waits for the CPU; the fastest rounds approach a quiet one.
            'overhead_camera_outputs_min': overhead(camera, publish=False, statistic='min_ms'),
            'overhead_camera_outputs_published_min': overhead(camera, publish=True,
                                                              statistic='min_ms')}


def time_cloud(width: int, height: int, warmup: int, iters: int) -> dict:
    """Time depth/points against a plain copy of its bytes and against other ways to build it."""
    from mono_depth_ros import geometry, ros_io
    from std_msgs.msg import Header

    _, _, scene = _camera_frame(width, height)
    # The estimator's depth is clipped (NaN its only invalid value) and the cloud has the
    # node's range.
    depth, intrinsics = geometry.clip_depth(scene.depth), scene.intrinsics
    settings = node_defaults()
    depth_range = (settings.min_depth, settings.max_depth)
    header = Header(frame_id='camera_optical_frame')
    buffers = ros_io.MessageBuffers()
    size = height * width * 4 * geometry.XYZ_LANES
    source = np.frombuffer(ros_io.depth_to_cloud(depth, intrinsics, header).data, np.uint8)
    # Into memory allocated once, as the cloud is written into a reused buffer: a fresh
    # allocation would add page faults to the baseline or not, as the allocator sees fit.
    target = np.empty_like(source)
    ways = {
        'plain copy of the bytes': lambda: np.copyto(target, source),
        'depth_to_cloud (this package)': lambda: ros_io.depth_to_cloud(
            depth, intrinsics, header, 1, *depth_range, buffers=buffers),
        'depth_to_points + points_to_cloud (two passes)': lambda: ros_io.points_to_cloud(
            geometry.depth_to_points(depth, intrinsics, 1, *depth_range), header),
    }
    try:
        from sensor_msgs_py import point_cloud2
        from sensor_msgs.msg import PointField

        fields = [PointField(name=name, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                  for i, name in enumerate('xyz')]
        ways['depth_to_points + sensor_msgs_py create_cloud'] = lambda: point_cloud2.create_cloud(
            header, fields, geometry.depth_to_points(depth, intrinsics, 1, *depth_range),
            point_step=16)
        compared = 'sensor_msgs_py.point_cloud2.create_cloud (same x y z layout, point_step 16)'
    except ImportError:
        compared = ('sensor_msgs_py is not installed (no wheel on PyPI): compared with the '
                    'two-pass way instead')
    times: dict[str, list[float]] = {name: [] for name in ways}
    for round_index in range(warmup + iters):
        for name, way in ways.items():  # interleaved, so that load hits every way alike
            ms = _timed(way)
            if round_index >= warmup:
                times[name].append(ms)
    result = {name: _stats(values) for name, values in times.items()}
    copy = result['plain copy of the bytes']
    for stats in result.values():
        stats['over_copy'] = stats['p50_ms'] / copy['p50_ms']
        stats['min_over_copy'] = stats['min_ms'] / copy['min_ms']
    return {'bytes': size, 'ways': result, 'create_cloud': compared}


def image_stamp_and_width(serialized: bytes) -> tuple[int, int]:
    """Return the stamp (ns) and width of a serialized sensor_msgs/Image, its pixels unread."""
    # CDR: a 4-byte encapsulation header (its second byte 1 for little-endian), then the fields,
    # each aligned to its size counted from the end of that header: stamp (int32 sec, uint32
    # nanosec), frame_id (uint32 length with the NUL, the bytes), height, width (uint32).
    order = '<' if serialized[1] == 1 else '>'
    sec, nanosec, frame_id_length = struct.unpack_from(order + 'iII', serialized, 4)
    offset = 16 + frame_id_length
    offset += -(offset - 4) % 4
    _, width = struct.unpack_from(order + 'II', serialized, offset)
    return sec * 10**9 + nanosec, width


class CameraDriver:
    """A camera and an output recorder over DDS, in this process (rclpy node and executor)."""

    def __init__(self, reliable_input: bool, outputs: tuple[str, ...] = CAMERA_OUTPUTS) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image

        from mono_depth_ros.processing import OUTPUTS

        self.node = rclpy.create_node('bench_node_camera')
        camera_qos = (QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
                      if reliable_input else qos_profile_sensor_data)
        self.image_pub = self.node.create_publisher(Image, 'image', camera_qos)
        self.info_pub = self.node.create_publisher(CameraInfo, 'camera_info', camera_qos)
        self.lock = threading.Lock()
        self.depth: list[tuple[int, float, int]] = []  # (stamp ns, receipt s, width)
        self.diagnostics: dict[str, str] = {}
        output_qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        # Raw (serialized) messages, as a C++ subscriber such as RViz takes them: turning 7 MB a
        # frame into Python objects at 30 Hz would make this process, not the node, the bottleneck
        # on a small machine.
        self.outputs = outputs
        for key in outputs:
            topic, msg_type = OUTPUTS[key]
            callback = self._on_depth if key == 'depth' else (lambda msg: None)
            self.node.create_subscription(msg_type, topic, callback, output_qos, raw=True)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _on_depth(self, serialized: bytes) -> None:
        now = time.time()
        stamp, width = image_stamp_and_width(serialized)
        with self.lock:
            self.depth.append((stamp, now, width))

    def _on_diagnostics(self, msg) -> None:
        with self.lock:
            for status in msg.status:
                self.diagnostics.update({value.key: value.value for value in status.values})

    def send(self, image, info) -> None:
        """Publish the frame and its camera_info stamped now."""
        stamp = self.node.get_clock().now().to_msg()
        info.header.stamp = image.header.stamp = stamp
        self.info_pub.publish(info)
        self.image_pub.publish(image)

    def play(self, image, info, rate: float, seconds: float, until=None) -> None:
        """Send the frame at ``rate`` Hz for ``seconds`` or until ``until()`` is true."""
        period, start = 1.0 / rate, time.monotonic()
        sent = 0
        while time.monotonic() - start < seconds and not (until and until()):
            self.send(image, info)
            sent += 1
            time.sleep(max(0.0, start + sent * period - time.monotonic()))

    def close(self) -> None:
        """Stop spinning and destroy the node."""
        self.executor.shutdown()
        self.thread.join(timeout=5.0)
        self.node.destroy_node()


class NodeProcess:
    """mono_depth_node (or another node's ``module``) in its own process, with ROS parameters."""

    def __init__(self, parameters: dict[str, object], module: str = 'mono_depth_ros.node'
                 ) -> None:
        from mono_depth_ros.demo import ros_args

        self.started = time.time()
        self.process = subprocess.Popen([sys.executable, '-m', module, *ros_args(parameters)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True)

    def rss_mb(self) -> float:
        """Return the resident set size of the node process in MB (1e6 bytes)."""
        for line in Path(f'/proc/{self.process.pid}/status').read_text().splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024 / 1e6
        raise RuntimeError('no VmRSS')

    def stop(self) -> str:
        """Stop it like Ctrl-C; return what it wrote to stderr."""
        from mono_depth_ros.demo import interrupt

        return interrupt(self.process)


def first_depth(driver: CameraDriver, node: NodeProcess, image, info, timeout: float) -> float:
    """Feed frames at 30 Hz until the node's first depth image arrives; seconds from its start."""
    count = len(driver.depth)
    driver.play(image, info, 30.0, timeout, until=lambda: len(driver.depth) > count
                or node.process.poll() is not None)
    if len(driver.depth) == count:
        raise RuntimeError(f'no depth image from the node within {timeout:.0f} s: '
                           f'{node.stop()[-2000:]}')
    return driver.depth[count][1] - node.started


def startup_times(driver: CameraDriver, width: int, height: int, parameters: dict,
                  timeout: float) -> dict:
    """
    Start the node on each runtime of the model; time its first depth image.

    PyTorch and ONNX Runtime (from a cached export, made here first as a deployment would), or
    the model's own file runtime (TFLite).
    """
    from mono_depth_ros.estimator import DepthEstimator
    from mono_depth_ros.models.registry import get_spec

    image, info, _ = _camera_frame(width, height)
    runtimes = ['torch', 'onnx']
    if get_spec(parameters['model']).backend != 'torch':
        runtimes = [get_spec(parameters['model']).backend]
    else:
        DepthEstimator.from_name(parameters['model'], weights=parameters['weights'],
                                 backend='onnx', device='cpu')
    result = {}
    for runtime in runtimes:
        node = NodeProcess({**parameters, 'backend': runtime if runtime != 'tflite' else 'torch'})
        try:
            result[runtime] = first_depth(driver, node, image, info, timeout)
        finally:
            node.stop()
    return result


def _depth_latency(driver: CameraDriver, node: NodeProcess, image, info, rate: float,
                   seconds: float, timeout: float) -> tuple[dict, float]:
    """Play the camera to a started node; return the latency of its depth images and their rate."""
    first_depth(driver, node, image, info, timeout)
    driver.play(image, info, rate, 3.0)  # settle
    start_count, start = len(driver.depth), time.time()
    driver.play(image, info, rate, seconds)
    with driver.lock:
        received = driver.depth[start_count:]
    latency = [(receipt - stamp * 1e-9) * 1e3 for stamp, receipt, _ in received]
    return _stats(latency), len(received) / (received[-1][1] - start) if received else 0.0


def dds_floor(driver: CameraDriver, width: int, height: int, depth_size: tuple[int, int],
              rate: float, seconds: float, timeout: float) -> dict:
    """Run :mod:`mono_depth_ros.bench_echo`, a node doing no work, under the same camera."""
    image, info, _ = _camera_frame(width, height)
    node = NodeProcess({'height': depth_size[0], 'width': depth_size[1]},
                       module='mono_depth_ros.bench_echo')
    try:
        latency, output_hz = _depth_latency(driver, node, image, info, rate, seconds, timeout)
    finally:
        node.stop()
    return {'depth_size': list(depth_size), 'latency': latency, 'output_hz': output_hz}


def dds_run(driver: CameraDriver, width: int, height: int, parameters: dict, rate: float,
            seconds: float, timeout: float) -> dict:
    """Run the node under a camera at ``rate`` Hz; output rate and latency against inference."""
    image, info, _ = _camera_frame(width, height)
    node = NodeProcess(parameters)
    try:
        stats, output_hz = _depth_latency(driver, node, image, info, rate, seconds, timeout)
        with driver.lock:
            driver.diagnostics.clear()
        # This node's diagnostics, covering the frames of the run (one every second).
        driver.play(image, info, rate, 3.0,
                    until=lambda: 'inference p50 (ms)' in driver.diagnostics)
        with driver.lock:
            diagnostics = dict(driver.diagnostics)
    finally:
        node.stop()
    inference = float(diagnostics.get('inference p50 (ms)', 'nan'))
    return {'camera_hz': rate, 'seconds': seconds, 'subscribed': list(driver.outputs),
            'output_hz': output_hz, 'latency': stats, 'inference_p50_ms': inference,
            'p95_over_inference': stats['p95_ms'] / inference,
            'p50_over_inference': stats['p50_ms'] / inference,
            'node_diagnostics': {k: v for k, v in diagnostics.items()
                                 if 'rate' in k or 'frames' in k or 'latency' in k}}


def memory_run(driver: CameraDriver, width: int, height: int, big: tuple[int, int],
               parameters: dict, timeout: float, settle: float = 20.0) -> dict:
    """
    Measure the node's RSS on ordinary frames, after one ``big`` (height, width) frame, and after.

    The camera and the node's input are reliable here, so that the large frame is delivered.
    """
    image, info, _ = _camera_frame(width, height)
    big_image, big_info, _ = _camera_frame(big[1], big[0])
    # The large frame may exceed the node's default max_input_pixels (4K): admit it.
    node = NodeProcess({'max_input_pixels': big[0] * big[1], **parameters,
                        'input_qos': 'reliable'})
    try:
        first_depth(driver, node, image, info, timeout)
        driver.play(image, info, 10.0, settle)
        before = node.rss_mb()
        driver.send(big_image, big_info)
        peak = before
        deadline = time.monotonic() + timeout
        while not any(w == big[1] for _, _, w in driver.depth) and time.monotonic() < deadline:
            peak = max(peak, node.rss_mb())
            time.sleep(0.05)
        if not any(w == big[1] for _, _, w in driver.depth):
            raise RuntimeError(f'no depth for the {big[1]}x{big[0]} frame within {timeout:.0f} s: '
                               f'{node.stop()[-2000:]}')
        peak = max(peak, node.rss_mb())
        samples = []
        start = time.monotonic()
        while time.monotonic() - start < settle:
            driver.play(image, info, 10.0, 1.0)
            samples.append(node.rss_mb())
        after = float(np.median(samples[-5:]))
    finally:
        node.stop()
    return {'frame': f'{width}x{height}', 'large_frame': f'{big[1]}x{big[0]}',
            'rss_before_mb': before, 'rss_peak_mb': peak, 'rss_after_mb': after,
            'kept_mb': after - before, 'settle_s': settle}


def _environment() -> dict:
    from mono_depth_ros.bench import _cpu_name

    return {'cpu': _cpu_name(), 'cores': os.cpu_count(), 'load_average': list(os.getloadavg()),
            'date': time.strftime('%Y-%m-%d %H:%M')}


def run(args: argparse.Namespace) -> dict:
    """Run every part; return the results as a dict."""
    from mono_depth_ros.cli import parse_size
    from mono_depth_ros.demo import demo_environment
    from mono_depth_ros.estimator import DepthEstimator
    from mono_depth_ros.memory import pin_mmap_threshold
    from mono_depth_ros.models.registry import DEFAULT_MODEL, resolve_auto

    os.environ.update(demo_environment())  # DDS on this machine, a domain of its own
    pin_mmap_threshold()  # publish here as the node's process does
    import rclpy

    height, width = parse_size(args.size)
    model, input_size = args.model, None
    if model == DEFAULT_MODEL:  # what the node runs on this CPU by default
        _, choice = resolve_auto('cpu', 'indoor')
        model, input_size = choice.model, choice.input_size
    threads = args.threads
    options = {'threads': threads}
    if args.backend == 'torch':
        options['channels_last'] = True
    weights = args.weights or 'auto'  # the node's weights: the official or shipped ones
    estimator = DepthEstimator.from_name(model, weights=weights, device='cpu',
                                         backend=args.backend,
                                         input_size=input_size, output_size=args.output_size,
                                         **options)
    parameters = {'model': model, 'weights': weights, 'device': 'cpu', 'backend': args.backend,
                  'num_threads': threads or 0, 'input_size': input_size or 0,
                  'output_size': args.output_size}
    runtime = estimator.spec.backend if estimator.spec.backend != 'torch' else args.backend
    result = {'mode': 'node', 'model': model, 'backend': runtime,
              'frame': f'{width}x{height} bgr8', 'threads': threads,
              'output_size': args.output_size,
              'environment': _environment(), 'targets': TARGETS}
    rclpy.init()
    driver = None
    try:
        result['steps'] = time_steps(estimator, width, height, args.warmup, args.iters)
        result['cloud'] = time_cloud(width, height, args.warmup, args.iters)
        del estimator
        driver = CameraDriver(reliable_input=args.memory)
        if not args.skip_startup:
            result['startup_s'] = startup_times(driver, width, height, parameters,
                                                args.startup_timeout)
        result['dds'] = dds_run(driver, width, height, parameters, args.camera_rate,
                                args.seconds, args.startup_timeout)
        result['dds_floor'] = dds_floor(driver, width, height, result['steps']['depth_size'],
                                        args.camera_rate, args.seconds, args.startup_timeout)
        if args.memory:
            result['memory'] = memory_run(driver, width, height, parse_size(args.large_size),
                                          parameters, args.startup_timeout)
    finally:
        if driver is not None:
            driver.close()
        rclpy.try_shutdown()
    result['environment']['load_average_end'] = list(os.getloadavg())
    return result


def format_report(result: dict) -> str:
    """Return the human-readable report of :func:`run`."""
    env = result['environment']
    steps = result['steps']
    forward = steps['steps']['inference']['p50_ms']
    lines = [f'{env["date"]}, {env["cpu"]}, {env["cores"]} cores, load average '
             + ' '.join(f'{v:.2f}' for v in env['load_average']) + ' (start) '
             + ' '.join(f'{v:.2f}' for v in env['load_average_end']) + ' (end)',
             f'model {result["model"]} on {result["backend"]}, threads '
             f'{result["threads"] or "default"}, camera {result["frame"]}, output_size '
             f'{result["output_size"]}, every output subscribed; ms; x net = p50 / the '
             "network's p50", '',
             f'{"step":<40} {"p50":>8} {"p95":>8} {"min":>8} {"x net":>7}']
    order = ['decode', 'preprocess', 'inference', 'postprocess']
    order += [f'build {k}' for k in steps['outputs']] + [f'publish {k}' for k in steps['outputs']]
    for name in order:
        stats = steps['steps'][name]
        label = 'network (the backend call)' if name == 'inference' else name
        lines.append(f'{label:<40} {stats["p50_ms"]:8.2f} {stats["p95_ms"]:8.2f} '
                     f'{stats["min_ms"]:8.2f} {stats["p50_ms"] / forward:7.3f}')
    target = result['targets']['overhead']
    lines += ['', f'overhead around the network, {", ".join(steps["camera_outputs"])}: '
              f'{steps["overhead_camera_outputs"]:.1%} built, '
              f'{steps["overhead_camera_outputs_published"]:.1%} built and published '
              f'(target {target:.0%}); from the fastest rounds: '
              f'{steps["overhead_camera_outputs_min"]:.1%} built, '
              f'{steps["overhead_camera_outputs_published_min"]:.1%} built and published',
              f'overhead with every output ({len(steps["outputs"])}): '
              f'{steps["overhead_all_outputs"]:.1%} built, '
              f'{steps["overhead_all_outputs_published"]:.1%} built and published', '']
    cloud = result['cloud']
    lines.append(f'depth/points, {cloud["bytes"] / 1e6:.1f} MB: p50, p95, min ms; x copy of the '
                 f'p50s and of the mins (target {result["targets"]["cloud_over_copy"]}x)')
    for name, stats in cloud['ways'].items():
        lines.append(f'  {name:<48} {stats["p50_ms"]:8.2f} {stats["p95_ms"]:8.2f} '
                     f'{stats["min_ms"]:8.2f} {stats["over_copy"]:6.2f}x '
                     f'{stats["min_over_copy"]:6.2f}x')
    lines.append(f'  compared with: {cloud["create_cloud"]}')
    if 'startup_s' in result:
        lines += ['', 'startup, process start to the first depth image received: '
                  + ', '.join(f'{backend} {seconds:.2f} s'
                              for backend, seconds in result['startup_s'].items())
                  + f' (target {result["targets"]["startup_s"]} s without PyTorch)']
    dds = result['dds']
    latency = dds['latency']
    lines += ['', f'DDS, camera {dds["camera_hz"]:.0f} Hz for {dds["seconds"]:.0f} s, '
              f'{", ".join(dds["subscribed"])} subscribed: output '
              f'{dds["output_hz"]:.1f} Hz, latency p50 {latency["p50_ms"]:.1f} ms p95 '
              f'{latency["p95_ms"]:.1f} ms, inference p50 {dds["inference_p50_ms"]:.1f} ms: '
              f'p95 = {dds["p95_over_inference"]:.2f}x inference (target '
              f'{result["targets"]["p95_over_inference"]}x)']
    floor = result['dds_floor']
    height, width = floor['depth_size']
    lines.append(f'  the floor, a node doing no work (bench_echo: the camera image decoded, a '
                 f'{width}x{height} depth image published), same camera: output '
                 f'{floor["output_hz"]:.1f} Hz, latency p50 {floor["latency"]["p50_ms"]:.1f} ms '
                 f'p95 {floor["latency"]["p95_ms"]:.1f} ms')
    if 'memory' in result:
        memory = result['memory']
        lines += ['', f'memory, {memory["frame"]} frames and one {memory["large_frame"]} frame: '
                  f'RSS {memory["rss_before_mb"]:.0f} MB before, {memory["rss_peak_mb"]:.0f} MB '
                  f'peak, {memory["rss_after_mb"]:.0f} MB {memory["settle_s"]:.0f} s after '
                  f'({memory["kept_mb"]:+.0f} MB kept)']
    return '\n'.join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``mono-depth bench --node`` (with ``--model``, ``--size``, ...)."""
    group = parser.add_argument_group('--node')
    group.add_argument('--node', action='store_true',
                       help="the node's per-frame path step by step, the cloud against a plain "
                            'copy, startup, a DDS run under a camera (see bench_node.py)')
    group.add_argument('--output-size', choices=('input', 'model'), default='input',
                       help="--node: the node's output_size (input: the camera's resolution)")
    group.add_argument('--skip-startup', action='store_true', help='--node: no startup timing')
    group.add_argument('--startup-timeout', type=float, default=120.0,
                       help="--node: seconds to wait for a started node's first depth image")
    group.add_argument('--memory', action='store_true',
                       help='--node: also measure RSS before and after one large frame')
    group.add_argument('--large-size', default='4000x3000', help='--node --memory: its WxH')


def main(args: argparse.Namespace) -> int:
    """Run ``mono-depth bench --node`` and print the report (or JSON)."""
    from mono_depth_ros.models.registry import DEFAULT_MODEL

    args.model = args.model or DEFAULT_MODEL  # 'auto': the node's default model on a CPU
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else format_report(result))
    return 0
