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
``mono-depth demo``: the node and a camera as separate processes, recorded to a folder.

Starts ``mono_depth_node`` and ``camera_player`` (synthetic scenes with exact ground truth by
default, or a folder of images or a video) over real DDS, records what the node publishes for a
while, and writes to ``--out``, all from one recent frame: the depth image (16-bit PNG in
millimetres and a colour PNG), the cloud as a PLY file, the segmentation, an overview image; and
``summary.json`` with rates, latency and, for synthetic scenes, the accuracy against ground
truth.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import random
import signal
import subprocess
import sys
import threading
import time

import cv2
from mono_depth_ros.cli import parse_size
from mono_depth_ros.models.registry import DEMO_MODEL, get_spec
import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mono-depth demo``."""
    parser.add_argument('--out', type=Path, default=Path('out'), help='output folder')
    parser.add_argument('--duration', type=float, default=20.0,
                        help='seconds to record after the first output (default 20)')
    parser.add_argument('--model', default=DEMO_MODEL,
                        help=f'zoo variant (default {DEMO_MODEL}, the synthetic demo model '
                             'trained on the scenes the demo camera plays; not for real cameras)')
    parser.add_argument('--weights', default='auto', help='checkpoint (default: auto)')
    parser.add_argument('--device', default='auto', help='auto, cpu, cuda or cuda:N')
    parser.add_argument('--source', default='synthetic',
                        help="'synthetic', a folder of images or a video file")
    parser.add_argument('--rate', type=float, default=5.0, help='camera frames per second')
    parser.add_argument('--seed', type=int, default=1234, help='seed of the synthetic scenes')
    parser.add_argument('--size', default=(240, 320), type=parse_size,
                        help='synthetic frame size, WxH (default 320x240)')
    parser.add_argument('--startup-timeout', type=float, default=120.0,
                        help='seconds to wait for the first output')


def demo_environment() -> dict[str, str]:
    """Environment for the demo's processes: DDS kept on this machine, on a domain of its own."""
    from mono_depth_ros.launch_config import share_directory

    env = dict(os.environ)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    env.setdefault('ROS_DOMAIN_ID', str(random.SystemRandom().randint(1, 100)))
    profile = share_directory() / 'config' / 'fastdds_shm.xml'
    if profile.is_file() and 'FASTDDS_DEFAULT_PROFILES_FILE' not in env:
        env['FASTDDS_DEFAULT_PROFILES_FILE'] = str(profile)
        env.setdefault('RMW_FASTRTPS_USE_QOS_FROM_XML', '1')  # the profile's history memory
    return env


def stop_processes(processes: list[subprocess.Popen], timeout: float = 10.0) -> None:
    """Stop processes as Ctrl-C does (SIGINT), and kill those still running after ``timeout``."""
    for process in processes:
        process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()


def interrupt(process: subprocess.Popen, timeout: float = 20.0) -> str:
    """Stop ``process`` as Ctrl-C does, kill it after ``timeout``; return its piped output."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        output, errors = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, errors = process.communicate()
    return (output or '') + (errors or '')


def ros_args(parameters: dict[str, object]) -> list[str]:
    """Return the ``--ros-args -p NAME:=VALUE ...`` of a node's command line."""
    args = ['--ros-args']
    for name, value in parameters.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ['-p', f'{name}:={text}']
    return args


# What the output files are made of, kept per stamp so that they all show one frame.
FRAME_TOPICS = ('image', 'ground_truth/depth', 'ground_truth/labels', 'depth/image',
                'depth/points', 'segmentation/labels')
KEPT_FRAMES = 30  # a few seconds of frames: longer than the node takes to answer one


