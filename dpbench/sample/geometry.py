"""Ray-primitive intersection for the sample renderer: planes, boxes, spheres and finite cylinders.

All primitives take ray origins ``o`` and directions ``d`` as (N, 3) float64 arrays (or one (3,)
origin broadcast to all rays) and return the ray parameter ``t`` of the nearest hit in front of
the origin (``inf`` when none). Directions are not normalised: the renderer uses directions with
a camera-space z of 1, so that ``t`` is directly the planar depth. Coordinates are metres in an
OpenCV-style world frame (x right, y down, z forward for an unrotated camera).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EPS = 1e-6


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot products of (N, 3) and/or (3,) arrays."""
    if b.ndim == 1:
        return a @ b
    if a.ndim == 1:
        return b @ a
    return np.einsum("ij,ij->i", a, b)


def yaw_matrix(angle: float) -> np.ndarray:
    """Rotation about the (downward) y axis by ``angle`` radians."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


@dataclass
class Primitive:
    """Base: a surface with a material index and a foreground flag (foreground = part of the mask)."""

    material: int
    foreground: bool = field(default=False, kw_only=True)
    casts_shadow: bool = field(default=True, kw_only=True)

    def bounds(self) -> tuple[np.ndarray, np.ndarray] | None:
        """World-space axis-aligned bounding box (lo, hi), or None if unbounded."""
        return None

    def intersect(self, o: np.ndarray, d: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def normal(self, p: np.ndarray) -> np.ndarray:
        """Unit outward normals at surface points p (M, 3)."""
        raise NotImplementedError


@dataclass
class Plane(Primitive):
    """The infinite plane n·x = offset (n unit; it faces the side n points to)."""

    n: np.ndarray = field(default_factory=lambda: np.array([0.0, -1.0, 0.0]))
    offset: float = 0.0

    def __post_init__(self):
        self.n = np.asarray(self.n, float) / np.linalg.norm(self.n)

    def intersect(self, o, d):
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (self.offset - _dot(o, self.n)) / _dot(d, self.n)
        t = np.atleast_1d(t)
        t[~(t > EPS)] = np.inf  # behind, parallel (NaN or -inf)
        return t

    def normal(self, p):
        return np.broadcast_to(self.n, p.shape).copy()


@dataclass
class Sphere(Primitive):
    center: np.ndarray = field(default_factory=lambda: np.zeros(3))
    radius: float = 1.0

    def __post_init__(self):
        self.center = np.asarray(self.center, float)

    def bounds(self):
        return self.center - self.radius, self.center + self.radius

    def intersect(self, o, d):
        oc = o - self.center
        a = _dot(d, d)
        b = 2.0 * _dot(oc, d)
        c = _dot(oc, oc) - self.radius**2
        disc = b * b - 4.0 * a * c
        root = np.sqrt(np.maximum(disc, 0.0))
        t_near = (-b - root) / (2.0 * a)
        t_far = (-b + root) / (2.0 * a)
        t = np.where(t_near > EPS, t_near, t_far)
        return np.where((disc >= 0) & (t > EPS), t, np.inf)

    def normal(self, p):
        return (p - self.center) / self.radius


@dataclass
class Box(Primitive):
    """A box with half extents ``half`` centred at ``center``, turned by ``yaw`` about the y axis."""

    center: np.ndarray = field(default_factory=lambda: np.zeros(3))
    half: np.ndarray = field(default_factory=lambda: np.ones(3))
    yaw: float = 0.0

    def __post_init__(self):
        self.center = np.asarray(self.center, float)
        self.half = np.asarray(self.half, float)
        self._rot = yaw_matrix(self.yaw)  # local -> world

    def bounds(self):
        corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * self.half
        world = corners @ self._rot.T + self.center
        return world.min(axis=0), world.max(axis=0)

    def intersect(self, o, d):
        ol = (o - self.center) @ self._rot
        dl = d @ self._rot
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / dl
            t1 = (-self.half - ol) * inv
            t2 = (self.half - ol) * inv
        t_near = np.nanmax(np.fmin(t1, t2), axis=-1)
        t_far = np.nanmin(np.fmax(t1, t2), axis=-1)
        t = np.where(t_near > EPS, t_near, t_far)
        return np.where((t_near <= t_far) & (t > EPS), t, np.inf)

    def normal(self, p):
        local = (p - self.center) @ self._rot
        ratio = np.abs(local) / self.half
        axis = np.argmax(ratio, axis=1)
        n = np.zeros_like(local)
        n[np.arange(len(p)), axis] = np.sign(local[np.arange(len(p)), axis])
        return n @ self._rot.T


@dataclass
class Cylinder(Primitive):
    """An open cylinder of radius ``radius`` from ``p0`` to ``p1`` (poles, wires, bars, strands)."""

    p0: np.ndarray = field(default_factory=lambda: np.zeros(3))
    p1: np.ndarray = field(default_factory=lambda: np.array([0.0, 1.0, 0.0]))
    radius: float = 0.01

    def __post_init__(self):
        self.p0 = np.asarray(self.p0, float)
        self.p1 = np.asarray(self.p1, float)
        axis = self.p1 - self.p0
        self.length = float(np.linalg.norm(axis))
        self.axis = axis / self.length

    def bounds(self):
        lo = np.minimum(self.p0, self.p1) - self.radius
        hi = np.maximum(self.p0, self.p1) + self.radius
        return lo, hi

    def intersect(self, o, d):
        w = o - self.p0
        d_along = _dot(d, self.axis)
        w_along = _dot(w, self.axis)
        d_perp = d - d_along[..., None] * self.axis
        w_perp = w - w_along[..., None] * self.axis
        a = _dot(d_perp, d_perp)
        b = 2.0 * _dot(w_perp, d_perp)
        c = _dot(w_perp, w_perp) - self.radius**2
        disc = b * b - 4.0 * a * c
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2.0 * a)
        s = w_along + t * d_along
        ok = (disc >= 0) & (a > 0) & (t > EPS) & (s >= 0) & (s <= self.length)
        return np.where(ok, t, np.inf)

    def normal(self, p):
        w = p - self.p0
        radial = w - _dot(w, self.axis)[:, None] * self.axis
        return radial / np.maximum(np.linalg.norm(radial, axis=1, keepdims=True), 1e-12)
