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
``mono-depth bench --cameras N``: N cameras on one node and one model against N separate nodes.

Both configurations run the real node executables over real DDS, fed by the same N cameras
(synthetic views of ``--size``, published here at ``--camera-rate`` each, faster than the nodes
can follow) and measured the same way: the depth images that come back per second, over all the
cameras and per camera, and their latency from stamp to arrival. The separate nodes come first
(the baseline), then one node with ``cameras: [cam_0, ...]``; the ratio is the second's
throughput over the first's, measured in the same run.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

STARTUP_TIMEOUT = 300.0  # seconds for every camera's first depth image (model load, discovery)
WARMUP_SECONDS = 5.0  # running before counting starts


@dataclass
class CameraCounts:
    """What came back for one camera while measuring."""

    frames: int = 0
    latency_ms: list[float] = field(default_factory=list)


def node_commands(mode: str, cameras: int, model: str, backend: str,
                  device: str) -> list[list[str]]:
    """Return the command lines of the nodes of one configuration ('separate' or 'one_node')."""
    from mono_depth_ros.demo import ros_args

    base = [sys.executable, '-m', 'mono_depth_ros.node']
    parameters = {'model': model, 'backend': backend, 'device': device}
    names = [f'cam_{index}' for index in range(cameras)]
    if mode == 'one_node':
        return [base + ros_args(parameters | {'cameras': '[' + ','.join(names) + ']'})]
    return [base + ros_args(parameters)
            + ['-r', f'__ns:=/{name}', '-r', f'__node:=mono_depth_{name}'] for name in names]


class Cameras:
    """N cameras publishing synthetic views together, and a recorder of their depth images."""

    def __init__(self, cameras: int, size: tuple[int, int], rate: float) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from mono_depth_ros import ros_io
        from mono_depth_ros.data.synthetic import SyntheticScenes
        from rclpy.node import Node
        from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image
        from std_msgs.msg import Header

        height, width = size
        self.node = Node('bench_cameras')
        views = SyntheticScenes(seed=7, count=cameras, width=width, height=height)
        self._frames = [(ros_io.rgb_to_image(view.rgb, Header(frame_id=f'cam_{index}')),
                         ros_io.camera_info_for(view.intrinsics, Header(frame_id=f'cam_{index}')))
                        for index, view in enumerate(views)]
        self._image_pubs = [self.node.create_publisher(Image, f'/cam_{index}/image',
                                                       qos_profile_sensor_data)
                            for index in range(cameras)]
        self._info_pubs = [self.node.create_publisher(CameraInfo, f'/cam_{index}/camera_info',
                                                      qos_profile_sensor_data)
                           for index in range(cameras)]
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        for index in range(cameras):
            self.node.create_subscription(
                Image, f'/cam_{index}/depth/image',
                lambda msg, index=index: self._on_depth(index, msg), reliable)
        self._lock = threading.Lock()
        self.counts = [CameraCounts() for _ in range(cameras)]
        self.frames_per_forward: str | None = None
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        self.node.create_timer(1.0 / rate, self._publish)

    def _publish(self) -> None:
        stamp = self.node.get_clock().now().to_msg()
        for (image, info), image_pub, info_pub in zip(self._frames, self._image_pubs,
                                                      self._info_pubs):
            image.header.stamp = info.header.stamp = stamp
            info_pub.publish(info)
            image_pub.publish(image)

    def _on_depth(self, index: int, msg) -> None:
        now = self.node.get_clock().now().nanoseconds
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        with self._lock:
            self.counts[index].frames += 1
            self.counts[index].latency_ms.append((now - stamp) * 1e-6)

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            values = {item.key: item.value for item in status.values}
            if 'frames per forward (all cameras)' in values:
                self.frames_per_forward = values['frames per forward (all cameras)']

    def reset(self) -> list[CameraCounts]:
        """Start counting again; return what was counted so far."""
        with self._lock:
            counted, self.counts = self.counts, [CameraCounts() for _ in self.counts]
        return counted


