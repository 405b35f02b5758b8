"""A small vectorised ray caster: pinhole camera, exact planar depth, anti-aliased foreground alpha.

Each pixel is sampled on an ``ss × ss`` grid (``ss`` odd) so that the middle sample sits exactly
on the pixel centre: the ground-truth depth is the planar depth (camera-space z) of that centre
ray, while the colour and the foreground alpha average all samples (anti-aliasing). Ray
directions have a camera-space z of 1, so the ray parameter of a hit *is* its planar depth.
Pixel coordinates follow OpenCV: pixel (u, v) has its centre at (u, v), so a centred principal
point is ((W - 1) / 2, (H - 1) / 2).

Shading: textured Lambertian + Blinn-Phong highlights, hemispherical ambient, one directional
key light with a shadow map (hard shadows softened by 2×2 filtering), optional point fill lights,
sky with clouds and distance fog for outdoor scenes, then exposure, vignetting, sensor noise and
sRGB-like gamma.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from dpbench.sample.geometry import EPS, Plane, Primitive
from dpbench.sample.textures import Texture, sky_colour


@dataclass
class Material:
    texture: Texture
    specular: float = 0.05
    shininess: float = 20.0


@dataclass
class Light:
    """A directional light (``direction`` = where the light travels) or a point light (``position``)."""

    colour: np.ndarray
    direction: np.ndarray | None = None
    position: np.ndarray | None = None
    falloff_m: float = 3.0


@dataclass
class Scene:
    primitives: list[Primitive]
    materials: list[Material]
    lights: list[Light]  # lights[0] is the key light; a directional key light casts shadows
    ambient: np.ndarray = field(default_factory=lambda: np.array([0.25, 0.25, 0.27], np.float32))
    sky: bool = False
    clouds: np.ndarray | None = None
    fog_m: float | None = None
    exposure: float = 1.0
    kind: str = "room"

    def foreground_flags(self) -> np.ndarray:
        return np.array([p.foreground for p in self.primitives], dtype=bool)


@dataclass
class Camera:
    """Pinhole camera: intrinsics in pixels, ``R`` world→camera rotation, ``center`` in world metres."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    R: np.ndarray
    center: np.ndarray

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def t(self) -> np.ndarray:
        """World→camera translation: X_cam = R · X_world + t."""
        return -self.R @ self.center

    @property
    def extrinsics(self) -> np.ndarray:
        """The 3×4 world→camera matrix [R | t]."""
        return np.hstack([self.R, self.t[:, None]])

    def shifted(self, baseline_m: float, cx_offset_px: float = 0.0) -> Camera:
        """The rectified partner camera ``baseline_m`` to the right, principal point moved by ``cx_offset_px``."""
        center = self.center + baseline_m * self.R[0]
        return replace(self, center=center, cx=self.cx + cx_offset_px)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        return (points - self.center) @ self.R.T

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pixel coordinates (u, v) and planar depth z of world points (N, 3)."""
        cam = self.to_camera(points)
        z = cam[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.fx * cam[:, 0] / z + self.cx, self.fy * cam[:, 1] / z + self.cy, z


@dataclass
class Render:
    """What one render produces (all at pixel resolution)."""

    image: np.ndarray  # H×W×3 uint8
    depth: np.ndarray  # H×W float64 planar depth of the pixel-centre ray (inf: sky)
    alpha: np.ndarray  # H×W float32 foreground coverage in [0, 1]
    primitive: np.ndarray  # H×W int32 primitive hit by the pixel-centre ray (-1: sky)


def _grid_directions(camera: Camera, ss: int) -> np.ndarray:
    """World ray directions (GH, GW, 3) of the supersampling grid, camera-space z = 1."""
    gw, gh = camera.width * ss, camera.height * ss
    us = (np.arange(gw) + 0.5) / ss - 0.5
    vs = (np.arange(gh) + 0.5) / ss - 0.5
    dirs = np.empty((gh, gw, 3))
    dirs[..., 0] = ((us - camera.cx) / camera.fx)[None, :]
    dirs[..., 1] = ((vs - camera.cy) / camera.fy)[:, None]
    dirs[..., 2] = 1.0
    return dirs @ camera.R  # rows: d_world = R^T d_cam


def _screen_rect(prim: Primitive, camera: Camera, ss: int) -> tuple[int, int, int, int] | None:
    """Grid rectangle (y0, y1, x0, x1) that can see ``prim`` (whole grid if unbounded or behind)."""
    gh, gw = camera.height * ss, camera.width * ss
    bounds = prim.bounds()
    if bounds is None:
        return 0, gh, 0, gw
    lo, hi = bounds
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    u, v, z = camera.project(corners)
    if (z <= 0.05).any():
        return (0, gh, 0, gw) if (z > 0).any() else None
    gx = (u + 0.5) * ss - 0.5
    gy = (v + 0.5) * ss - 0.5
    x0, x1 = int(np.floor(gx.min())) - 1, int(np.ceil(gx.max())) + 2
    y0, y1 = int(np.floor(gy.min())) - 1, int(np.ceil(gy.max())) + 2
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, gw), min(y1, gh)
    if x0 >= x1 or y0 >= y1:
        return None
    return y0, y1, x0, x1


def cast(scene: Scene, camera: Camera, ss: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest hit of every grid ray: (t, primitive index or -1, world directions)."""
    dirs = _grid_directions(camera, ss)
    gh, gw = dirs.shape[:2]
    # Camera-space ray components per column / row: planes are intersected from these separably.
    col = ((np.arange(gw) + 0.5) / ss - 0.5 - camera.cx) / camera.fx
    row = ((np.arange(gh) + 0.5) / ss - 0.5 - camera.cy) / camera.fy
    t_best = np.full((gh, gw), np.inf)
    id_best = np.full((gh, gw), -1, dtype=np.int32)
    for index, prim in enumerate(scene.primitives):
        if isinstance(prim, Plane):
            n_cam = camera.R @ prim.n  # d_world · n = d_cam · (R n), d_cam = (col, row, 1)
            with np.errstate(divide="ignore", invalid="ignore"):
                t = (prim.offset - camera.center @ prim.n) / (
                    row[:, None] * n_cam[1] + (col[None, :] * n_cam[0] + n_cam[2]))
            t[~(t > EPS)] = np.inf
            better = t < t_best
            t_best[better] = t[better]
            id_best[better] = index
            continue
        rect = _screen_rect(prim, camera, ss)
        if rect is None:
            continue
        y0, y1, x0, x1 = rect
        sub = dirs[y0:y1, x0:x1]
        t = prim.intersect(camera.center, sub.reshape(-1, 3)).reshape(sub.shape[:2])
        current = t_best[y0:y1, x0:x1]
        better = t < current
        if better.any():
            current[better] = t[better]
            id_best[y0:y1, x0:x1][better] = index
    return t_best, id_best, dirs