class Recorder:
    """Subscribes to the node's outputs (and the ground truth) and keeps what it needs."""

    def __init__(self, num_classes: int, max_depth: float) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from mono_depth_ros.evaluate import Scorer
        from rclpy.node import Node
        from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image, PointCloud2

        self.node = Node('mono_depth_demo_recorder')
        reliable = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.lock = threading.Lock()
        # stamp -> topic -> message, oldest stamp first
        self.frames: dict[tuple[int, int], dict[str, object]] = {}
        self.scorer = Scorer(num_classes, max_depth=max_depth)
        self.depth_count = 0
        self.latencies_ms: list[float] = []
        self.diagnostics: dict[str, str] = {}
        self.first_output: float | None = None
        for topic, msg_type, qos in (
                ('image', Image, qos_profile_sensor_data),
                ('ground_truth/depth', Image, qos_profile_sensor_data),
                ('ground_truth/labels', Image, qos_profile_sensor_data),
                ('depth/image', Image, reliable), ('depth/colorized', Image, reliable),
                ('depth/points', PointCloud2, reliable),
                ('segmentation/labels', Image, reliable),
                ('segmentation/colorized', Image, reliable)):
            self.node.create_subscription(msg_type, topic,
                                          lambda msg, t=topic: self._on_message(t, msg), qos)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)

    def _on_message(self, topic: str, msg) -> None:
        from mono_depth_ros import ros_io

        if topic not in FRAME_TOPICS:
            return  # the colour views: subscribed so that the node builds them, as for RViz
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        with self.lock:
            frame = self.frames.setdefault(key, {})
            frame[topic] = msg
            while len(self.frames) > KEPT_FRAMES:
                self.frames.pop(next(iter(self.frames)))
            if topic == 'depth/image':
                now = time.time()
                self.first_output = self.first_output or now
                self.depth_count += 1
                self.latencies_ms.append((now - key[0] - key[1] * 1e-9) * 1e3)
            if topic == 'depth/image' and 'ground_truth/depth' in frame:
                labels = frame.get('segmentation/labels')
                true_labels = frame.get('ground_truth/labels')
                self.scorer.add(ros_io.depth_from_image(msg),
                                ros_io.depth_from_image(frame['ground_truth/depth']),
                                None if labels is None else _mono8(labels),
                                None if true_labels is None else _mono8(true_labels))

    def output_frame(self) -> dict[str, object]:
        """
        Return the messages of the frame to write: the newest depth with the most of its topics.

        Outputs of one stamp arrive one after the other, and the camera runs ahead of the node:
        the newest message of each topic would mix frames.
        """
        with_depth = [frame for frame in reversed(self.frames.values()) if 'depth/image' in frame]
        return max(with_depth, key=len)

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            if status.name.startswith('mono_depth_node'):
                with self.lock:
                    self.diagnostics = {kv.key: kv.value for kv in status.values}


def _mono8(msg) -> np.ndarray:
    return np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)[:, :msg.width]


def write_outputs(recorder: Recorder, out: Path, num_classes: int) -> dict[str, str]:
    """Write the outputs of one recent frame to ``out``; return the files, by what they hold."""
    from mono_depth_ros import colormap, ros_io
    from mono_depth_ros.geometry import write_ply

    out.mkdir(parents=True, exist_ok=True)
    frame = recorder.output_frame()
    files = {}
    depth = ros_io.depth_from_image(frame['depth/image'])
    millimetres = ros_io.metres_to_depth_values(depth, '16UC1')
    cv2.imwrite(str(out / 'depth.png'), millimetres)
    files['depth (16-bit PNG, millimetres, 0 = invalid)'] = 'depth.png'
    panels = []
    if 'image' in frame:
        camera = ros_io.image_to_rgb(frame['image'])
        panels.append(cv2.resize(camera, depth.shape[::-1]))
    depth_colour = colormap.colorize_depth(depth)
    cv2.imwrite(str(out / 'depth_colorized.png'), cv2.cvtColor(depth_colour, cv2.COLOR_RGB2BGR))
    files['depth (colour)'] = 'depth_colorized.png'
    panels.append(depth_colour)
    if 'ground_truth/depth' in frame:
        truth = ros_io.depth_from_image(frame['ground_truth/depth'])
        low, high = np.nanpercentile(depth, [2, 98])
        panels.append(cv2.resize(colormap.colorize_depth(truth, low, high), depth.shape[::-1],
                                 interpolation=cv2.INTER_NEAREST))
    if 'depth/points' in frame:
        points, colours = ros_io.cloud_to_points(frame['depth/points'])
        count = write_ply(out / 'points.ply', points, colours)
        files[f'cloud ({count} points, PLY)'] = 'points.ply'
    if 'segmentation/labels' in frame:
        labels = _mono8(frame['segmentation/labels'])
        colour = colormap.colorize_labels(labels, num_classes)
        cv2.imwrite(str(out / 'segmentation.png'), cv2.cvtColor(colour, cv2.COLOR_RGB2BGR))
        files['segmentation (colour)'] = 'segmentation.png'
        panels.append(cv2.resize(colour, depth.shape[::-1], interpolation=cv2.INTER_NEAREST))
    overview = np.concatenate(panels, axis=1)
    cv2.imwrite(str(out / 'overview.png'), cv2.cvtColor(overview, cv2.COLOR_RGB2BGR))
    files['overview (camera | depth | ground truth | segmentation)'] = 'overview.png'
    return files


