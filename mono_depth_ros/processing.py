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
The per-frame path of the depth node: messages in, messages out. No Node in here.

:class:`FrameProcessor` turns one camera image message, with the camera_info of its stamp and the
latest sparse depth, into the output messages that are wanted. The plain node, the lifecycle node
and offline bag processing all call it, so a recorded bag and a live topic give identical outputs.

A frame goes through two stages, so that a node can overlap them: :meth:`FrameProcessor.infer`
(decode, pair the intrinsics, take the sparse depth, run the network) and
:meth:`FrameProcessor.build` (each wanted output message). Bad input raises a ``ValueError``
subclass whose message names the problem; the caller logs it, counts it under
:func:`error_reason` and goes on with the next frame.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
import threading
from typing import Callable, Collection, Iterator

import cv2
from mono_depth_ros import colormap, compressed_depth, filters, geometry, ros_io, scale
from mono_depth_ros.estimator import DepthEstimator, DepthResult
from mono_depth_ros.scan import DEFAULT_RANGE_MAX, DEFAULT_RANGE_MIN, depth_to_scan
import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, LaserScan, PointCloud2

# Output key -> (topic relative to the node, message type). Every output carries the input's
# stamp and frame_id, but the scan: its frame is FrameSettings.scan_frame_id.
OUTPUTS: dict[str, tuple[str, type]] = {
    'depth': ('depth/image', Image),
    'compressed_depth': ('depth/image/compressedDepth', CompressedImage),
    'camera_info': ('depth/camera_info', CameraInfo),
    'confidence': ('depth/confidence', Image),
    'points': ('depth/points', PointCloud2),
    'scan': ('depth/scan', LaserScan),
    'depth_colorized': ('depth/colorized', Image),
    'labels': ('segmentation/labels', Image),
    'labels_colorized': ('segmentation/colorized', Image),
}
SEGMENTATION_OUTPUTS = ('labels', 'labels_colorized')
# 4K UHD: larger frames are refused from their header, before any decoding (decompression bombs).
DEFAULT_MAX_INPUT_PIXELS = 3840 * 2160
# Distortion models that describe a pinhole camera when all their coefficients are zero.
PINHOLE_MODELS = ('', 'none', 'plumb_bob', 'rational_polynomial')
# Seconds an image waits for the camera_info of its stamp, which may arrive just after it (live
# topics; a bag is read that far ahead of each image).
CAMERA_INFO_WAIT = 0.1


@dataclass(frozen=True)
class FrameSettings:
    """The values of the node's parameters that the per-frame path reads (they may change)."""

    depth_encoding: str = '32FC1'
    publish_points: bool = True
    points_rgb: bool = False
    points_decimation: int = 1
    min_depth: float = 0.0
    max_depth: float = 100.0
    camera_info_tolerance: float = 0.001
    max_input_pixels: int = DEFAULT_MAX_INPUT_PIXELS
    sparse_future_tolerance: float = 0.5
    points_edge_filter: bool = False
    points_edge_threshold: float = filters.EDGE_THRESHOLD
    points_edge_radius: int = filters.EDGE_RADIUS
    depth_edge_filter: bool = False
    points_min_confidence: float = 0.0
    temporal_filter: str = 'off'
    temporal_alpha: float = filters.TEMPORAL_ALPHA
    temporal_delta: float = filters.TEMPORAL_DELTA
    temporal_reset: float = filters.TEMPORAL_RESET
    compressed_depth_max: float = compressed_depth.DEFAULT_DEPTH_MAX
    compressed_depth_quantization: float = compressed_depth.DEFAULT_QUANTIZATION
    compressed_depth_png_level: int = compressed_depth.DEFAULT_PNG_LEVEL
    scan_height: int = 1
    scan_range_min: float = DEFAULT_RANGE_MIN
    scan_range_max: float = DEFAULT_RANGE_MAX
    scan_time: float = 0.033
    scan_frame_id: str = 'camera_depth_frame'


@dataclass(frozen=True)
class Notice:
    """Something about a frame the caller should log (throttled per ``key``) and count."""

    key: str
    message: str


@dataclass
class Inference:
    """A frame after the network, before its output messages are built."""

    header: object
    rgb: np.ndarray
    result: DepthResult
    notices: list[Notice] = field(default_factory=list)
    sparse_depth_error: ValueError | None = None


