"""Procedural, tileable texture images (wood, tiles, bricks, marble, plaster, fabric) for the renderer.

Textures are small RGB images (linear colour, float32 in [0, 1]) generated once per scene from a
seeded random generator and sampled by the renderer with world-space planar coordinates, which
is far cheaper than evaluating 3-D noise per ray sample. Every texture tiles seamlessly (the
noise is built in the Fourier domain, which is periodic by construction).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

NOISE_VARIANTS = 6
TEXTURE_VARIANTS = 3
TEXTURE_KINDS = ("wood", "tiles", "bricks", "marble", "plaster", "fabric", "fur", "metal", "foliage")


@functools.lru_cache(maxsize=128)
def _noise_field(size: int, beta: float, low_cut: int, variant: int) -> np.ndarray:
    """One fixed fractal noise field (cached: scenes draw shifted/flipped copies of a few fields)."""
    rng = np.random.default_rng([size, int(round(beta * 1000)), low_cut, variant])
    fy = np.fft.fftfreq(size)[:, None] * size
    fx = np.fft.rfftfreq(size)[None, :] * size
    radius = np.sqrt(fx * fx + fy * fy)
    amplitude = np.where(radius >= low_cut, 1.0 / np.maximum(radius, 1.0) ** (beta / 2.0), 0.0)
    phase = rng.uniform(0.0, 2.0 * np.pi, size=amplitude.shape)
    field = np.fft.irfft2(amplitude * np.exp(1j * phase), s=(size, size))
    field -= field.mean()
    std = field.std()
    field = (field / std if std > 0 else field).astype(np.float32)
    field.setflags(write=False)
    return field


def fbm(size: int, rng: np.random.Generator, beta: float = 2.0, low_cut: int = 1) -> np.ndarray:
    """Tileable fractal noise (power spectrum ~ 1/f^beta), zero mean and unit std.

    Built in the Fourier domain (periodic by construction); to keep scene building cheap, one of
    a few cached fields per spectrum is drawn and randomly shifted, flipped and transposed.
    """
    field = _noise_field(size, float(beta), int(low_cut), int(rng.integers(0, NOISE_VARIANTS)))
    shift = rng.integers(0, size, size=2)
    out = np.roll(field, (int(shift[0]), int(shift[1])), axis=(0, 1))
    if rng.integers(0, 2):
        out = out[::-1]
    if rng.integers(0, 2):
        out = out.T
    return np.ascontiguousarray(out)


def _mix(a, b, t):
    t = np.clip(t, 0.0, 1.0)[..., None]
    return np.asarray(a, np.float32) * (1.0 - t) + np.asarray(b, np.float32) * t


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _hsv_jitter(color, rng: np.random.Generator, amount: float = 0.12) -> np.ndarray:
    color = np.asarray(color, np.float32) * rng.uniform(1.0 - amount, 1.0 + amount, size=3)
    return np.clip(color, 0.0, 1.0).astype(np.float32)


@dataclass
class Texture:
    """An RGB texture tile and the world size (metres) one tile covers."""

    image: np.ndarray  # (S, S, 3) float32, linear RGB
    tile_m: float

    def sample(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Bilinear lookup at world coordinates (u, v) in metres; the tile repeats."""
        size = self.image.shape[0]
        x = (u / self.tile_m) * size - 0.5
        y = (v / self.tile_m) * size - 0.5
        x0 = np.floor(x)
        y0 = np.floor(y)
        fx = (x - x0).astype(np.float32)[:, None]
        fy = (y - y0).astype(np.float32)[:, None]
        x0 = x0.astype(np.int64) % size
        y0 = y0.astype(np.int64) % size
        x1 = (x0 + 1) % size
        y1 = (y0 + 1) % size
        img = self.image
        top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
        bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
        return top * (1 - fy) + bottom * fy


