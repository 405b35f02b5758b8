"""Procedural scenes for the sample suite: furnished rooms and streets, with a floating foreground.

Every scene has occluding contours at several depths and thin structures (poles, wires, fence
bars, hair-like strands). The foreground objects (the alpha mask) float in front of everything
else with a depth margin (:data:`FOREGROUND_MARGIN`), so that every mask edge is also a depth
discontinuity of the ground truth, as in a matting photo with a clear subject.
Coordinates: metres, OpenCV-style (x right, y down, z forward); the reference camera sits at the
origin and looks along +z.
"""

from __future__ import annotations

import math

import numpy as np

from dpbench.sample.geometry import Box, Cylinder, Plane, Primitive, Sphere
from dpbench.sample.render import Camera, Light, Material, Scene
from dpbench.sample.textures import fbm, make_texture

#: The nearest background surface is at least this factor farther than the farthest foreground point.
FOREGROUND_MARGIN = 1.12
FILM_DIAGONAL_MM = math.hypot(36.0, 24.0)


class _Builder:
    """Collects primitives and materials while a scene is assembled."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.primitives: list[Primitive] = []
        self.materials: list[Material] = []

    def material(self, kind: str, specular: float = 0.05, shininess: float = 20.0) -> int:
        self.materials.append(Material(make_texture(kind, self.rng), specular, shininess))
        return len(self.materials) - 1

    def add(self, prim: Primitive) -> Primitive:
        self.primitives.append(prim)
        return prim


def _table(b: _Builder, x: float, z: float, floor_y: float, yaw: float, wood: int, legs: int) -> None:
    rng = b.rng
    half_w, half_d = rng.uniform(0.35, 0.6), rng.uniform(0.25, 0.4)
    height = rng.uniform(0.65, 0.8)
    top = floor_y - height
    b.add(Box(wood, center=(x, top, z), half=(half_w, 0.025, half_d), yaw=yaw))
    c, s = math.cos(yaw), math.sin(yaw)
    for sx in (-1, 1):
        for sz in (-1, 1):
            lx, lz = sx * (half_w - 0.05), sz * (half_d - 0.05)
            wx, wz = x + c * lx + s * lz, z - s * lx + c * lz
            b.add(Box(legs, center=(wx, top + height / 2, wz), half=(0.025, height / 2 - 0.025, 0.025), yaw=yaw))


def _fence(b: _Builder, x0: float, x1: float, z: float, floor_y: float, height: float, metal: int) -> None:
    spacing = b.rng.uniform(0.09, 0.14)
    radius = b.rng.uniform(0.008, 0.014)
    for x in np.arange(x0, x1 + 1e-9, spacing):
        b.add(Cylinder(metal, p0=(x, floor_y, z), p1=(x, floor_y - height, z), radius=radius))
    for y in (floor_y - height + 0.04, floor_y - 0.12):
        b.add(Cylinder(metal, p0=(x0 - 0.05, y, z), p1=(x1 + 0.05, y, z), radius=radius * 1.6))


def _wire(b: _Builder, a: np.ndarray, c: np.ndarray, sag: float, radius: float, material: int, pieces: int = 4) -> None:
    """A hanging wire from a to c as a chain of straight cylinders (parabolic sag)."""
    points = [a + (c - a) * k / pieces + np.array([0.0, sag * 4 * (k / pieces) * (1 - k / pieces), 0.0])
              for k in range(pieces + 1)]
    for p, q in zip(points[:-1], points[1:], strict=True):
        b.add(Cylinder(material, p0=p, p1=q, radius=radius))


def _hairy_ball(b: _Builder, center: np.ndarray, radius: float, fur: int) -> None:
    """A furry sphere: a core with bent hair-like strands reaching at most 1.9 radii from the centre."""
    rng = b.rng
    b.add(Sphere(fur, center=center, radius=radius, foreground=True))
    count = int(rng.integers(45, 80))
    for _ in range(count):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        length = radius * rng.uniform(0.4, 0.9)
        strand_r = rng.uniform(0.0012, 0.0028)
        bend = rng.normal(size=3) * 0.25
        start = center + direction * radius * 0.95
        middle = start + direction * length * 0.5
        end = middle + (direction + bend) / np.linalg.norm(direction + bend) * length * 0.5
        b.add(Cylinder(fur, p0=start, p1=middle, radius=strand_r, foreground=True))
        b.add(Cylinder(fur, p0=middle, p1=end, radius=strand_r * 0.7, foreground=True))


def _foreground(b: _Builder, camera_f: float, width: int, height: int, near: float, far: float,
                limits: tuple[float, float, float, float], count: int) -> float:
    """Floating foreground objects with depths in [near, far] and every point inside ``limits``
    (x_lo, x_hi, y_lo, y_hi); returns the farthest depth reached."""
    rng = b.rng
    x_lo, x_hi, y_lo, y_hi = limits
    deepest = 0.0
    slots = np.linspace(-0.5, 0.5, count + 2)[1:-1] if count > 1 else np.array([rng.uniform(-0.15, 0.15)])
    for slot in slots:
        kind = str(rng.choice(["hairy", "hairy", "box", "sphere"]))
        z = rng.uniform(near + 0.3, far - 0.3)
        scale = z / 1.6
        if kind == "hairy":
            size = rng.uniform(0.12, 0.18) * scale
            reach = size * 1.95  # core + two strand pieces of at most 0.9 * size
        elif kind == "box":
            half = rng.uniform(0.1, 0.18, size=3) * scale
            reach = float(np.linalg.norm(half))
        else:
            size = rng.uniform(0.12, 0.2) * scale
            reach = size
        z = float(np.clip(z, near + reach, far - reach))
        half_fov_x = (width / 2) / camera_f
        half_fov_y = (height / 2) / camera_f
        x = slot * half_fov_x * z * 1.2
        y = rng.uniform(-0.3, 0.45) * half_fov_y * z
        x = float(np.clip(x, x_lo + reach, x_hi - reach))
        y = float(np.clip(y, y_lo + reach, y_hi - reach))
        center = np.array([x, y, z])
        if kind == "hairy":
            _hairy_ball(b, center, size, b.material("fur", specular=0.02))
        elif kind == "box":
            b.add(Box(b.material("fabric"), center=center, half=half, yaw=rng.uniform(-0.8, 0.8), foreground=True))
        else:
            b.add(Sphere(b.material("marble", specular=0.5, shininess=60.0), center=center, radius=size,
                         foreground=True))
        deepest = max(deepest, z + reach)
    return deepest


def camera_for(width: int, height: int, f35_mm: float, *, pitch: float = 0.0, yaw: float = 0.0,
               center=(0.0, 0.0, 0.0)) -> Camera:
    """A centred pinhole camera whose focal equals the EXIF 35 mm rule for ``f35_mm`` (so EXIF is exact)."""
    focal = f35_mm * math.hypot(width, height) / FILM_DIAGONAL_MM
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy_, sy_ = math.cos(yaw), math.sin(yaw)
    # Camera-to-world: yaw about y, then pitch about x (positive pitch looks down, y is down).
    yaw_m = np.array([[cy_, 0, sy_], [0, 1, 0], [-sy_, 0, cy_]])
    pitch_m = np.array([[1, 0, 0], [0, cp, sp], [0, -sp, cp]])
    cam_to_world = yaw_m @ pitch_m
    return Camera(width=width, height=height, fx=focal, fy=focal, cx=(width - 1) / 2, cy=(height - 1) / 2,
                  R=cam_to_world.T, center=np.asarray(center, float))


def build_room(rng: np.random.Generator, width: int, height: int, focal: float, *,
               max_depth: float = 6.0, foreground: int = 1) -> Scene:
    """A furnished room no deeper than ``max_depth`` (back wall), with tables, poles, a railing,
    wires and ``foreground`` floating objects (the mask)."""
    b = _Builder(rng)
    cam_h = rng.uniform(1.25, 1.6)
    room_h = rng.uniform(2.5, 3.0)
    depth = rng.uniform(max(3.6, max_depth - 1.5), max_depth)
    left, right = rng.uniform(1.6, 2.6), rng.uniform(1.6, 2.6)
    floor = b.material(str(rng.choice(["wood", "tiles", "marble"])), specular=0.08)
    walls = b.material(rng.choice(["plaster", "bricks", "plaster"]))
    side = b.material("plaster")
    ceiling = b.material("plaster")
    b.add(Plane(floor, n=(0, -1, 0), offset=-cam_h))
    b.add(Plane(ceiling, n=(0, 1, 0), offset=-(room_h - cam_h)))
    b.add(Plane(walls, n=(0, 0, -1), offset=-depth))
    b.add(Plane(side, n=(1, 0, 0), offset=-left))
    b.add(Plane(side, n=(-1, 0, 0), offset=-right))
    near_bg = 2.3
    wood, legs, metal = b.material("wood", 0.08), b.material("metal", 0.4, 40.0), b.material("metal", 0.5, 50.0)
    for _ in range(int(rng.integers(1, 3))):
        _table(b, rng.uniform(-left + 0.7, right - 0.7), rng.uniform(near_bg + 0.5, depth - 0.6), cam_h,
               rng.uniform(-0.5, 0.5), wood, legs)
    for _ in range(int(rng.integers(1, 3))):
        hx, hy, hz = rng.uniform(0.2, 0.45), rng.uniform(0.25, 0.6), rng.uniform(0.2, 0.35)
        b.add(Box(b.material(rng.choice(["fabric", "wood", "marble"])),
                  center=(rng.uniform(-left + 0.5, right - 0.5), cam_h - hy, rng.uniform(near_bg + 0.4, depth - 0.4)),
                  half=(hx, hy, hz), yaw=rng.uniform(-0.7, 0.7)))
    for _ in range(int(rng.integers(1, 3))):
        x, z = rng.uniform(-left + 0.3, right - 0.3), rng.uniform(near_bg + 0.3, depth - 0.3)
        b.add(Cylinder(metal, p0=(x, cam_h, z), p1=(x, cam_h - room_h, z), radius=rng.uniform(0.02, 0.04)))
    fence_z = rng.uniform(near_bg + 0.2, min(near_bg + 1.4, depth - 0.4))
    x0 = rng.uniform(-left + 0.2, 0.0)
    _fence(b, x0, min(x0 + rng.uniform(1.0, 1.8), right - 0.2), fence_z, cam_h, rng.uniform(0.8, 1.0), metal)
    for _ in range(int(rng.integers(1, 3))):
        y = rng.uniform(-(room_h - cam_h) + 0.3, 0.2)
        z = rng.uniform(near_bg + 0.3, depth - 0.2)
        _wire(b, np.array([-left, y, z]), np.array([right, y + rng.uniform(-0.2, 0.2), z + rng.uniform(-0.3, 0.3)]),
              sag=rng.uniform(0.05, 0.25), radius=rng.uniform(0.003, 0.006), material=metal)
    # Along any ray, a wall/floor/ceiling point behind a foreground point is farther by the ratio of
    # their distances to the camera's planes x = 0 / y = 0; keep that ratio >= FOREGROUND_MARGIN too.
    limits = (-left / FOREGROUND_MARGIN, right / FOREGROUND_MARGIN,
              -(room_h - cam_h) / FOREGROUND_MARGIN, cam_h / FOREGROUND_MARGIN)
    deepest = _foreground(b, focal, width, height, 1.0, near_bg / FOREGROUND_MARGIN, limits, foreground)
    assert deepest * FOREGROUND_MARGIN <= near_bg + 1e-9, "foreground too close to the background"
    window = rng.uniform(-1, 1)
    key = Light(colour=np.array([1.7, 1.62, 1.5]) * rng.uniform(0.85, 1.1),
                direction=np.array([window, 1.0 + rng.uniform(0, 0.6), rng.uniform(0.3, 1.0)]))
    fill = Light(colour=np.array([0.9, 0.85, 0.75]) * rng.uniform(0.6, 1.0),
                 position=np.array([rng.uniform(-1, 1), -(room_h - cam_h) + 0.2, rng.uniform(1.0, depth - 1)]),
                 falloff_m=3.0)
    return Scene(b.primitives, b.materials, [key, fill], ambient=np.array([0.22, 0.22, 0.25], np.float32),
                 exposure=rng.uniform(0.95, 1.15), kind="room")


def build_street(rng: np.random.Generator, width: int, height: int, focal: float, *, foreground: int = 1) -> Scene:
    """An outdoor scene: road, a skyline of buildings, trees, lamp posts with power lines, a fence,
    sky with clouds (no depth: ``inf``) and ``foreground`` floating objects."""
    b = _Builder(rng)
    cam_h = rng.uniform(1.4, 1.8)
    ground = b.material(rng.choice(["tiles", "plaster"]), specular=0.03)
    b.add(Plane(ground, n=(0, -1, 0), offset=-cam_h))
    x = -70.0
    while x < 70.0:
        w = rng.uniform(6, 16)
        h = rng.uniform(5, 16)
        z = rng.uniform(28, 48)
        b.add(Box(b.material(rng.choice(["bricks", "plaster", "marble"])),
                  center=(x + w / 2, cam_h - h / 2, z), half=(w / 2, h / 2, rng.uniform(3, 6)),
                  yaw=rng.uniform(-0.15, 0.15), casts_shadow=False))
        x += w + rng.uniform(0.5, 4)
    x = -160.0
    while x < 160.0:  # a far, gap-free row so that the road never runs to the horizon
        w = rng.uniform(15, 30)
        h = rng.uniform(10, 28)
        b.add(Box(b.material("plaster"), center=(x + w / 2, cam_h - h / 2, rng.uniform(75, 90)),
                  half=(w / 2 + 2.0, h / 2, 5.0), casts_shadow=False))
        x += w
    foliage, bark, metal = b.material("foliage"), b.material("wood"), b.material("metal", 0.3, 30.0)
    for _ in range(int(rng.integers(2, 4))):
        tx, tz = rng.uniform(-14, 14), rng.uniform(12, 24)
        trunk_h = rng.uniform(2.0, 3.5)
        b.add(Cylinder(bark, p0=(tx, cam_h, tz), p1=(tx, cam_h - trunk_h, tz), radius=rng.uniform(0.12, 0.2)))
        b.add(Sphere(foliage, center=(tx, cam_h - trunk_h - 1.2, tz), radius=rng.uniform(1.3, 2.0)))
    post_z = rng.uniform(8, 14)
    posts = sorted(rng.uniform(-12, 12, size=3))
    tops = []
    for px in posts:
        top = np.array([px, cam_h - 6.0, post_z + rng.uniform(-1, 1)])
        b.add(Cylinder(metal, p0=(px, cam_h, top[2]), p1=top, radius=0.07))
        tops.append(top)
    for a, c in zip(tops[:-1], tops[1:], strict=True):
        for k in range(2):
            offset = np.array([0.0, 0.15 * k, 0.0])
            _wire(b, a + offset, c + offset, sag=rng.uniform(0.3, 0.8), radius=0.012, material=metal, pieces=6)
    fence_z = rng.uniform(4.5, 6.5)
    x0 = rng.uniform(-3.5, -1.0)
    _fence(b, x0, x0 + rng.uniform(2.5, 4.0), fence_z, cam_h, rng.uniform(0.9, 1.2), metal)
    limits = (-np.inf, np.inf, -np.inf, cam_h / FOREGROUND_MARGIN)
    _foreground(b, focal, width, height, 1.2, fence_z / FOREGROUND_MARGIN, limits, foreground)
    sun = Light(colour=np.array([2.6, 2.45, 2.2]) * rng.uniform(0.9, 1.1),
                direction=np.array([rng.uniform(-1, 1), rng.uniform(0.8, 1.6), rng.uniform(0.2, 1.0)]))
    clouds = fbm(256, rng, beta=2.6)
    return Scene(b.primitives, b.materials, [sun], ambient=np.array([0.30, 0.34, 0.42], np.float32),
                 sky=True, clouds=clouds, fog_m=260.0, exposure=rng.uniform(0.9, 1.05), kind="street")
