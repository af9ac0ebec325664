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
Synthetic scenes with exact ground truth: a ray-cast world of walls, boxes, spheres, cylinders.

A pinhole camera stands over a ground plane, a few axis-aligned walls close part of the world (some
scenes are open to the sky), and primitives rest on the ground 1 to 15 m away. Every surface has
its own procedural texture (checker, stripes, cell noise or value noise, with random colours) and
is lit by a random sun (Lambertian, with cast shadows) plus ambient light and a little haze, so
texture, occlusion, perspective, shading and shadows are all depth cues. Depth, labels and the
camera pose are exact: rays are intersected analytically, one numpy pass per surface.

World frame: ``y`` points up from the ground plane ``y = 0``; ``x`` and ``z`` span the ground
(``z`` forward and ``x`` right of a camera with zero yaw). The camera sits at ``(0, h, 0)``.

:class:`SyntheticScenes` is a deterministic sequence: scene ``i`` of seed ``s`` is always the same.
:class:`SyntheticTrajectory` renders one of those scenes from a camera moving smoothly through it,
with the exact depth and pose of every frame (for temporal measurements).
"""
from __future__ import annotations

from collections.abc import Sequence
import dataclasses
from dataclasses import dataclass
import math

import cv2
from mono_depth_ros.data import Sample
from mono_depth_ros.geometry import Intrinsics
import numpy as np

# The label ids; the models trained on these scenes (joint-mnv3-synthetic, unet-ffm-mnv3) predict
# logits in this order.
CLASSES = ('sky', 'ground', 'wall', 'box', 'sphere', 'cylinder')
SKY, GROUND, WALL, BOX, SPHERE, CYLINDER = range(len(CLASSES))
MAX_DEPTH = 20.0
PATTERNS = ('checker', 'stripes', 'noise', 'value')

_T_MIN = 1e-4  # smallest accepted ray parameter, keeps shadow rays off their own surface
_SHADOW_OFFSET = 1e-3


def _hash01(cells: np.ndarray, salt: int) -> np.ndarray:
    """Return a pseudo-random value in [0, 1) per integer lattice cell ``(..., 3)``."""
    c = cells if cells.dtype == np.int64 else cells.astype(np.int64)
    h = (c[..., 0] * 73856093) ^ (c[..., 1] * 19349663) ^ (c[..., 2] * 83492791) ^ salt
    h = h.view(np.uint64)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(29)
    return (h >> np.uint64(40)).astype(np.float64) / float(1 << 24)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot product of ``(N, 3)`` arrays (either may be a single ``(3,)`` vector)."""
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def _value_noise(points: np.ndarray, salt: int) -> np.ndarray:
    """Smooth lattice noise in [0, 1): trilinear interpolation of hashed corners."""
    floor = np.floor(points)
    f = points - floor
    f = f * f * (3.0 - 2.0 * f)
    cell = floor.astype(np.int64)
    weights = [(1.0 - f[..., axis], f[..., axis]) for axis in range(3)]
    out = np.zeros(points.shape[:-1])
    for i, j, k in np.ndindex(2, 2, 2):
        weight = weights[0][i] * weights[1][j] * weights[2][k]
        out += weight * _hash01(cell + np.array([i, j, k]), salt)
    return out


def _fbm(points: np.ndarray, salt: int, octaves: int = 3) -> np.ndarray:
    """Fractal sum of value noise, normalised to [0, 1)."""
    total = np.zeros(points.shape[:-1])
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        total += amplitude * _value_noise(points * (2.0 ** octave), salt + octave)
        norm += amplitude
        amplitude *= 0.5
    return total / norm