def measure(mode: str, cameras: int, args: argparse.Namespace, env: dict[str, str]) -> dict:
    """Run one configuration: start its nodes, wait for every camera, count for --seconds."""
    from mono_depth_ros.cli import parse_size
    from mono_depth_ros.demo import stop_processes
    from rclpy.executors import MultiThreadedExecutor

    feed = Cameras(cameras, parse_size(args.size), args.camera_rate)
    executor = MultiThreadedExecutor(num_threads=2)
    executor.add_node(feed.node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    logs = [tempfile.TemporaryFile() for _ in range(cameras if mode == 'separate' else 1)]
    processes = [subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
                 for command, log in zip(node_commands(mode, cameras, args.model, args.backend,
                                                       args.device), logs)]
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not all(count.frames for count in feed.counts):
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f'{mode}: not every camera got depth within '
                                   f'{STARTUP_TIMEOUT:g} s; the end of the logs of the nodes:\n'
                                   + '\n'.join(_tail(log) for log in logs))
            time.sleep(0.2)
        time.sleep(WARMUP_SECONDS)
        feed.reset()
        started = time.monotonic()
        time.sleep(args.seconds)
        counted = feed.reset()
        elapsed = time.monotonic() - started
    finally:
        stop_processes(processes, timeout=20.0)
        executor.shutdown()
        feed.node.destroy_node()
        for log in logs:
            log.close()
    latencies = [value for count in counted for value in count.latency_ms]
    per_camera = [count.frames / elapsed for count in counted]
    return {'mode': mode, 'processes': len(processes), 'fps_total': sum(per_camera),
            'fps_per_camera': per_camera, 'frames_per_forward': feed.frames_per_forward,
            'latency_p50_ms': float(np.percentile(latencies, 50)) if latencies else None,
            'latency_p95_ms': float(np.percentile(latencies, 95)) if latencies else None}


def _tail(log, lines: int = 5) -> str:
    log.seek(0)
    return '\n'.join(log.read().decode(errors='replace').splitlines()[-lines:])


def run(args: argparse.Namespace) -> dict:
    """Measure N separate nodes, then one node for the N cameras; return both and the ratio."""
    from mono_depth_ros.demo import demo_environment
    import rclpy

    env = demo_environment()
    os.environ.update(env)
    rclpy.init()
    try:
        rows = [measure(mode, args.cameras, args, env) for mode in ('separate', 'one_node')]
    finally:
        rclpy.try_shutdown()
    baseline = rows[0]['fps_total']
    return {'cameras': args.cameras, 'model': args.model, 'backend': args.backend,
            'device': args.device, 'size': args.size, 'camera_rate': args.camera_rate,
            'seconds': args.seconds, 'load_average': list(os.getloadavg()), 'rows': rows,
            'speedup': rows[1]['fps_total'] / baseline if baseline else None}


def format_report(result: dict) -> str:
    """Return the table of :func:`run`."""
    lines = [f'{result["cameras"]} cameras of {result["size"]} at {result["camera_rate"]:g} Hz '
             f'each, model {result["model"]} on {result["backend"]}/{result["device"]}, '
             f'{result["seconds"]:g} s measured per configuration, load average '
             + ' '.join(f'{value:.2f}' for value in result['load_average']),
             f'{"configuration":<34} {"depth/s":>8} {"per camera":>22} {"p50 ms":>8} '
             f'{"p95 ms":>8}']
    names = {'separate': f'{result["cameras"]} nodes, a model each',
             'one_node': '1 node, 1 model for all cameras'}
    for row in result['rows']:
        per_camera = ' '.join(f'{value:.1f}' for value in row['fps_per_camera'])
        p50 = 'nan' if row['latency_p50_ms'] is None else f'{row["latency_p50_ms"]:.0f}'
        p95 = 'nan' if row['latency_p95_ms'] is None else f'{row["latency_p95_ms"]:.0f}'
        lines.append(f'{names[row["mode"]]:<34} {row["fps_total"]:8.2f} {per_camera:>22} '
                     f'{p50:>8} {p95:>8}')
        if row['frames_per_forward'] is not None:
            lines.append(f'  frames per forward of the shared network: '
                         f'{row["frames_per_forward"]}')
    if result['speedup'] is not None:
        lines.append(f'throughput, one node / separate nodes: {result["speedup"]:.2f}x')
    return '\n'.join(lines)


def main(args: argparse.Namespace) -> int:
    """Run ``mono-depth bench --cameras N``; 2 on bad options, 1 when a configuration failed."""
    import json

    if args.model is None or args.cameras < 1 or args.seconds <= 0 or args.camera_rate <= 0:
        print('error: --cameras N needs --model, N >= 1, --seconds > 0 and --camera-rate > 0',
              file=sys.stderr)
        return 2
    try:
        result = run(args)
    except RuntimeError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if args.json else format_report(result))
    return 0
