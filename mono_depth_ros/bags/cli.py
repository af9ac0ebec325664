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

"""``mono-depth infer`` on bags: the options of bags and the adapter to :mod:`.fleet`."""
from __future__ import annotations

import argparse
from pathlib import Path
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options that apply to bag inputs."""
    from mono_depth_ros.bags.run import DEFAULT_OUTPUTS
    from mono_depth_ros.processing import OUTPUTS

    group = parser.add_argument_group(
        'bags', 'inputs that are rosbag2 folders (mcap or sqlite3), .mcap, .db3 or ROS 1 .bag '
        'files, or folders of them: each becomes a rosbag2 output bag, --out itself for one bag, '
        '--out/<bag name> for several')
    group.add_argument('--image-topic', metavar='TOPIC',
                       help='image topic (sensor_msgs/Image or CompressedImage); default: the '
                            "bag's only one")
    group.add_argument('--camera-info-topic', metavar='TOPIC',
                       help="default: camera_info beside the image topic, or the bag's only "
                            'CameraInfo topic')
    group.add_argument('--namespace', metavar='NS',
                       help="namespace of the output topics; default: the camera's "
                            '(/cam/image_raw gives /cam/depth/image)')
    group.add_argument('--outputs', nargs='+', choices=tuple(OUTPUTS), default=DEFAULT_OUTPUTS,
                       metavar='OUTPUT',
                       help='what to write, as the node publishes it: ' + ', '.join(
                           f'{key} ({topic})' for key, (topic, _) in OUTPUTS.items())
                       + f'; default: {" ".join(DEFAULT_OUTPUTS)} (labels for segmentation '
                       'models)')
    group.add_argument('--keep', nargs='+', metavar='TOPIC',
                       help="input topics copied to the output: topic names, 'all' or 'none'; "
                            'default: the image and its camera_info')
    group.add_argument('-p', '--param', action='append', default=[], metavar='NAME:=VALUE',
                       help="a parameter of the node's per-frame path, as the node takes it "
                            '(the README lists them), e.g. depth_encoding:=16UC1 '
                            'points_decimation:=4 points_rgb:=true; repeat for several')
    group.add_argument('--start', type=float, metavar='S',
                       help="seconds after the bag's first message to start at")
    group.add_argument('--end', type=float, metavar='S',
                       help="seconds after the bag's first message to stop at")
    group.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap',
                       help='storage of the output bag')
    group.add_argument('--checkpoint-every', type=int, default=100, metavar='N',
                       help='frames per output file; a crash loses at most this much work, and '
                            'rerunning the same command resumes')
    group.add_argument('--no-progress', action='store_true', help='no progress line')
    group.add_argument('--ray', nargs='?', const='local', metavar='ADDRESS',
                       help='one Ray task per bag: on a Ray instance started for this run, or on '
                            "the cluster at ADDRESS ('auto' for the one started on this machine, "
                            'host:6379, ray://host:10001); needs pip install '
                            'mono_depth_ros[fleet]')


def options_from(args: argparse.Namespace):
    """Return the BagOptions the command line asks for."""
    from mono_depth_ros.bags.run import BagOptions, frame_settings

    keep = None if args.keep is None else tuple(args.keep)
    if keep == ('none',):
        keep = ()
    return BagOptions(
        model=args.model, weights=None if args.weights == 'none' else args.weights,
        device=args.device, precision=args.precision, backend=args.backend,
        model_file=args.model_file, input_size=args.input_size,
        channels_last=True if args.channels_last is None else args.channels_last,
        output_size=args.output_size, scale_policy=args.scale_policy, scale=args.scale,
        shift=args.shift, camera_height=args.camera_height, camera_pitch_deg=args.camera_pitch,
        image_topic=args.image_topic, camera_info_topic=args.camera_info_topic,
        namespace=args.namespace, keep=keep, outputs=tuple(dict.fromkeys(args.outputs)),
        settings=frame_settings(args.param),
        every=args.every, start=args.start, end=args.end, storage=args.storage,
        checkpoint_every=args.checkpoint_every)


def main(args: argparse.Namespace, bags: list[Path]) -> int:
    """Process ``bags``; print a line per bag and a summary; 0 when every bag is complete."""
    from mono_depth_ros.bags import fleet
    from mono_depth_ros.bags.run import BagOptionError

    for option in ('npy', 'ply', 'camera_info', 'fov', 'max_frames'):
        if getattr(args, option):
            name = '--' + option.replace('_', '-')
            raise BagOptionError(f'{name} applies to images and videos; bags take their '
                                 'intrinsics from their camera_info and --start/--end to '
                                 'limit them')
    options = options_from(args)
    options.check()
    outs = fleet.output_folders(bags, args.out)
    started = time.monotonic()
    if args.ray is None:
        results = fleet.run_here(bags, outs, options, show_progress=not args.no_progress)
    else:
        address = None if args.ray == 'local' else args.ray
        results = fleet.run_on_ray(bags, outs, options, address)
    print(fleet.summary(results, time.monotonic() - started))
    return 0 if all(result.ok for result in results) else 1