@functools.lru_cache(maxsize=256)
def _base_texture(kind: str, variant: int, size: int) -> Texture:
    """A cached texture pattern of ``kind`` (a few variants each; scenes tint and rescale them)."""
    rng = np.random.default_rng([TEXTURE_KINDS.index(kind) if kind in TEXTURE_KINDS else 99, variant, size])
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size
    grain = fbm(size, rng, beta=2.2)
    fine = fbm(size, rng, beta=1.2, low_cut=8)
    if kind == "wood":
        light = _hsv_jitter((0.62, 0.42, 0.24), rng)
        dark = light * np.float32(0.55)
        rings = 9.0 + rng.uniform(-2, 3)
        t = np.sin(2 * np.pi * (xs * rings + 0.35 * grain)) * 0.5 + 0.5
        image = _mix(dark, light, t ** 1.5 + 0.08 * fine)
        return Texture(image, tile_m=float(rng.uniform(0.8, 1.4)))
    if kind == "tiles":
        a = _hsv_jitter(rng.choice([(0.80, 0.78, 0.72), (0.55, 0.32, 0.22), (0.70, 0.72, 0.74)]), rng)
        b = a * np.float32(rng.uniform(0.65, 0.85))
        n = 4
        cell = (np.floor(xs * n) + np.floor(ys * n)) % 2
        ids = (np.floor(xs * n) * 7 + np.floor(ys * n) * 13).astype(int)
        jitter = rng.uniform(0.9, 1.1, size=64)[ids % 64][..., None]
        image = _mix(a, b, cell) * jitter
        gx = np.abs((xs * n) % 1.0 - 0.5)
        gy = np.abs((ys * n) % 1.0 - 0.5)
        grout = np.maximum(gx, gy) > 0.47
        image[grout] = np.float32(0.25) * a
        image *= (1.0 + 0.06 * grain)[..., None]
        return Texture(image, tile_m=float(rng.uniform(1.6, 2.4)))
    if kind == "bricks":
        brick = _hsv_jitter((0.55, 0.25, 0.17), rng, 0.2)
        mortar = np.array([0.72, 0.70, 0.66], np.float32)
        rows = 8
        row = np.floor(ys * rows)
        shifted = xs * 4 + 0.5 * (row % 2)
        col = np.floor(shifted)
        ids = ((row * 31 + col * 17).astype(int)) % 97
        variation = rng.uniform(0.75, 1.2, size=97)[ids][..., None]
        image = brick[None, None, :] * variation * (1.0 + 0.12 * grain)[..., None]
        in_mortar = ((ys * rows) % 1.0 < 0.1) | ((shifted % 1.0) < 0.04)
        image[in_mortar] = mortar * (1.0 + 0.05 * fine[in_mortar])[..., None]
        return Texture(image, tile_m=float(rng.uniform(1.2, 1.8)))
    if kind == "marble":
        base = _hsv_jitter((0.85, 0.84, 0.80), rng, 0.06)
        vein = _hsv_jitter((0.35, 0.36, 0.40), rng, 0.2)
        t = np.abs(np.sin(2 * np.pi * (xs * 2 + ys + 0.9 * grain)))
        image = _mix(vein, base, t ** 0.35)
        return Texture(image, tile_m=float(rng.uniform(0.8, 1.5)))
    if kind == "plaster":
        base = _hsv_jitter(rng.choice([(0.78, 0.74, 0.66), (0.60, 0.68, 0.72), (0.74, 0.62, 0.52)]), rng)
        image = base[None, None, :] * (1.0 + 0.08 * grain + 0.04 * fine)[..., None]
        return Texture(image, tile_m=float(rng.uniform(1.5, 3.0)))
    if kind == "fabric":
        a = _hsv_jitter(rng.choice([(0.25, 0.32, 0.55), (0.55, 0.18, 0.16), (0.28, 0.45, 0.25)]), rng)
        weave = (np.sin(2 * np.pi * xs * 48) * np.sin(2 * np.pi * ys * 48)) * 0.5 + 0.5
        stripes = (np.floor(xs * 6) % 2)[..., None]
        image = a * (0.8 + 0.2 * stripes) * (0.9 + 0.15 * weave)[..., None] * (1 + 0.05 * grain)[..., None]
        return Texture(image, tile_m=float(rng.uniform(0.4, 0.8)))
    if kind == "fur":
        a = _hsv_jitter(rng.choice([(0.55, 0.38, 0.22), (0.85, 0.80, 0.70), (0.20, 0.17, 0.15)]), rng, 0.15)
        streak = fbm(size, rng, beta=1.6, low_cut=4)
        image = a[None, None, :] * (1.0 + 0.25 * streak)[..., None]
        return Texture(image, tile_m=0.15)
    if kind == "metal":
        a = _hsv_jitter((0.55, 0.56, 0.58), rng, 0.1)
        brushed = fbm(size, rng, beta=1.0, low_cut=16)
        image = a[None, None, :] * (1.0 + 0.05 * brushed + 0.05 * grain)[..., None]
        return Texture(image, tile_m=0.5)
    if kind == "foliage":
        light = _hsv_jitter((0.22, 0.42, 0.12), rng, 0.2)
        dark = light * np.float32(0.35)
        leaves = fbm(size, rng, beta=0.8, low_cut=12)
        image = _mix(dark, light, _smoothstep(-0.6, 0.9, leaves + 0.4 * grain))
        return Texture(image, tile_m=1.5)
    raise ValueError(f"unknown texture kind {kind!r}; known: {TEXTURE_KINDS}")


def make_texture(kind: str, rng: np.random.Generator, size: int = 192) -> Texture:
    """A texture of the given kind (see TEXTURE_KINDS): one of a few cached patterns, randomly
    tinted and scaled, so that building a scene stays cheap."""
    base = _base_texture(str(kind), int(rng.integers(0, TEXTURE_VARIANTS)), size)
    tint = rng.uniform(0.88, 1.12, size=3).astype(np.float32)
    shift = rng.integers(0, size, size=2)
    image = np.roll(base.image, (int(shift[0]), int(shift[1])), axis=(0, 1)) * tint
    return Texture(np.clip(image, 0.0, 1.0).astype(np.float32), tile_m=base.tile_m * float(rng.uniform(0.85, 1.2)))


def sky_colour(directions: np.ndarray, clouds: np.ndarray, sun_dir: np.ndarray) -> np.ndarray:
    """Linear sky radiance for world ray directions (N, 3; y down): a horizon gradient, clouds and a sun glow."""
    d = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    up = np.clip(-d[:, 1], 0.0, 1.0)
    zenith = np.array([0.18, 0.36, 0.75], np.float32)
    horizon = np.array([0.75, 0.82, 0.90], np.float32)
    colour = _mix(horizon, zenith, up ** 0.6)
    size = clouds.shape[0]
    # Project onto a cloud layer: planar coordinates x/up, z/up (finite near the horizon).
    scale = 1.0 / np.maximum(up, 0.08)
    cu = ((d[:, 0] * scale * 0.25) % 1.0 * size).astype(np.int64) % size
    cv = ((d[:, 2] * scale * 0.25) % 1.0 * size).astype(np.int64) % size
    cover = _smoothstep(0.2, 1.4, clouds[cv, cu]) * np.clip(up * 3.0, 0.0, 1.0)
    colour = _mix(colour, np.array([0.95, 0.95, 0.97], np.float32), cover * 0.85)
    glow = np.clip(d @ (-sun_dir / np.linalg.norm(sun_dir)), 0.0, 1.0) ** 64
    return (colour + glow[:, None] * np.array([1.0, 0.9, 0.7], np.float32)).astype(np.float32)