@dataclass(frozen=True)
class Material:
    """
    A procedural solid texture: two colours mixed by a pattern of a given ``scale`` (metres).

    Patterns: ``checker`` (3D checkerboard), ``stripes`` (soft stripes along ``direction``),
    ``noise`` (a random shade per cubic cell) and ``value`` (smooth fractal value noise). Colours
    are linear RGB in [0, 1].
    """

    pattern: str
    scale: float
    color_a: tuple[float, float, float]
    color_b: tuple[float, float, float]
    salt: int = 0
    offset: tuple[float, float, float] = (0.37, 0.61, 0.19)
    direction: tuple[float, float, float] = (1.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        if self.pattern not in PATTERNS:
            raise ValueError(f'unknown pattern {self.pattern!r}; use one of {PATTERNS}')

    def albedo(self, points: np.ndarray, footprint: np.ndarray) -> np.ndarray:
        """
        Return the ``(N, 3)`` colour at local ``points`` seen with pixel ``footprint`` metres.

        The pattern's contrast fades as a pixel covers more of its period, a cheap stand-in for
        texture filtering that keeps distant surfaces free of moire.
        """
        p = points / self.scale + np.asarray(self.offset)
        if self.pattern == 'checker':
            s = np.floor(p).sum(axis=-1) % 2.0
        elif self.pattern == 'stripes':
            s = 0.5 + 0.5 * np.sin(2.0 * math.pi * (p @ np.asarray(self.direction)))
        elif self.pattern == 'noise':
            s = _hash01(np.floor(p), self.salt)
        else:
            s = _fbm(p, self.salt)
        contrast = np.clip(1.0 - footprint / (0.7 * self.scale), 0.0, 1.0)
        s = 0.5 + (s - 0.5) * contrast
        a, b = np.asarray(self.color_a), np.asarray(self.color_b)
        return a + s[:, None] * (b - a)


@dataclass(frozen=True)
class Ground:
    """The ground plane ``y = 0``, seen from above."""

    material: Material
    label: int = GROUND

    def intersect(self, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        """Return the ray parameter of the hit per ray, ``inf`` where the ray misses."""
        with np.errstate(divide='ignore', invalid='ignore'):
            t = -origins[..., 1] / dirs[:, 1]
        return np.where((dirs[:, 1] < 0.0) & (t > _T_MIN), t, np.inf)

    def normal(self, points: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        """Return the unit normals at ``points`` (hit by ``dirs``)."""
        return np.broadcast_to(np.array([0.0, 1.0, 0.0]), points.shape)

    def local(self, points: np.ndarray) -> np.ndarray:
        """Return the texture coordinates of ``points``."""
        return points


@dataclass(frozen=True)
class Wall:
    """
    A vertical rectangle on the plane ``x = offset`` (``axis`` 0) or ``z = offset`` (axis 2).

    It spans ``span`` along the other horizontal axis and ``[0, height]`` vertically, and is seen
    from both sides.
    """

    axis: int
    offset: float
    span: tuple[float, float]
    height: float
    material: Material
    label: int = WALL

    def intersect(self, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        """Return the ray parameter of the hit per ray, ``inf`` where the ray misses."""
        other = 2 - self.axis
        with np.errstate(divide='ignore', invalid='ignore'):
            t = (self.offset - origins[..., self.axis]) / dirs[:, self.axis]
            y = origins[..., 1] + t * dirs[:, 1]
            w = origins[..., other] + t * dirs[:, other]
            ok = ((t > _T_MIN) & (y >= 0.0) & (y <= self.height)
                  & (w >= self.span[0]) & (w <= self.span[1]))
        return np.where(ok, t, np.inf)

    def normal(self, points: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        """Return the unit normals at ``points``, facing the rays ``dirs``."""
        n = np.zeros_like(points)
        n[:, self.axis] = -np.sign(dirs[:, self.axis])
        return n

    def local(self, points: np.ndarray) -> np.ndarray:
        """Return the texture coordinates of ``points``."""
        return points


@dataclass(frozen=True)
class Box:
    """
    A box resting on the ground, centred on ``(x, z)``, rotated by ``yaw`` about ``y``.

    ``half`` holds its half extents along its own x, y and z axes.
    """

    x: float
    z: float
    half: tuple[float, float, float]
    yaw: float
    material: Material
    label: int = BOX

    def _rotation(self) -> np.ndarray:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])

    def local(self, points: np.ndarray) -> np.ndarray:
        """Return ``points`` in the box's frame (origin at its centre)."""
        centre = np.array([self.x, self.half[1], self.z])
        return (points - centre) @ self._rotation()

    def intersect(self, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        """Return the ray parameter of the entry hit per ray, ``inf`` where the ray misses."""
        o = self.local(origins)
        d = dirs @ self._rotation()
        half = np.asarray(self.half)
        with np.errstate(divide='ignore', invalid='ignore'):
            t1 = (-half - o) / d
            t2 = (half - o) / d
        near, far = np.minimum(t1, t2), np.maximum(t1, t2)
        # fmax/fmin skip the NaN of a ray parallel to a slab that starts on its boundary.
        t_near = np.fmax(np.fmax(near[:, 0], near[:, 1]), near[:, 2])
        t_far = np.fmin(np.fmin(far[:, 0], far[:, 1]), far[:, 2])
        ok = (t_near <= t_far) & (t_near > _T_MIN)
        return np.where(ok, t_near, np.inf)

    def normal(self, points: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        """Return the unit outward normals at ``points`` on the box's surface."""
        q = self.local(points) / np.asarray(self.half)
        axis = np.argmax(np.abs(q), axis=-1)
        n = np.zeros_like(points)
        rows = np.arange(len(points))
        n[rows, axis] = np.sign(q[rows, axis])
        return n @ self._rotation().T


@dataclass(frozen=True)
class Sphere:
    """A sphere of ``radius`` resting on the ground at ``(x, z)``."""

    x: float
    z: float
    radius: float
    material: Material
    label: int = SPHERE

    def local(self, points: np.ndarray) -> np.ndarray:
        """Return ``points`` relative to the sphere's centre."""
        return points - np.array([self.x, self.radius, self.z])

    def intersect(self, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        """Return the ray parameter of the entry hit per ray, ``inf`` where the ray misses."""
        oc = self.local(origins)
        a = _dot(dirs, dirs)
        b = _dot(oc, dirs)
        c = _dot(oc, oc) - self.radius ** 2
        disc = b * b - a * c
        with np.errstate(invalid='ignore'):
            t = (-b - np.sqrt(disc)) / a
        return np.where((disc >= 0.0) & (t > _T_MIN), t, np.inf)

    def normal(self, points: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        """Return the unit outward normals at ``points`` on the sphere."""
        return self.local(points) / self.radius


@dataclass(frozen=True)
class Cylinder:
    """A vertical cylinder of ``radius`` and ``height`` standing on the ground at ``(x, z)``."""

    x: float
    z: float
    radius: float
    height: float
    material: Material
    label: int = CYLINDER

    def local(self, points: np.ndarray) -> np.ndarray:
        """Return ``points`` relative to the centre of the cylinder's base."""
        return points - np.array([self.x, 0.0, self.z])

    def intersect(self, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        """Return the ray parameter of the entry hit per ray, ``inf`` where the ray misses."""
        o = self.local(origins)
        ox, oy, oz = o[..., 0], o[..., 1], o[..., 2]
        dx, dy, dz = dirs[:, 0], dirs[:, 1], dirs[:, 2]
        a = dx * dx + dz * dz
        b = ox * dx + oz * dz
        c = ox * ox + oz * oz - self.radius ** 2
        disc = b * b - a * c
        with np.errstate(divide='ignore', invalid='ignore'):
            t_side = (-b - np.sqrt(disc)) / a
            y = oy + t_side * dy
            side_ok = (disc >= 0.0) & (t_side > _T_MIN) & (y >= 0.0) & (y <= self.height)
            t_cap = (self.height - oy) / dy
            cx = ox + t_cap * dx
            cz = oz + t_cap * dz
            cap_ok = (t_cap > _T_MIN) & (cx * cx + cz * cz <= self.radius ** 2)
        return np.minimum(np.where(side_ok, t_side, np.inf), np.where(cap_ok, t_cap, np.inf))

    def normal(self, points: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        """Return the unit outward normals at ``points`` on the side or the top cap."""
        q = self.local(points)
        side = np.stack([q[:, 0], np.zeros(len(q)), q[:, 2]], axis=-1) / self.radius
        on_cap = np.abs(q[:, 1] - self.height) < 1e-6 * max(1.0, self.height)
        return np.where(on_cap[:, None], np.array([0.0, 1.0, 0.0]), side)


@dataclass(frozen=True)
class Camera:
    """
    A pinhole camera of ``image_width`` x ``image_height`` pixels at ``height`` metres up.

    ``hfov_deg`` is the horizontal field of view; pixels are square and the principal point is
    the image centre. ``pitch`` (radians, positive looks down), ``roll`` (radians, about the
    optical axis) and ``yaw`` (radians about the world's up axis, 0 looks along ``+z``). ``x``
    and ``z`` place it over the ground (the scenes are drawn around ``x = z = 0``).
    """

    image_width: int
    image_height: int
    hfov_deg: float
    height: float
    pitch: float
    roll: float = 0.0
    yaw: float = 0.0
    x: float = 0.0
    z: float = 0.0

    @property
    def intrinsics(self) -> Intrinsics:
        """Return the camera's pinhole intrinsics."""
        f = 0.5 * self.image_width / math.tan(math.radians(self.hfov_deg) / 2.0)
        return Intrinsics(fx=f, fy=f, cx=(self.image_width - 1) / 2.0,
                          cy=(self.image_height - 1) / 2.0, width=self.image_width,
                          height=self.image_height)

    @property
    def position(self) -> np.ndarray:
        """Return the optical centre in the world frame."""
        return np.array([self.x, self.height, self.z])

    @property
    def rotation(self) -> np.ndarray:
        """Return the 3x3 matrix whose columns are the optical x, y, z axes in the world frame."""
        cy, sy = math.cos(self.yaw), math.sin(self.yaw)
        cp, sp = math.cos(self.pitch), math.sin(self.pitch)
        forward = np.array([sy * cp, -sp, cy * cp])
        right = np.array([cy, 0.0, -sy])
        down = np.cross(forward, right)
        if down[1] > 0.0:
            down = -down
        cr, sr = math.cos(self.roll), math.sin(self.roll)
        return np.stack([cr * right + sr * down, -sr * right + cr * down, forward], axis=1)

    @property
    def world_from_camera(self) -> np.ndarray:
        """Return the 4x4 transform from the optical frame to the world frame."""
        out = np.eye(4)
        out[:3, :3] = self.rotation
        out[:3, 3] = self.position
        return out


@dataclass(frozen=True)
class Lighting:
    """Sun, ambient light, sky colours and haze of a scene (linear RGB)."""

    sun: tuple[float, float, float] = (0.4, 0.8, 0.45)
    sun_color: tuple[float, float, float] = (1.0, 0.95, 0.85)
    ambient: float = 0.35
    sky_zenith: tuple[float, float, float] = (0.15, 0.35, 0.8)
    sky_horizon: tuple[float, float, float] = (0.7, 0.8, 0.9)
    haze_distance: float = 150.0
    clouds: float = 0.3
    salt: int = 0


@dataclass(frozen=True)
class Layout:
    """Everything that defines a scene: camera, light, ground texture and the other surfaces."""

    camera: Camera
    ground: Material
    objects: tuple = ()
    lighting: Lighting = Lighting()
    shadows: bool = True


def _sky(dirs: np.ndarray, light: Lighting) -> np.ndarray:
    unit = dirs / np.linalg.norm(dirs, axis=-1, keepdims=True)
    up = np.clip(unit[:, 1], 0.0, 1.0)[:, None]
    zenith, horizon = np.asarray(light.sky_zenith), np.asarray(light.sky_horizon)
    colour = horizon + np.sqrt(up) * (zenith - horizon)
    if light.clouds > 0.0:
        # Clouds on a plane far above the camera, faded towards the horizon.
        elevation = np.maximum(unit[:, 1], 0.02)
        plane = np.stack([unit[:, 0] / elevation, np.zeros(len(unit)), unit[:, 2] / elevation], -1)
        density = _fbm(plane * 0.8, light.salt)
        cover = np.clip((density - (1.0 - light.clouds)) * 3.0, 0.0, 1.0)
        cover *= np.clip(unit[:, 1] * 8.0, 0.0, 1.0)
        colour = colour + cover[:, None] * (np.array([0.95, 0.95, 0.97]) - colour)
    return colour


def render(layout: Layout, max_depth: float = MAX_DEPTH) -> Sample:
    """
    Ray-cast ``layout`` and return the image with its exact depth and labels.

    Depth is the distance along the optical axis (REP 118 z); it is NaN for the sky and beyond
    ``max_depth``. Labels are ids into :data:`CLASSES`.
    """
    cam = layout.camera
    k = cam.intrinsics
    w, h = cam.image_width, cam.image_height
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    rays_cam = np.stack([(u - k.cx) / k.fx, (v - k.cy) / k.fy, np.ones_like(u)], -1).reshape(-1, 3)
    # Camera rays have unit z, so the ray parameter of a hit is its depth along the optical axis.
    dirs = rays_cam @ cam.rotation.T
    origin = cam.position
    surfaces = (Ground(layout.ground),) + tuple(layout.objects)

    best_t = np.full(len(dirs), np.inf)
    best = np.full(len(dirs), -1, dtype=np.int64)
    for index, surface in enumerate(surfaces):
        t = surface.intersect(origin, dirs)
        best = np.where(t < best_t, index, best)
        best_t = np.minimum(best_t, t)

    light = layout.lighting
    sun = np.asarray(light.sun, dtype=np.float64)
    sun = sun / np.linalg.norm(sun)
    labels = np.full(len(dirs), SKY, dtype=np.uint8)
    colour = np.empty((len(dirs), 3))
    sky = best < 0
    colour[sky] = _sky(dirs[sky], light)

    hit = np.flatnonzero(~sky)
    points = origin + best_t[hit, None] * dirs[hit]
    normals = np.empty_like(points)
    albedo = np.empty_like(points)
    ray_len = np.linalg.norm(dirs[hit], axis=-1)
    distance = best_t[hit] * ray_len
    for index, surface in enumerate(surfaces):
        mine = np.flatnonzero(best[hit] == index)
        if mine.size == 0:
            continue
        p, d = points[mine], dirs[hit[mine]]
        n = surface.normal(p, d)
        facing = np.abs(_dot(n, d)) / ray_len[mine]
        footprint = distance[mine] / (k.fx * np.maximum(facing, 0.1))
        normals[mine] = n
        albedo[mine] = surface.material.albedo(surface.local(p), footprint)
        labels[hit[mine]] = surface.label

    lambert = np.clip(normals @ sun, 0.0, None)
    if layout.shadows:
        lit = np.flatnonzero(lambert > 0.0)
        starts = points[lit] + _SHADOW_OFFSET * normals[lit]
        sun_dirs = np.broadcast_to(sun, starts.shape)
        blocked = np.zeros(len(lit), dtype=bool)
        for surface in surfaces[1:]:
            blocked |= np.isfinite(surface.intersect(starts, sun_dirs))
        lambert[lit[blocked]] = 0.0
    shade = light.ambient + lambert[:, None] * np.asarray(light.sun_color)
    haze = np.exp(-distance / light.haze_distance)[:, None]
    colour[hit] = albedo * shade * haze + np.asarray(light.sky_horizon) * (1.0 - haze)

    srgb = np.clip(colour, 0.0, 1.0) ** (1.0 / 2.2)
    rgb = (srgb * 255.0 + 0.5).astype(np.uint8).reshape(h, w, 3)
    depth = best_t.astype(np.float32)
    depth[~np.isfinite(best_t) | (best_t > max_depth)] = np.nan
    return Sample(rgb=rgb, depth=depth.reshape(h, w), labels=labels.reshape(h, w),
                  intrinsics=k, camera_height=cam.height, camera_pitch=cam.pitch,
                  camera_roll=cam.roll, world_from_camera=cam.world_from_camera)


def _random_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    """Draw a colour in HSV (perceptual) terms and return it in linear RGB."""
    hue = rng.uniform(0.0, 6.0)
    saturation = rng.uniform(0.0, 0.8)
    value = rng.uniform(0.2, 0.9)
    rgb = np.clip(np.abs((hue + np.array([0.0, 4.0, 2.0])) % 6.0 - 3.0) - 1.0, 0.0, 1.0)
    srgb = value * (1.0 - saturation + saturation * rgb)
    return tuple(float(x) for x in srgb ** 2.2)


def random_material(rng: np.random.Generator, scale: tuple[float, float]) -> Material:
    """Draw a material with a random pattern, colours and a pattern scale in ``scale`` metres."""
    colour_a = _random_colour(rng)
    if rng.random() < 0.5:
        colour_b = tuple(c * rng.uniform(0.3, 0.7) for c in colour_a)
    else:
        colour_b = _random_colour(rng)
    direction = rng.normal(size=3)
    return Material(pattern=str(rng.choice(PATTERNS)), scale=float(rng.uniform(*scale)),
                    color_a=colour_a, color_b=colour_b, salt=int(rng.integers(1 << 30)),
                    offset=tuple(float(x) for x in rng.uniform(0.0, 1.0, 3)),
                    direction=tuple(float(x) for x in direction / np.linalg.norm(direction)))


def _random_walls(rng: np.random.Generator) -> tuple[tuple[Wall, ...], tuple | None]:
    """Return walls closing some sides of a room around the camera, and the room's extent."""
    if rng.random() < 0.3:
        return (), None
    x0, x1 = -rng.uniform(3.0, 15.0), rng.uniform(3.0, 15.0)
    z0, z1 = -rng.uniform(3.0, 15.0), rng.uniform(3.0, 15.0)
    walls = []
    for axis, offset, span in ((0, x0, (z0, z1)), (0, x1, (z0, z1)),
                               (2, z0, (x0, x1)), (2, z1, (x0, x1))):
        if rng.random() < 0.7:
            walls.append(Wall(axis=axis, offset=offset, span=span,
                              height=float(rng.uniform(1.0, 6.0)),
                              material=random_material(rng, (0.2, 1.5))))
    return tuple(walls), (x0, x1, z0, z1)


def _random_object(rng: np.random.Generator, x: float, z: float, size: float):
    kind = rng.integers(3)
    material = random_material(rng, (0.05, 0.6))
    if kind == 0:
        half = (size * rng.uniform(0.4, 1.0), rng.uniform(0.1, 1.2), size * rng.uniform(0.4, 1.0))
        return Box(x=x, z=z, half=tuple(float(a) for a in half),
                   yaw=float(rng.uniform(0.0, math.pi)), material=material)
    if kind == 1:
        return Sphere(x=x, z=z, radius=size, material=material)
    return Cylinder(x=x, z=z, radius=size * rng.uniform(0.3, 1.0),
                    height=float(rng.uniform(0.3, 3.0)), material=material)


def random_layout(rng: np.random.Generator, width: int = 320, height: int = 240,
                  hfov_deg: float | tuple[float, float] = 65.0, max_objects: int = 12,
                  shadows: bool = True) -> Layout:
    """
    Draw a random scene: camera pose, light, ground, walls and 3 to ``max_objects`` objects.

    ``hfov_deg`` is a fixed horizontal field of view or a ``(low, high)`` range to draw from.
    """
    fov = hfov_deg if isinstance(hfov_deg, (int, float)) else rng.uniform(*hfov_deg)
    camera = Camera(image_width=width, image_height=height, hfov_deg=float(fov),
                    height=float(rng.uniform(0.3, 1.5)),
                    pitch=math.radians(rng.uniform(0.0, 25.0)),
                    roll=math.radians(rng.uniform(-3.0, 3.0)),
                    yaw=float(rng.uniform(-math.pi, math.pi)))
    elevation = math.radians(rng.uniform(15.0, 75.0))
    azimuth = rng.uniform(-math.pi, math.pi)
    lighting = Lighting(
        sun=(math.cos(elevation) * math.sin(azimuth), math.sin(elevation),
             math.cos(elevation) * math.cos(azimuth)),
        sun_color=tuple(float(c) for c in rng.uniform(0.8, 1.1) * np.array([1.0, 0.95, 0.85])),
        ambient=float(rng.uniform(0.2, 0.5)),
        sky_zenith=tuple(float(c) for c in np.array([0.15, 0.35, 0.8]) * rng.uniform(0.7, 1.2)),
        sky_horizon=tuple(float(c) for c in np.array([0.7, 0.8, 0.9]) * rng.uniform(0.8, 1.1)),
        haze_distance=float(rng.uniform(60.0, 300.0)), clouds=float(rng.uniform(0.0, 0.6)),
        salt=int(rng.integers(1 << 30)))
    ground = random_material(rng, (0.2, 2.0))
    walls, room = _random_walls(rng)

    objects = []
    half_fov = math.radians(float(fov)) / 2.0
    for _ in range(int(rng.integers(3, max_objects + 1))):
        size = float(rng.uniform(0.15, 1.0))
        angle = camera.yaw + rng.uniform(-1.2, 1.2) * half_fov
        distance = rng.uniform(1.0 + 1.5 * size, 15.0)
        x, z = distance * math.sin(angle), distance * math.cos(angle)
        if room is not None and not (room[0] + size < x < room[1] - size
                                     and room[2] + size < z < room[3] - size):
            continue
        objects.append(_random_object(rng, x, z, size))
    return Layout(camera=camera, ground=ground, objects=walls + tuple(objects),
                  lighting=lighting, shadows=shadows)


class SyntheticScenes(Sequence):
    """
    ``count`` random scenes of ``width`` x ``height`` pixels, deterministic by (seed, index).

    Scene ``i`` is drawn from a generator seeded with ``(seed, i)``, so any index can be rendered
    alone, in any order, in any worker process. ``noise_std`` (in 8-bit levels) and
    ``blur_sigma`` (pixels) add light sensor noise and blur to the image; the ground truth is
    unchanged. ``classes`` names the label ids.
    """

    classes = CLASSES

    def __init__(self, seed: int = 0, count: int = 1000, width: int = 320, height: int = 240,
                 hfov_deg: float | tuple[float, float] = 65.0, max_depth: float = MAX_DEPTH,
                 max_objects: int = 12, shadows: bool = True, noise_std: float = 0.0,
                 blur_sigma: float = 0.0) -> None:
        if count < 0 or width < 2 or height < 2:
            raise ValueError(f'SyntheticScenes needs count >= 0 and a size of at least 2x2, got '
                             f'count={count}, {width}x{height}')
        if max_objects < 3:
            raise ValueError(f'max_objects must be at least 3, got {max_objects}')
        self.seed, self.count = seed, count
        self.width, self.height = width, height
        self.hfov_deg, self.max_depth = hfov_deg, max_depth
        self.max_objects, self.shadows = max_objects, shadows
        self.noise_std, self.blur_sigma = noise_std, blur_sigma

    def __len__(self) -> int:
        return self.count

    def layout(self, index: int) -> Layout:
        """Return the layout of scene ``index`` without rendering it."""
        rng = np.random.default_rng([self.seed, self._check(index), 0])
        return random_layout(rng, self.width, self.height, self.hfov_deg, self.max_objects,
                             self.shadows)

    def __getitem__(self, index: int) -> Sample:
        index = self._check(index)
        sample = render(self.layout(index), self.max_depth)
        sample.name = f'synthetic_{self.seed}_{index:06d}'
        if self.blur_sigma > 0.0:
            sample.rgb = cv2.GaussianBlur(sample.rgb, (0, 0), self.blur_sigma)
        if self.noise_std > 0.0:
            sample.rgb = _with_noise(sample.rgb, self.noise_std, [self.seed, index, 1])
        return sample

    def _check(self, index: int) -> int:
        return _checked_index(index, self.count, 'scene')


def _with_noise(rgb: np.ndarray, std: float, seed: list[int]) -> np.ndarray:
    """Return ``rgb`` with Gaussian sensor noise of ``std`` 8-bit levels, seeded by ``seed``."""
    noisy = rgb + np.random.default_rng(seed).normal(0.0, std, rgb.shape)
    return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)


def _checked_index(index: int, count: int, what: str) -> int:
    if not isinstance(index, (int, np.integer)):
        raise TypeError(f'{what} index must be an integer, got {type(index).__name__}')
    if not -count <= index < count:
        raise IndexError(f'{what} {index} out of range for {count} {what}s')
    return int(index) % count


class SyntheticTrajectory(Sequence):
    """
    ``frames`` views of one random scene from a smoothly moving camera, exact depth in each.

    The scene is scene ``scene`` of ``SyntheticScenes(seed, ...)`` (the same layout, light and
    start pose). Frame ``i`` is at ``t = i / fps`` seconds: the camera goes forward along its
    starting heading at ``speed`` m/s, sways sideways by ``sway`` metres and turns by
    ``yaw_amplitude`` radians, both sines of period ``period`` seconds; its height, pitch and
    roll stay. Every sample carries its pose (``world_from_camera``), so the motion between two
    frames is known exactly. ``noise_std`` (8-bit levels) adds independent sensor noise to each
    frame's image, seeded by (seed, scene, frame).

    Objects of a random scene stand at least 1 m from the start, so the path may not take the
    camera further than 0.9 m from it (checked): it never enters an object.
    """

    classes = CLASSES
    MAX_TRAVEL = 0.9

    def __init__(self, seed: int = 0, scene: int = 0, frames: int = 45, width: int = 320,
                 height: int = 240, fps: float = 30.0, speed: float = 0.3, sway: float = 0.2,
                 yaw_amplitude: float = 0.15, period: float = 2.0, noise_std: float = 0.0,
                 hfov_deg: float = 65.0, max_depth: float = MAX_DEPTH) -> None:
        if frames < 1 or fps <= 0 or period <= 0:
            raise ValueError(f'a trajectory needs frames >= 1, fps > 0 and period > 0, got '
                             f'frames={frames}, fps={fps}, period={period}')
        duration = (frames - 1) / fps
        travel = math.hypot(abs(speed) * duration, abs(sway))
        if travel > self.MAX_TRAVEL:
            raise ValueError(f'the camera would move up to {travel:.2f} m from its start; keep '
                             f'speed * (frames - 1) / fps and sway within {self.MAX_TRAVEL} m '
                             '(objects stand 1 m away)')
        scenes = SyntheticScenes(seed=seed, count=scene + 1, width=width, height=height,
                                 hfov_deg=hfov_deg, max_depth=max_depth)
        self.start = scenes.layout(scene)
        self.seed, self.scene, self.frames, self.fps = seed, scene, frames, fps
        self.speed, self.sway, self.yaw_amplitude, self.period = speed, sway, yaw_amplitude, period
        self.noise_std, self.max_depth = noise_std, max_depth

    def __len__(self) -> int:
        return self.frames

    def camera(self, index: int) -> Camera:
        """Return the camera of frame ``index``."""
        start = self.start.camera
        t = self._check(index) / self.fps
        phase = math.sin(2.0 * math.pi * t / self.period)
        ahead = self.speed * t
        side = self.sway * phase
        heading = start.yaw
        return dataclasses.replace(
            start, x=start.x + ahead * math.sin(heading) + side * math.cos(heading),
            z=start.z + ahead * math.cos(heading) - side * math.sin(heading),
            yaw=heading + self.yaw_amplitude * phase)

    def __getitem__(self, index: int) -> Sample:
        index = self._check(index)
        layout = dataclasses.replace(self.start, camera=self.camera(index))
        sample = render(layout, self.max_depth)
        sample.name = f'trajectory_{self.seed}_{self.scene}_{index:04d}'
        if self.noise_std > 0.0:
            sample.rgb = _with_noise(sample.rgb, self.noise_std, [self.seed, self.scene, index, 2])
        return sample

    def _check(self, index: int) -> int:
        return _checked_index(index, self.frames, 'frame')