def render_depth(scene: Scene, camera: Camera) -> np.ndarray:
    """Planar depth at the pixel centres only (inf where nothing is hit)."""
    return cast(scene, camera, ss=1)[0]


# -- shading ---------------------------------------------------------------------------------


def _normals(scene: Scene, points: np.ndarray, ids: np.ndarray) -> np.ndarray:
    normals = np.zeros_like(points)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.searchsorted(sorted_ids, np.arange(len(scene.primitives) + 1))
    for index, prim in enumerate(scene.primitives):
        a, b = starts[index], starts[index + 1]
        if a < b:
            rows = order[a:b]
            normals[rows] = prim.normal(points[rows])
    return normals


def _albedo(scene: Scene, points: np.ndarray, normals: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Texture colour by planar projection along the dominant normal axis (triplanar selection)."""
    material_of = np.array([p.material for p in scene.primitives])[ids]
    axis = np.argmax(np.abs(normals), axis=1)
    u = np.where(axis == 0, points[:, 2], points[:, 0])
    v = np.where(axis == 1, points[:, 2], points[:, 1])
    albedo = np.empty((len(points), 3), np.float32)
    for index, material in enumerate(scene.materials):
        rows = np.nonzero(material_of == index)[0]
        if len(rows):
            albedo[rows] = material.texture.sample(u[rows], v[rows])
    return albedo


@dataclass
class ShadowMap:
    """Depth of the nearest occluder along a directional light, on an orthographic grid."""

    origin: np.ndarray
    e1: np.ndarray
    e2: np.ndarray
    direction: np.ndarray
    texel: float
    depth: np.ndarray

    def lit(self, points: np.ndarray, bias: float = 0.03) -> np.ndarray:
        """Fraction (0..1) of a 2×2 texel neighbourhood that sees the light from each point."""
        rel = points - self.origin
        a = rel @ self.e1 / self.texel - 0.5
        b = rel @ self.e2 / self.texel - 0.5
        along = rel @ self.direction
        size_b, size_a = self.depth.shape
        a0 = np.floor(a).astype(np.int64)
        b0 = np.floor(b).astype(np.int64)
        total = np.zeros(len(points), np.float32)
        for da in (0, 1):
            for db in (0, 1):
                ia, ib = a0 + da, b0 + db
                inside = (ia >= 0) & (ia < size_a) & (ib >= 0) & (ib < size_b)
                occluder = np.full(len(points), np.inf)
                occluder[inside] = self.depth[ib[inside], ia[inside]]
                total += (occluder >= along - bias).astype(np.float32)
        return total / 4.0


def build_shadow_map(scene: Scene, resolution: int = 512) -> ShadowMap | None:
    """Orthographic depth map of the bounded primitives seen from the key (directional) light."""
    key = scene.lights[0] if scene.lights else None
    if key is None or key.direction is None:
        return None
    occluders = [(i, p) for i, p in enumerate(scene.primitives) if p.casts_shadow and p.bounds() is not None]
    if not occluders:
        return None
    direction = np.asarray(key.direction, float)
    direction = direction / np.linalg.norm(direction)
    helper = np.array([0.0, 0.0, 1.0]) if abs(direction[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = np.cross(direction, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(direction, e1)
    corners = []
    for _, prim in occluders:
        lo, hi = prim.bounds()
        corners.extend([x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2]))
    corners = np.array(corners)
    a, b, c = corners @ e1, corners @ e2, corners @ direction
    extent = max(a.max() - a.min(), b.max() - b.min()) * 1.02 + 1e-3
    texel = extent / resolution
    origin = (a.min() - 0.01 * extent) * e1 + (b.min() - 0.01 * extent) * e2 + (c.min() - 1.0) * direction
    depth = np.full((resolution, resolution), np.inf)
    grid = (np.arange(resolution) + 0.5) * texel
    for _, prim in occluders:
        lo, hi = prim.bounds()
        box = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        pa = (box - origin) @ e1 / texel
        pb = (box - origin) @ e2 / texel
        x0, x1 = max(int(np.floor(pa.min())) - 1, 0), min(int(np.ceil(pa.max())) + 2, resolution)
        y0, y1 = max(int(np.floor(pb.min())) - 1, 0), min(int(np.ceil(pb.max())) + 2, resolution)
        if x0 >= x1 or y0 >= y1:
            continue
        ga, gb = np.meshgrid(grid[x0:x1], grid[y0:y1])
        starts = origin + ga[..., None] * e1 + gb[..., None] * e2
        t = prim.intersect(starts.reshape(-1, 3), direction).reshape(ga.shape)
        np.minimum(depth[y0:y1, x0:x1], t, out=depth[y0:y1, x0:x1])
    return ShadowMap(origin, e1, e2, direction, texel, depth)


def _shade(scene: Scene, camera: Camera, t: np.ndarray, ids: np.ndarray, dirs: np.ndarray,
           shadow: ShadowMap | None) -> np.ndarray:
    """Linear radiance (N, 3) of ray samples given as flat arrays t (N,), ids (N,), dirs (N, 3)."""
    radiance = np.zeros((len(t), 3), np.float32)
    hit = ids >= 0
    rows = np.nonzero(hit)[0]
    if len(rows):
        points = camera.center + t[rows, None] * dirs[rows]
        normals = _normals(scene, points, ids[rows])
        view = -dirs[rows] / np.linalg.norm(dirs[rows], axis=1, keepdims=True)
        facing = np.sum(normals * view, axis=1) < 0
        normals[facing] *= -1.0
        albedo = _albedo(scene, points, normals, ids[rows])
        material_of = np.array([p.material for p in scene.primitives])[ids[rows]]
        specular = np.array([m.specular for m in scene.materials], np.float32)[material_of]
        shininess = np.array([m.shininess for m in scene.materials], np.float32)[material_of]
        sky_up = 0.6 + 0.4 * np.clip(-normals[:, 1], -1.0, 1.0)
        light_sum = scene.ambient[None, :] * sky_up[:, None].astype(np.float32)
        spec_sum = np.zeros_like(light_sum)
        for number, light in enumerate(scene.lights):
            if light.direction is not None:
                to_light = -np.asarray(light.direction, float)
                to_light = np.broadcast_to(to_light / np.linalg.norm(to_light), points.shape)
                strength = np.ones(len(points), np.float32)
            else:
                offset = np.asarray(light.position, float) - points
                dist = np.linalg.norm(offset, axis=1, keepdims=True)
                to_light = offset / dist
                strength = (1.0 / (1.0 + (dist[:, 0] / light.falloff_m) ** 2)).astype(np.float32)
            if number == 0 and shadow is not None:
                strength = strength * shadow.lit(points)
            lambert = np.clip(np.sum(normals * to_light, axis=1), 0.0, None).astype(np.float32)
            half = to_light + view
            half /= np.maximum(np.linalg.norm(half, axis=1, keepdims=True), 1e-12)
            highlight = np.clip(np.sum(normals * half, axis=1), 0.0, None).astype(np.float32) ** shininess
            colour = np.asarray(light.colour, np.float32)[None, :]
            light_sum += colour * (lambert * strength)[:, None]
            spec_sum += colour * (highlight * strength * (lambert > 0))[:, None]
        shaded = albedo * light_sum + specular[:, None] * spec_sum
        if scene.fog_m:
            fog = (1.0 - np.exp(-t[rows] / scene.fog_m)).astype(np.float32)[:, None]
            haze = np.array([0.70, 0.76, 0.84], np.float32) * scene.exposure ** -1
            shaded = shaded * (1 - fog) + haze * fog
        radiance[rows] = shaded
    misses = np.nonzero(~hit)[0]
    if len(misses):
        if scene.sky and scene.clouds is not None:
            key = scene.lights[0].direction if scene.lights and scene.lights[0].direction is not None else np.array([0, 1.0, 0])
            radiance[misses] = sky_colour(dirs[misses], scene.clouds, np.asarray(key, float)) / scene.exposure
        else:
            radiance[misses] = 0.05
    return radiance


def _finish(linear: np.ndarray, exposure: float, rng: np.random.Generator) -> np.ndarray:
    """Exposure, vignetting, a soft shoulder, gamma and sensor noise -> uint8 RGB."""
    h, w = linear.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - (w - 1) / 2) / (w / 2)) ** 2 + ((yy - (h - 1) / 2) / (h / 2)) ** 2
    vignette = (1.0 - 0.18 * r2)[..., None]
    x = linear * exposure * vignette
    x = x / (1.0 + 0.25 * x)  # gentle highlight roll-off
    srgb = np.clip(x, 0.0, 1.0) ** (1.0 / 2.2)
    noisy = srgb * 255.0 + rng.normal(0.0, 1.2, size=srgb.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def render(scene: Scene, camera: Camera, ss: int = 3, seed: int = 0,
           shadow: ShadowMap | None | bool = True) -> Render:
    """Render ``scene`` through ``camera`` with ``ss × ss`` samples per pixel (``ss`` odd).

    ``shadow``: True builds the key light's shadow map, False disables shadows, or pass a
    prebuilt :class:`ShadowMap` to share it between views of the same scene.
    """
    if ss < 1 or ss % 2 == 0:
        raise ValueError(f"ss must be a positive odd number (the centre sample is the GT), got {ss}")
    t, ids, dirs = cast(scene, camera, ss)
    if shadow is True:
        shadow = build_shadow_map(scene)
    elif shadow is False:
        shadow = None
    h, w = camera.height, camera.width
    centre = ss // 2
    # Shade every sample only in pixels whose samples do not all hit the same surface (edges, thin
    # structures); elsewhere the pixel-centre sample stands for the whole pixel.
    blocks = ids.reshape(h, ss, w, ss)
    centre_ids = blocks[:, centre, :, centre]
    mixed = (blocks != centre_ids[:, None, :, None]).any(axis=(1, 3))
    linear = np.empty((h, w, 3), np.float32)
    plain = ~mixed
    linear[plain] = _shade(scene, camera, t[centre::ss, centre::ss][plain], centre_ids[plain],
                           dirs[centre::ss, centre::ss][plain], shadow)
    if mixed.any():
        # Keep the samples of a pixel together: transpose to (h, w, ss, ss) order first.
        order = np.arange(t.size).reshape(h, ss, w, ss).transpose(0, 2, 1, 3)
        rows = order[mixed].reshape(-1)
        shaded = _shade(scene, camera, t.reshape(-1)[rows], ids.reshape(-1)[rows], dirs.reshape(-1, 3)[rows], shadow)
        linear[mixed] = shaded.reshape(-1, ss * ss, 3).mean(axis=1)
    fg = np.append(scene.foreground_flags(), False)[ids]  # index -1 -> the appended False
    alpha = fg.reshape(h, ss, w, ss).mean(axis=(1, 3)).astype(np.float32)
    depth = t[centre::ss, centre::ss].copy()
    primitive = ids[centre::ss, centre::ss].copy()
    image = _finish(linear, scene.exposure, np.random.default_rng(seed))
    return Render(image=image, depth=depth, alpha=alpha, primitive=primitive)


def planes_of(scene: Scene) -> list[tuple[int, Plane]]:
    """The (index, plane) pairs of a scene, for ground-truth checks."""
    return [(i, p) for i, p in enumerate(scene.primitives) if isinstance(p, Plane)]