@dataclass
class FrameOutputs:
    """
    The output messages of one frame, in publishing order, keyed as :data:`OUTPUTS`.

    ``error``: an input problem found after some outputs could be built (no camera_info: the
    depth image is published, the cloud and depth/camera_info are not); the caller reports it.
    ``waiting_for_scale``: a relative model has no scale yet, so nothing metric was built.
    ``empty_depth``: the model's depth has not a single valid pixel.
    """

    messages: dict[str, object] = field(default_factory=dict)
    error: ValueError | None = None
    waiting_for_scale: bool = False
    empty_depth: bool = False
    sink: Callable[[str, object], None] | None = None

    def add(self, key: str, message) -> None:
        """Keep ``message`` as output ``key`` and hand it to the sink, before the next is built."""
        self.messages[key] = message
        if self.sink is not None:
            self.sink(key, message)


@dataclass
class FilteredDepth:
    """A frame's depth after the filters: for the depth image, for the cloud and scan."""

    image: np.ndarray
    cloud: np.ndarray
    confidence: np.ndarray | None


class SparseDepthError(ValueError):
    """A sparse depth message the scale policy must not use."""


def error_reason(error: Exception) -> str:
    """Return the diagnostics counter of a rejected input: the class of its error."""
    return type(error).__name__


def stamp_seconds(stamp) -> float:
    """Return a builtin_interfaces/Time as seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


class CameraInfoBuffer:
    """
    The recent camera_info messages of one camera, paired with images by stamp.

    The image and camera_info topics arrive independently, so a camera_info may come just after
    its image: :meth:`pair` waits up to ``wait`` seconds for it (live topics), unless the stamps
    of this camera did not match last time. Thread-safe.
    """

    def __init__(self, history: int = 30, wait: float = 0.0) -> None:
        self._infos: deque[CameraInfo] = deque(maxlen=history)
        self._arrived = threading.Condition()
        self._wait = wait
        self._stamps_match = True

    def add(self, msg: CameraInfo) -> None:
        """Keep a camera_info message."""
        with self._arrived:
            self._infos.append(msg)
            self._arrived.notify_all()

    def pair(self, stamp: float, tolerance: float) -> tuple[CameraInfo | None, float]:
        """
        Return the camera_info stamped within ``tolerance`` of ``stamp``, else the latest one.

        Also returns the stamp gap of the nearest camera_info (inf when there is none): the
        returned one is paired when that gap is within ``tolerance``.
        """
        def nearest() -> tuple[CameraInfo | None, float]:
            if not self._infos:
                return None, float('inf')
            best = min(self._infos, key=lambda info: abs(stamp_seconds(info.header.stamp) - stamp))
            return best, abs(stamp_seconds(best.header.stamp) - stamp)

        with self._arrived:
            self._arrived.wait_for(lambda: nearest()[1] <= tolerance,
                                   self._wait if self._stamps_match else 0.0)
            best, gap = nearest()
            latest = self._infos[-1] if self._infos else None
        self._stamps_match = gap <= tolerance
        return (best if gap <= tolerance else latest), gap


class FrameProcessor:
    """
    Messages in, messages out, for one camera and one estimator.

    ``camera_info_topic`` names the camera_info input in error messages; ``lidar_extrinsic`` is
    the 4x4 pose of the LiDAR in the camera optical frame (for sparse depth from points).
    """

    def __init__(self, estimator: DepthEstimator, lidar_extrinsic: np.ndarray | None = None,
                 camera_info_topic: str = 'camera_info', camera_info_wait: float = 0.0) -> None:
        self.estimator = estimator
        self.lidar_extrinsic = lidar_extrinsic if lidar_extrinsic is not None else np.eye(4)
        self.camera_info_topic = camera_info_topic
        self.camera_infos = CameraInfoBuffer(wait=camera_info_wait)
        self._sparse_msg: Image | PointCloud2 | None = None
        self._noticed: set[Notice] = set()  # camera_info problems are said once
        self._cloud_buffers = ros_io.MessageBuffers()
        self._edge_filter = filters.EdgeFilter()
        self.temporal: filters.TemporalFilter | None = None
        self._temporal_settings: tuple[float, float, float] | None = None
        self._cleaned: np.ndarray | None = None
        self._confidence: np.ndarray | None = None

    @property
    def has_segmentation(self) -> bool:
        """Whether the model also gives class labels (the segmentation outputs)."""
        return self.estimator.spec.has_segmentation

    def add_camera_info(self, msg: CameraInfo) -> None:
        """Keep a camera_info for pairing with the images of its stamp."""
        self.camera_infos.add(msg)

    def add_sparse_depth(self, msg: Image | PointCloud2) -> None:
        """Keep the latest sparse metric depth; the next frame hands it to the scale policy."""
        self._sparse_msg = msg

    def outputs_to_build(self, requested: Collection[str], settings: FrameSettings) -> set[str]:
        """Return the requested outputs this model and these settings can give."""
        wanted = set(requested) & set(OUTPUTS)
        if not settings.publish_points:
            wanted.discard('points')
        if not self.has_segmentation:
            wanted.difference_update(SEGMENTATION_OUTPUTS)
        return wanted

    def process(self, msg: Image | CompressedImage, requested: Collection[str],
                settings: FrameSettings) -> FrameOutputs:
        """Both stages for one frame (offline processing)."""
        return self.build(self.infer(msg, settings), self.outputs_to_build(requested, settings),
                          settings)

    # -- stage one: decode, intrinsics, sparse depth, network -------------------------------------

    def infer(self, msg: Image | CompressedImage, settings: FrameSettings) -> Inference:
        """
        Decode the image, pair its intrinsics and run the network.

        An image larger than ``settings.max_input_pixels`` is refused from its header.

        Raises
        ------
            ros_io.ImageError, ros_io.CameraInfoError: the frame cannot be used.

        """
        if isinstance(msg, CompressedImage):
            rgb = ros_io.compressed_to_rgb(msg, settings.max_input_pixels)
        else:
            rgb = ros_io.image_to_rgb(msg, settings.max_input_pixels)
        height, width = rgb.shape[:2]
        notices: list[Notice] = []
        intrinsics = self._intrinsics_for(msg, width, height, settings, notices)
        stamp = stamp_seconds(msg.header.stamp)
        sparse_depth_error = self._take_sparse_depth(intrinsics, stamp, settings)
        result = self.estimator.estimate(rgb, intrinsics, stamp)
        return Inference(header=msg.header, rgb=rgb, result=result, notices=notices,
                         sparse_depth_error=sparse_depth_error)

    def _intrinsics_for(self, msg, width: int, height: int, settings: FrameSettings,
                        notices: list[Notice]) -> geometry.Intrinsics | None:
        """Pair the image with the camera_info of its stamp, else the latest one (noticed)."""
        stamp = stamp_seconds(msg.header.stamp)
        info, gap = self.camera_infos.pair(stamp, settings.camera_info_tolerance)
        if info is None:
            return None
        if gap > settings.camera_info_tolerance:
            notices.append(Notice('camera_info_unpaired', (
                f'no camera_info with stamp {stamp:.6f} (nearest {gap * 1e3:.1f} ms away); '
                f'using the latest, stamped {stamp_seconds(info.header.stamp):.6f}')))
        intrinsics = ros_io.intrinsics_from_camera_info(info)
        ros_io.check_camera_info_matches(intrinsics, width, height)
        for notice in self._camera_info_problems(info, msg.header.frame_id):
            if notice not in self._noticed:
                self._noticed.add(notice)
                notices.append(notice)
        return intrinsics

    def _camera_info_problems(self, info: CameraInfo, frame_id: str) -> Iterator[Notice]:
        """Yield what makes a camera_info only approximately right for its image."""
        coefficients = [float(c) for c in info.d]
        if any(coefficients) or info.distortion_model not in PINHOLE_MODELS:
            yield Notice('camera_info_distortion', (
                f'camera_info on {self.camera_info_topic} has distortion model '
                f'{info.distortion_model!r} with coefficients {coefficients}: the image is not '
                'rectified, so depth and cloud geometry will be off. Subscribe the node to the '
                "rectified image (image_proc's image_rect) and its camera_info, as "
                'depth_image_proc expects'))
        if info.header.frame_id != frame_id:
            yield Notice('camera_info_frame_id', (
                f'camera_info on {self.camera_info_topic} has frame_id '
                f'{info.header.frame_id!r}, the image {frame_id!r}: the outputs use the '
                "image's frame_id; check that both come from the same camera"))

    def _take_sparse_depth(self, intrinsics: geometry.Intrinsics | None, frame_stamp: float,
                           settings: FrameSettings) -> ValueError | None:
        """
        Hand the latest sparse depth message, if a new one came, to the scale policy.

        Returns why it was rejected, or None. Sparse depth stamped later than the frame by more
        than ``settings.sparse_future_tolerance`` comes from a clock ahead of the camera's: kept,
        it would look fresh for ever and the scale would never time out.
        """
        msg, self._sparse_msg = self._sparse_msg, None
        if msg is None:
            return None
        try:
            lead = stamp_seconds(msg.header.stamp) - frame_stamp
            if lead > settings.sparse_future_tolerance:
                raise SparseDepthError(
                    f'stamped {lead:.3f} s after the frame it would scale, more than '
                    f'scale.future_tolerance {settings.sparse_future_tolerance:g} s: its clock '
                    "is ahead of the camera's")
            if isinstance(msg, Image):
                sparse = ros_io.depth_from_image(msg)
            elif intrinsics is None:
                raise ros_io.CameraInfoError('LiDAR points need the camera_info to be projected')
            else:
                points, _ = ros_io.cloud_to_points(msg)
                sparse = scale.sparse_depth_from_lidar(points.reshape(-1, 3),
                                                       self.lidar_extrinsic, intrinsics)
        except ValueError as error:  # SparseDepthError, ImageError, CloudError, CameraInfoError
            stamp = msg.header.stamp
            return type(error)(f'dropped sparse depth {stamp.sec}.{stamp.nanosec:09d}: {error}')
        self.estimator.observe_sparse_depth(sparse, stamp_seconds(msg.header.stamp))
        return None

    # -- stage two: output messages -------------------------------------------------------------

    def build(self, inference: Inference, wanted: Collection[str], settings: FrameSettings,
              sink: Callable[[str, object], None] | None = None) -> FrameOutputs:
        """
        Build the ``wanted`` outputs of an inferred frame.

        ``wanted``: keys of :data:`OUTPUTS`, as :meth:`outputs_to_build` returns them. ``sink``
        (a publisher) gets each message as soon as it is built: the depth image and its
        camera_info leave before the cloud and the colour views are made.
        """
        result, header = inference.result, inference.header
        outputs = FrameOutputs(sink=sink)
        if result.labels is not None:
            if 'labels' in wanted:
                outputs.add('labels', ros_io.labels_to_image(result.labels, header))
            if 'labels_colorized' in wanted:
                colour = colormap.colorize_labels(result.labels,
                                                  len(self.estimator.spec.classes))
                outputs.add('labels_colorized', ros_io.rgb_to_image(colour, header))
        if result.depth is None:
            outputs.waiting_for_scale = True
            return outputs
        # NaN is the estimator's only invalid depth, and np.fmax skips it unless all are NaN.
        outputs.empty_depth = bool(np.isnan(np.fmax.reduce(result.depth, axis=None)))
        depth = self._filtered(result.depth, inference.rgb, wanted, settings)
        if 'depth' in wanted:
            outputs.add('depth', ros_io.depth_to_image(depth.image, header,
                                                       settings.depth_encoding))
        if 'camera_info' in wanted and result.intrinsics is not None:
            outputs.add('camera_info', ros_io.camera_info_for(result.intrinsics, header))
        if 'compressed_depth' in wanted:
            outputs.add('compressed_depth', ros_io.depth_to_compressed_depth(
                depth.image, header, settings.depth_encoding, settings.compressed_depth_max,
                settings.compressed_depth_quantization, settings.compressed_depth_png_level))
        # Outputs made from the depth where it already is: on the GPU unless a filter ran.
        device_depth = result.device_depth if depth.image is result.depth else None
        if 'depth_colorized' in wanted:
            if device_depth is None:  # coloured straight into the message
                msg, pixels = ros_io.image_message(header, 'rgb8', depth.image.shape + (3,),
                                                   np.uint8)
                colormap.colorize_depth(depth.image, out=pixels)
            else:
                msg = ros_io.rgb_to_image(
                    colormap.colorize_depth_torch(device_depth).cpu().numpy(), header)
            outputs.add('depth_colorized', msg)
        if 'confidence' in wanted:
            outputs.add('confidence', ros_io.confidence_to_image(depth.confidence, header))
        if result.intrinsics is None:
            outputs.error = ros_io.CameraInfoError(
                f'no camera_info received on {self.camera_info_topic}: depth/camera_info, '
                'depth/points and depth/scan need the intrinsics')
            return outputs
        if 'points' in wanted:
            if depth.cloud is result.depth and device_depth is not None \
                    and not settings.points_rgb:
                outputs.add('points', _device_cloud(device_depth, result.intrinsics, header,
                                                    settings, self._cloud_buffers))
            else:
                outputs.add('points', _cloud(depth.cloud, inference.rgb, result.intrinsics,
                                             header, settings, self._cloud_buffers))
        if 'scan' in wanted:
            scan = depth_to_scan(depth.cloud, result.intrinsics, settings.scan_height,
                                 settings.scan_range_min, settings.scan_range_max)
            outputs.add('scan', ros_io.scan_to_message(scan, header, settings.scan_frame_id,
                                                       settings.scan_time))
        return outputs

    def _filtered(self, depth: np.ndarray, rgb: np.ndarray, wanted: Collection[str],
                  settings: FrameSettings) -> FilteredDepth:
        """
        Apply the temporal and edge filters the settings ask for; rate each pixel's confidence.

        The temporal filter smooths every output; flying pixels leave the cloud and the scan
        (``points_edge_filter``), or every output (``depth_edge_filter``); points below
        ``points_min_confidence`` leave the cloud and the scan. The confidence is computed only
        when it is published or used.
        """
        disagreement = None
        if settings.temporal_filter == 'ema':
            temporal_settings = (settings.temporal_alpha, settings.temporal_delta,
                                 settings.temporal_reset)
            if self.temporal is None or self._temporal_settings != temporal_settings:
                self.temporal = filters.TemporalFilter(*temporal_settings)
                self._temporal_settings = temporal_settings
            depth = self.temporal.update(depth, rgb)
            disagreement = self.temporal.disagreement
        else:
            self.temporal = None
        edge = self._edge_filter
        if (edge.threshold, edge.radius) != (settings.points_edge_threshold,
                                             settings.points_edge_radius):
            edge = self._edge_filter = filters.EdgeFilter(settings.points_edge_threshold,
                                                          settings.points_edge_radius)
        rated = 'confidence' in wanted or settings.points_min_confidence > 0.0
        span = edge.span(depth) if rated else None
        # The cleaned depth and the confidence live only while this frame's messages are built
        # (they copy them), so one buffer each serves every frame.
        if self._cleaned is None or self._cleaned.shape != depth.shape:
            self._cleaned = np.empty_like(depth)
            self._confidence = np.empty_like(depth)
        image = cloud = depth
        if settings.depth_edge_filter or settings.points_edge_filter:
            cloud = edge.apply(depth, out=self._cleaned, span=span)
            if settings.depth_edge_filter:
                image = cloud
        confidence = None
        if rated:
            confidence = filters.confidence(image, span=span, disagreement=disagreement,
                                            fit_error=self.estimator.scale_policy.fit_error,
                                            out=self._confidence)
            if settings.points_min_confidence > 0.0:
                if image is self._cleaned:
                    image = image.copy()  # the depth image keeps the points of low confidence
                cloud = filters.invalidate(
                    cloud, confidence < np.float32(settings.points_min_confidence),
                    out=self._cleaned)
        return FilteredDepth(image=image, cloud=cloud, confidence=confidence)


def _device_cloud(depth, intrinsics: geometry.Intrinsics, header, settings: FrameSettings,
                  buffers: ros_io.MessageBuffers) -> PointCloud2:
    """Build the cloud where ``depth`` (a tensor) is; one copy of its records into the message."""
    import torch

    records = geometry.point_records_torch(depth, intrinsics, settings.points_decimation,
                                           settings.min_depth, settings.max_depth)
    msg, buffer = ros_io.cloud_message(header, records.shape[0], records.shape[1], False,
                                       buffers)
    torch.from_numpy(buffer).copy_(records)
    return msg


def _cloud(depth: np.ndarray, rgb: np.ndarray, intrinsics: geometry.Intrinsics, header,
           settings: FrameSettings, buffers: ros_io.MessageBuffers) -> PointCloud2:
    colours = None
    if settings.points_rgb:
        colours = rgb
        if rgb.shape[:2] != depth.shape:
            colours = cv2.resize(rgb, (depth.shape[1], depth.shape[0]),
                                 interpolation=cv2.INTER_AREA)
    return ros_io.depth_to_cloud(depth, intrinsics, header, settings.points_decimation,
                                 settings.min_depth, settings.max_depth, colours, buffers)