def main(args: argparse.Namespace) -> int:
    """Run the demo; exit status 0 when the node produced outputs."""
    import rclpy

    spec = get_spec(args.model)
    height, width = args.size
    env = demo_environment()
    os.environ.update(env)
    node_cmd = [sys.executable, '-m', 'mono_depth_ros.node'] + ros_args({
        'model': args.model, 'weights': args.weights, 'device': args.device,
        'points_rgb': True, 'max_depth': spec.max_depth})
    camera_cmd = [sys.executable, '-m', 'mono_depth_ros.camera_player'] + ros_args({
        'source': args.source, 'rate': args.rate, 'seed': args.seed, 'width': width,
        'height': height})
    rclpy.init()
    recorder = Recorder(len(spec.classes), spec.max_depth)
    processes = [subprocess.Popen(node_cmd, env=env), subprocess.Popen(camera_cmd, env=env)]
    try:
        print(f'mono-depth demo: {args.model} on {args.source} frames at {args.rate:g} Hz, '
              f'ROS_DOMAIN_ID={env["ROS_DOMAIN_ID"]}', flush=True)
        deadline = time.monotonic() + args.startup_timeout
        while recorder.first_output is None and time.monotonic() < deadline:
            if any(p.poll() is not None for p in processes):
                print('mono-depth demo: a process exited early; see its log above',
                      file=sys.stderr)
                return 1
            rclpy.spin_once(recorder.node, timeout_sec=0.1)
        if recorder.first_output is None:
            print(f'mono-depth demo: no depth within {args.startup_timeout:g} s',
                  file=sys.stderr)
            return 1
        end = time.monotonic() + args.duration
        while time.monotonic() < end:
            rclpy.spin_once(recorder.node, timeout_sec=0.1)
        with recorder.lock:
            files = write_outputs(recorder, args.out, len(spec.classes))
            summary = _summary(recorder, args, files)
    finally:
        stop_processes(processes)
        recorder.node.destroy_node()
        rclpy.try_shutdown()
    (args.out / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
    _print_summary(summary)
    return 0


def _summary(recorder: Recorder, args: argparse.Namespace, files: dict[str, str]) -> dict:
    elapsed = time.time() - recorder.first_output
    latencies = np.array(recorder.latencies_ms)
    summary = {
        'model': args.model, 'source': args.source, 'camera_rate_hz': args.rate,
        'seconds_recorded': round(elapsed, 1), 'depth_images_received': recorder.depth_count,
        'output_rate_hz': round(recorder.depth_count / elapsed, 2) if elapsed > 0 else 0.0,
        'latency_ms_p50': round(float(np.percentile(latencies, 50)), 1),
        'latency_ms_p95': round(float(np.percentile(latencies, 95)), 1),
        'node_diagnostics': recorder.diagnostics, 'files': files,
    }
    if recorder.scorer.depth_mean.images:
        accuracy = recorder.scorer.result()
        summary['accuracy_vs_ground_truth'] = {
            key: value if key == 'images' else round(float(value), 4)
            for key, value in accuracy.items()}
    return summary


def _print_summary(summary: dict) -> None:
    print(f"\n{summary['model']}: {summary['depth_images_received']} depth images in "
          f"{summary['seconds_recorded']} s = {summary['output_rate_hz']} Hz "
          f"(camera {summary['camera_rate_hz']:g} Hz); latency stamp->received p50 "
          f"{summary['latency_ms_p50']} ms, p95 {summary['latency_ms_p95']} ms")
    diagnostics = summary['node_diagnostics']
    if diagnostics:
        print(f"node: device {diagnostics.get('device')}, inference p50 "
              f"{diagnostics.get('inference p50 (ms)')} ms, dropped (stale) "
              f"{diagnostics.get('frames dropped (stale)')}, errors {diagnostics.get('errors')}")
    accuracy = summary.get('accuracy_vs_ground_truth')
    if accuracy:
        parts = [f'AbsRel {accuracy["abs_rel"]:.3f}', f'RMSE {accuracy["rmse"]:.2f} m',
                 f'delta1 {accuracy["d1"]:.3f}']
        if 'miou' in accuracy:
            parts.append(f'mIoU {accuracy["miou"]:.3f}')
        print(f'accuracy vs ground truth over {accuracy["images"]} frames: ' + ', '.join(parts))
    for what, name in summary['files'].items():
        print(f'  {name:<22} {what}')
