"""Exact nearest-neighbour distances between two point clouds back-projected from depth maps.

Both clouds come from the same pixels of one image (pred and GT depth, same intrinsics), so every
point lies on its pixel's ray. A general KD-tree ignores that and, near a dense surface, has to
open about 2πD/s leaves for a query at distance D from a surface sampled every s metres (its
axis-aligned boxes are thick on tilted surfaces). This module searches a quadtree over image
tiles instead, with exact lower bounds that follow the depth map:

- each node (a rectangle of pixels) keeps an *oriented* bounding box of its points: centroid,
  the axes of their scatter matrix (normal = least spread) and the half-extents along them. On a
  planar or smooth patch the box is thin along the normal, so the distance from P to the box is
  close to the distance to the points;
- every pixel outside a rectangle [u0, u1] × [v0, v1] has its ray in one of four half-spaces
  (x ≤ x(u0 − 1), x ≥ x(u1 + 1), y ≤ …, y ≥ …, with x = (u − cx)/fx the ray slope), so the distance
  from P to the nearest of those half-spaces bounds every point outside the rectangle.

A query first looks at the 3 × 3 pixels around where the previous query of its row found its
nearest point (neighbouring pixels have neighbouring nearest points; on smooth scenes this is
already the exact answer for almost every query) and moves that 3 × 3 scan to the best pixel
found until it stays put (a few steps; noisy queries need them). The pixel window whose outside is provably
farther than that is then searched top-down, opening only nodes whose box may hold a nearer
point; four neighbouring queries share one search (a node is opened if it may matter to any of
them, and the four children of a node are stored side by side so that their bounds are computed
together). A node is skipped only when its bound is ≥ the best squared distance found, so the
result is the exact minimum (float64, the arithmetic of the back-projection in
:mod:`dpbench.metrics.pointcloud`; tests compare it with ``scipy.spatial.cKDTree``). Compiled
with numba, parallel over image rows; ``benchmarks/bench_pointcloud.py`` times it against the
KD-tree. Noisy target surfaces (i.i.d. per-pixel noise) are the slow case: their boxes are as
thick as the noise, and the nearest point is less often next to the neighbour's.
"""

from __future__ import annotations

import math

import numpy as np

try:  # numba is a dependency; without it pointcloud.py falls back to the KD-tree
    import numba
    from numba import njit, prange
except ImportError:  # pragma: no cover - exercised only where numba cannot be installed
    numba = None

#: Leaf tiles are LEAF × LEAF pixels (a power of two). On Sintel- and Booster-size synthetic
#: scenes 4 and 8 were within the machine's noise, 2 and 16 slower; 4 was ahead at Booster size.
LEAF = 4

# Columns of the node table (16 float64 = two cache lines): point count, centroid, the three axes
# of the oriented box (normal n = least-spread axis, a = most-spread axis, b = n × a) and the
# half-extents along them.
_CNT = 0
_CX, _CY, _CZ = 1, 2, 3
_NX, _NY, _NZ, _AX, _AY, _AZ, _BX, _BY, _BZ = 4, 5, 6, 7, 8, 9, 10, 11, 12
_EN, _EA, _EB = 13, 14, 15
_NCOL = 16
#: Queries searched together (neighbours along a row share most of their search).
PACKET = 4
#: Levels 1..EXACT_LEVELS (nodes up to 32×32 pixels with 4-pixel leaves) take their box extents
#: from their points rather than from their children's boxes. On a noisy surface a leaf's box is
#: as thick as the noise and oriented at random, so bounds through the children's boxes are loose
#: there; one pass over the image per level tightens them (a Booster frame with 1 cm noise: the
#: search through it 25 % faster; higher levels gained nothing measurable).
EXACT_LEVELS = 3
#: Steps of the warm start's descent: the 3×3 scan moves to the best pixel found until it stays put
#: (noisy queries have nearest points that jump between neighbours; a better start prunes more).
DESCENT_STEPS = 8
#: Extents of an empty node: every distance bound to it overflows to ∞.
_EMPTY = -1e200
# Build-only columns: scatter matrix about the centroid (s00, s01, s02, s11, s12, s22) and the
# axis-aligned bounding box (lo x, y, z, hi x, y, z).
_S, _LO, _HI = 0, 6, 9
_NBUILD = 12

if numba is not None:

    @njit(cache=True)
    def _eigvec(s00, s01, s02, s11, s12, s22, largest):
        """Unit eigenvector of the smallest (or largest) eigenvalue of a symmetric 3×3 matrix.

        Closed form (trigonometric eigenvalues, cross product of two rows of S − λI). Any unit
        vector keeps the box bounds valid, a poor one only loosens them, so degenerate inputs
        (repeated eigenvalues, tiny nodes) fall back to a coordinate axis.
        """
        p1 = s01 * s01 + s02 * s02 + s12 * s12
        if p1 == 0.0:
            if largest:
                if s00 >= s11 and s00 >= s22:
                    return 1.0, 0.0, 0.0
                return (0.0, 1.0, 0.0) if s11 >= s22 else (0.0, 0.0, 1.0)
            if s00 <= s11 and s00 <= s22:
                return 1.0, 0.0, 0.0
            return (0.0, 1.0, 0.0) if s11 <= s22 else (0.0, 0.0, 1.0)
        q = (s00 + s11 + s22) / 3.0
        p2 = (s00 - q) ** 2 + (s11 - q) ** 2 + (s22 - q) ** 2 + 2.0 * p1
        p = math.sqrt(p2 / 6.0)
        b00, b11, b22 = (s00 - q) / p, (s11 - q) / p, (s22 - q) / p
        b01, b02, b12 = s01 / p, s02 / p, s12 / p
        r = 0.5 * (b00 * (b11 * b22 - b12 * b12) - b01 * (b01 * b22 - b12 * b02)
                   + b02 * (b01 * b12 - b11 * b02))
        r = min(1.0, max(-1.0, r))
        phase = 0.0 if largest else 2.0 * math.pi / 3.0
        lam = q + 2.0 * p * math.cos(math.acos(r) / 3.0 + phase)
        a0, a1, a2 = s00 - lam, s01, s02
        b0, b1, b2 = s01, s11 - lam, s12
        c0, c1, c2 = s02, s12, s22 - lam
        best = 0.0
        ex, ey, ez = 0.0, 0.0, 1.0
        for k in range(3):
            if k == 0:
                x, y, z = a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0
            elif k == 1:
                x, y, z = a1 * c2 - a2 * c1, a2 * c0 - a0 * c2, a0 * c1 - a1 * c0
            else:
                x, y, z = b1 * c2 - b2 * c1, b2 * c0 - b0 * c2, b0 * c1 - b1 * c0
            m = x * x + y * y + z * z
            if m > best:
                best = m
                ex, ey, ez = x, y, z
        if not best > 0.0 or not math.isfinite(best):
            return (1.0, 0.0, 0.0) if largest else (0.0, 0.0, 1.0)
        norm = math.sqrt(best)
        return ex / norm, ey / norm, ez / norm

    @njit(cache=True)
    def _frame(s00, s01, s02, s11, s12, s22):
        """Orthonormal axes (n, a, b) for a node from its scatter matrix (see the table columns)."""
        nx_, ny_, nz_ = _eigvec(s00, s01, s02, s11, s12, s22, False)
        ax, ay, az = _eigvec(s00, s01, s02, s11, s12, s22, True)
        t = ax * nx_ + ay * ny_ + az * nz_
        ax, ay, az = ax - t * nx_, ay - t * ny_, az - t * nz_
        m = math.sqrt(ax * ax + ay * ay + az * az)
        if not m > 1e-6:  # any direction perpendicular to n
            if abs(nx_) <= abs(ny_) and abs(nx_) <= abs(nz_):
                ax, ay, az = 0.0, -nz_, ny_
            elif abs(ny_) <= abs(nz_):
                ax, ay, az = nz_, 0.0, -nx_
            else:
                ax, ay, az = -ny_, nx_, 0.0
            m = math.sqrt(ax * ax + ay * ay + az * az)
        ax, ay, az = ax / m, ay / m, az / m
        bx, by, bz = ny_ * az - nz_ * ay, nz_ * ax - nx_ * az, nx_ * ay - ny_ * ax
        return nx_, ny_, nz_, ax, ay, az, bx, by, bz

    @njit(cache=True)
    def _store(nodes, build, k, cnt, cx, cy, cz, frame, en, ea, eb, lo, hi, scatter):
        """Write one node; extents grow by a relative 1e-12 so rounding cannot make them too small."""
        nodes[k, _CNT] = cnt
        nodes[k, _CX], nodes[k, _CY], nodes[k, _CZ] = cx, cy, cz
        for c in range(9):
            nodes[k, _NX + c] = frame[c]
        slack = 1e-12 * (abs(cx) + abs(cy) + abs(cz) + en + ea + eb)
        nodes[k, _EN] = en * (1.0 + 1e-12) + slack
        nodes[k, _EA] = ea * (1.0 + 1e-12) + slack
        nodes[k, _EB] = eb * (1.0 + 1e-12) + slack
        for c in range(3):
            build[k, _LO + c] = lo[c]
            build[k, _HI + c] = hi[c]
        for c in range(6):
            build[k, _S + c] = scatter[c]

    @njit(cache=True, inline="always")
    def _point_extents(depth, mask, xr, yr, v0, v1, u0, u1, cx, cy, cz, f):
        """Half-extents along the axes ``f`` (n, a, b) of the points of pixels [v0, v1) × [u0, u1)
        about the centroid (cx, cy, cz): the tightest box in that frame."""
        en = ea = eb = 0.0
        for v in range(v0, v1):
            for u in range(u0, u1):
                if mask[v, u]:
                    d = depth[v, u]
                    x, y, z = xr[u] * d - cx, yr[v] * d - cy, d - cz
                    en = max(en, abs(f[0] * x + f[1] * y + f[2] * z))
                    ea = max(ea, abs(f[3] * x + f[4] * y + f[5] * z))
                    eb = max(eb, abs(f[6] * x + f[7] * y + f[8] * z))
        return en, ea, eb

    @njit(cache=True, parallel=True)
    def _build_leaves(depth, mask, xr, yr, leaf, nodes, build, ny, nx):
        """Fill level 0 (leaf tiles) of the node table from the points themselves."""
        h, w = depth.shape
        for j in prange(ny):
            lo = np.empty(3)
            hi = np.empty(3)
            scatter = np.empty(6)
            for i in range(nx):
                k = j * nx + i
                v0, u0 = j * leaf, i * leaf
                v1, u1 = min(v0 + leaf, h), min(u0 + leaf, w)
                cnt = 0.0
                sx = sy = sz = 0.0
                lo[:] = np.inf
                hi[:] = -np.inf
                for v in range(v0, v1):
                    for u in range(u0, u1):
                        if mask[v, u]:
                            d = depth[v, u]
                            x, y = xr[u] * d, yr[v] * d
                            cnt += 1.0
                            sx += x
                            sy += y
                            sz += d
                            lo[0], hi[0] = min(lo[0], x), max(hi[0], x)
                            lo[1], hi[1] = min(lo[1], y), max(hi[1], y)
                            lo[2], hi[2] = min(lo[2], d), max(hi[2], d)
                nodes[k, _CNT] = cnt
                if cnt == 0.0:
                    nodes[k, _EN] = nodes[k, _EA] = nodes[k, _EB] = _EMPTY
                    continue
                cx, cy, cz = sx / cnt, sy / cnt, sz / cnt
                scatter[:] = 0.0
                for v in range(v0, v1):
                    for u in range(u0, u1):
                        if mask[v, u]:
                            d = depth[v, u]
                            x, y, z = xr[u] * d - cx, yr[v] * d - cy, d - cz
                            scatter[0] += x * x
                            scatter[1] += x * y
                            scatter[2] += x * z
                            scatter[3] += y * y
                            scatter[4] += y * z
                            scatter[5] += z * z
                f = _frame(scatter[0], scatter[1], scatter[2], scatter[3], scatter[4], scatter[5])
                en, ea, eb = _point_extents(depth, mask, xr, yr, v0, v1, u0, u1, cx, cy, cz, f)
                _store(nodes, build, k, cnt, cx, cy, cz, f, en, ea, eb, lo, hi, scatter)

    @njit(cache=True, inline="always")
    def _child_extent(nodes, build, c, cx, cy, cz, ex, ey, ez):
        """Largest |e·(Q − centroid)| over a child's points: the smaller of its box's two bounds.

        A linear function peaks at a corner of either box (oriented or axis-aligned) holding them.
        """
        dx, dy, dz = nodes[c, _CX] - cx, nodes[c, _CY] - cy, nodes[c, _CZ] - cz
        oriented = (abs(ex * dx + ey * dy + ez * dz)
                    + nodes[c, _EN] * abs(ex * nodes[c, _NX] + ey * nodes[c, _NY] + ez * nodes[c, _NZ])
                    + nodes[c, _EA] * abs(ex * nodes[c, _AX] + ey * nodes[c, _AY] + ez * nodes[c, _AZ])
                    + nodes[c, _EB] * abs(ex * nodes[c, _BX] + ey * nodes[c, _BY] + ez * nodes[c, _BZ]))
        # axis-aligned box: the corner farthest along ±e
        hi = 0.0
        lo = 0.0
        for axis in range(3):
            e = ex if axis == 0 else (ey if axis == 1 else ez)
            cen = cx if axis == 0 else (cy if axis == 1 else cz)
            a, b = e * (build[c, _LO + axis] - cen), e * (build[c, _HI + axis] - cen)
            hi += max(a, b)
            lo += min(a, b)
        return min(oriented, max(hi, -lo))

    @njit(cache=True, parallel=True)
    def _build_parents(nodes, build, child_off, cny, cnx, off, ny, nx, depth, mask, xr, yr, size,
                       exact):
        """Fill one level from its ≤ 4 children: exact moments; extents from the points of the
        node's size × size pixels when ``exact``, else bounded by the children's boxes."""
        h, w = depth.shape
        for j in prange(ny):
            lo = np.empty(3)
            hi = np.empty(3)
            scatter = np.empty(6)
            kid = np.empty(4, np.int64)
            for i in range(nx):
                k = off + j * nx + i
                cnt = 0.0
                sx = sy = sz = 0.0
                lo[:] = np.inf
                hi[:] = -np.inf
                nk = 0  # the non-empty children
                for q in range(4):
                    cj, ci = 2 * j + q // 2, 2 * i + q % 2
                    if cj < cny and ci < cnx and nodes[child_off + cj * cnx + ci, _CNT] > 0.0:
                        kid[nk] = child_off + cj * cnx + ci
                        nk += 1
                for e in range(nk):
                    c = kid[e]
                    m = nodes[c, _CNT]
                    cnt += m
                    sx += m * nodes[c, _CX]
                    sy += m * nodes[c, _CY]
                    sz += m * nodes[c, _CZ]
                    for a in range(3):
                        lo[a] = min(lo[a], build[c, _LO + a])
                        hi[a] = max(hi[a], build[c, _HI + a])
                nodes[k, _CNT] = cnt
                if cnt == 0.0:
                    nodes[k, _EN] = nodes[k, _EA] = nodes[k, _EB] = _EMPTY
                    continue
                cx, cy, cz = sx / cnt, sy / cnt, sz / cnt
                scatter[:] = 0.0
                for e in range(nk):
                    c = kid[e]
                    m = nodes[c, _CNT]
                    x, y, z = nodes[c, _CX] - cx, nodes[c, _CY] - cy, nodes[c, _CZ] - cz
                    scatter[0] += build[c, _S] + m * x * x
                    scatter[1] += build[c, _S + 1] + m * x * y
                    scatter[2] += build[c, _S + 2] + m * x * z
                    scatter[3] += build[c, _S + 3] + m * y * y
                    scatter[4] += build[c, _S + 4] + m * y * z
                    scatter[5] += build[c, _S + 5] + m * z * z
                f = _frame(scatter[0], scatter[1], scatter[2], scatter[3], scatter[4], scatter[5])
                en = ea = eb = 0.0
                if exact:
                    en, ea, eb = _point_extents(depth, mask, xr, yr, j * size,
                                                min(j * size + size, h), i * size,
                                                min(i * size + size, w), cx, cy, cz, f)
                else:
                    for e in range(nk):
                        c = kid[e]
                        en = max(en, _child_extent(nodes, build, c, cx, cy, cz, f[0], f[1], f[2]))
                        ea = max(ea, _child_extent(nodes, build, c, cx, cy, cz, f[3], f[4], f[5]))
                        eb = max(eb, _child_extent(nodes, build, c, cx, cy, cz, f[6], f[7], f[8]))
                _store(nodes, build, k, cnt, cx, cy, cz, f, en, ea, eb, lo, hi, scatter)

    @njit(cache=True, parallel=True)
    def _build_kids(nodes, kids, offs, nys, nxs):
        """Copy each parent's ≤ 4 children into one block (field × child), empty where missing.

        The four children of a node are evaluated together (:func:`_search_packet`); side by side
        in memory their bounds are read from one block.
        """
        base = offs[1] if offs.shape[0] > 1 else 0
        for lv in range(1, offs.shape[0]):
            for j in prange(nys[lv]):
                for i in range(nxs[lv]):
                    k = offs[lv] + j * nxs[lv] + i - base
                    for q in range(4):
                        cj, ci = 2 * j + q // 2, 2 * i + q % 2
                        if cj < nys[lv - 1] and ci < nxs[lv - 1]:
                            c = offs[lv - 1] + cj * nxs[lv - 1] + ci
                            for f in range(_NCOL):
                                kids[k, f, q] = nodes[c, f]
                        else:
                            for f in range(_NCOL):
                                kids[k, f, q] = 0.0
                            kids[k, _EN, q] = kids[k, _EA, q] = kids[k, _EB, q] = _EMPTY

    @njit(cache=True, inline="always")
    def _kid_lb2(kids, k, c, px, py, pz):
        """Squared oriented-box distance from P to child c of block k (see :func:`_node_lb2`)."""
        x, y, z = px - kids[k, _CX, c], py - kids[k, _CY, c], pz - kids[k, _CZ, c]
        t0 = max(abs(x * kids[k, _NX, c] + y * kids[k, _NY, c] + z * kids[k, _NZ, c])
                 - kids[k, _EN, c], 0.0)
        t1 = max(abs(x * kids[k, _AX, c] + y * kids[k, _AY, c] + z * kids[k, _AZ, c])
                 - kids[k, _EA, c], 0.0)
        t2 = max(abs(x * kids[k, _BX, c] + y * kids[k, _BY, c] + z * kids[k, _BZ, c])
                 - kids[k, _EB, c], 0.0)
        return t0 * t0 + t1 * t1 + t2 * t2

    @njit(cache=True, inline="always")
    def _node_lb2(nodes, k, px, py, pz):
        """Squared distance from P to the node's oriented box: a lower bound (∞ for an empty node,
        whose extents are stored as −1e200)."""
        x, y, z = px - nodes[k, _CX], py - nodes[k, _CY], pz - nodes[k, _CZ]
        t0 = max(abs(x * nodes[k, _NX] + y * nodes[k, _NY] + z * nodes[k, _NZ]) - nodes[k, _EN], 0.0)
        t1 = max(abs(x * nodes[k, _AX] + y * nodes[k, _AY] + z * nodes[k, _AZ]) - nodes[k, _EA], 0.0)
        t2 = max(abs(x * nodes[k, _BX] + y * nodes[k, _BY] + z * nodes[k, _BZ]) - nodes[k, _EB], 0.0)
        return t0 * t0 + t1 * t1 + t2 * t2

    @njit(cache=True, inline="always")
    def _outside_lb(px, py, pz, u0, u1, v0, v1, w, h, xr, yr, ax, ay):
        """Distance from P to the nearest half-space holding the rays of pixels outside the rectangle.

        ``ax[u] = 1/√(1 + xr[u]²)`` normalises the half-space normal (1, 0, −xr[u]); ``ay`` alike.
        """
        lb = np.inf
        if u0 > 0:
            lb = min(lb, (px - xr[u0 - 1] * pz) * ax[u0 - 1])
        if u1 < w - 1:
            lb = min(lb, (xr[u1 + 1] * pz - px) * ax[u1 + 1])
        if v0 > 0:
            lb = min(lb, (py - yr[v0 - 1] * pz) * ay[v0 - 1])
        if v1 < h - 1:
            lb = min(lb, (yr[v1 + 1] * pz - py) * ay[v1 + 1])
        return lb

    @njit(cache=True, inline="always")
    def _window_clears(px, py, pz, v, u, m, w, h, xr, yr, ax, ay, best2):
        """True if every pixel farther than m rows or columns from (v, u) is ≥ √best2 from P."""
        v0, v1 = max(v - m, 0), min(v + m, h - 1)
        u0, u1 = max(u - m, 0), min(u + m, w - 1)
        if v0 == 0 and u0 == 0 and v1 == h - 1 and u1 == w - 1:
            return True
        lb = _outside_lb(px, py, pz, u0, u1, v0, v1, w, h, xr, yr, ax, ay)
        return lb > 0.0 and lb * lb >= best2

    @njit(cache=True, inline="always")
    def _clearing_margin(px, py, pz, v, u, w, h, xr, yr, ax, ay, best2, spread):
        """A margin m (pixels) whose window around (v, u) clears: every pixel outside is ≥ √best2.

        The half-space bound of a window side m + 1 pixels away is ≥ pz·(m + 1)/spread, so
        m = ⌈√best2·spread/pz⌉ clears (checked, and doubled if rounding says otherwise); three
        bisection steps then narrow it where the slopes are small.
        """
        est = math.sqrt(best2) * spread / pz
        m = int(min(est, 2.0 * (h + w))) + 1
        while not _window_clears(px, py, pz, v, u, m, w, h, xr, yr, ax, ay, best2):
            m *= 2
        lo = m // 2  # the estimate can be too wide by the slope factor: three bisection steps
        for _ in range(3):
            mid = (lo + m) // 2
            if mid <= lo:
                break
            if _window_clears(px, py, pz, v, u, mid, w, h, xr, yr, ax, ay, best2):
                m = mid
            else:
                lo = mid
        return m

    @njit(cache=True, inline="always")
    def _scan_packet(depth, mask, xr, yr, v0, v1, u0, u1, qx, qy, qz, best, bv, bu, q0, q1):
        """Update the nearest point of queries q0..q1−1 with the pixels [v0, v1) × [u0, u1)."""
        for v in range(v0, v1):
            for u in range(u0, u1):
                if mask[v, u]:
                    d = depth[v, u]
                    x, y = xr[u] * d, yr[v] * d
                    for q in range(q0, q1):
                        dx, dy, dz = x - qx[q], y - qy[q], d - qz[q]
                        d2 = dx * dx + dy * dy + dz * dz
                        if d2 < best[q]:
                            best[q], bv[q], bu[q] = d2, v, u

    @njit(cache=True, inline="always")
    def _search_packet(depth, mask, xr, yr, leaf, nodes, kids, offs, nys, nxs, level, j, i,
                       qx, qy, qz, best, bv, bu, st_l, st_j, st_i, lbs, wv0, wv1, wu0, wu1):
        """Search one subtree for a packet of queries: a node is opened if it may hold a point
        nearer than the best of any query of the packet, leaves are scanned for all of them.

        Only pixels in the window rows wv0..wv1, columns wu0..wu1 (inclusive) can be nearer than
        the best distances (the caller proved it for the rest), so nodes outside it are skipped.
        """
        h, w = depth.shape
        k = offs[level] + j * nxs[level] + i
        near = False
        for q in range(PACKET):
            if _node_lb2(nodes, k, qx[q], qy[q], qz[q]) < best[q]:
                near = True
        if not near:
            return
        st_l[0], st_j[0], st_i[0] = level, j, i
        top = 1
        while top > 0:
            top -= 1
            lv, nj, ni = st_l[top], st_j[top], st_i[top]
            if lv == 0:
                _scan_packet(depth, mask, xr, yr, max(nj * leaf, wv0), min(nj * leaf + leaf, wv1 + 1),
                             max(ni * leaf, wu0), min(ni * leaf + leaf, wu1 + 1), qx, qy, qz, best,
                             bv, bu, 0, PACKET)
                continue
            clv = lv - 1
            size = leaf << clv
            kk = offs[lv] + nj * nxs[lv] + ni - offs[1]
            for c in range(4):
                for q in range(PACKET):
                    lbs[c * PACKET + q] = _kid_lb2(kids, kk, c, qx[q], qy[q], qz[q])
            for c in range(4):
                near = False
                for q in range(PACKET):
                    if lbs[c * PACKET + q] < best[q]:
                        near = True
                if not near:
                    continue
                qj, qi = 2 * nj + c // 2, 2 * ni + c % 2
                if (qj + 1) * size <= wv0 or qj * size > wv1:
                    continue
                if (qi + 1) * size <= wu0 or qi * size > wu1:
                    continue
                st_l[top], st_j[top], st_i[top] = clv, qj, qi
                top += 1

    @njit(cache=True, parallel=True)
    def _query_all(qdepth, depth, mask, xr, yr, ax, ay, spread, leaf, nodes, kids, offs, nys, nxs,
                   order, first, out):
        """Nearest distance from each masked query point to the target cloud, written to ``out``
        (one entry per masked pixel in row-major order; row v's first one at ``first[v]``).

        Queries go along image rows in packets of :data:`PACKET` neighbours. Each query first
        looks at the 3×3 pixels around where the previous query's nearest point was (shifted by
        their column offset), moved to the best pixel found up to :data:`DESCENT_STEPS` times:
        neighbouring queries have neighbouring nearest points, and on smooth scenes this finds
        the exact nearest point for almost every query. The packet then
        only has to prove it: one tree search inside the union of the queries' clearing windows,
        opening a node when any query of the packet may have a nearer point in it.
        """
        h, w = depth.shape
        nlev = offs.shape[0]
        for t in prange(order.shape[0]):
            tj = order[t]
            st_l = np.empty(4 * nlev + 8, np.int64)
            st_j = np.empty(4 * nlev + 8, np.int64)
            st_i = np.empty(4 * nlev + 8, np.int64)
            lbs = np.empty(4 * PACKET, np.float64)
            qx = np.empty(PACKET)
            qy = np.empty(PACKET)
            qz = np.empty(PACKET)
            best = np.empty(PACKET)
            bv = np.empty(PACKET, np.int64)
            bu = np.empty(PACKET, np.int64)
            us = np.empty(PACKET, np.int64)
            slots = np.empty(PACKET, np.int64)
            for v in range(tj * leaf, min(tj * leaf + leaf, h)):
                pv, pu, prev_u = v, -1, -1  # previous query's nearest pixel and column
                slot = first[v]
                u = 0
                while u < w:
                    n = 0
                    while u < w and n < PACKET:
                        if mask[v, u]:
                            us[n] = u
                            slots[n] = slot
                            slot += 1
                            n += 1
                        u += 1
                    if n == 0:
                        break
                    wu0, wu1 = w, -1
                    wv0, wv1 = h, -1
                    for q in range(PACKET):
                        if q >= n:  # padding: a copy of the first query that never opens a node
                            qx[q], qy[q], qz[q], best[q] = qx[0], qy[0], qz[0], 0.0
                            continue
                        uq = us[q]
                        d = qdepth[v, uq]
                        qx[q], qy[q], qz[q] = xr[uq] * d, yr[v] * d, d
                        if pu < 0:
                            gv, gu = v, uq
                        else:
                            gv, gu = pv, min(max(pu + uq - prev_u, 0), w - 1)
                        best[q], bv[q], bu[q] = np.inf, v, uq
                        _scan_packet(depth, mask, xr, yr, max(gv - 1, 0), min(gv + 2, h),
                                     max(gu - 1, 0), min(gu + 2, w), qx, qy, qz, best, bv, bu, q,
                                     q + 1)
                        for _ in range(DESCENT_STEPS):
                            if bv[q] == gv and bu[q] == gu:
                                break
                            gv, gu = bv[q], bu[q]
                            _scan_packet(depth, mask, xr, yr, max(gv - 1, 0), min(gv + 2, h),
                                         max(gu - 1, 0), min(gu + 2, w), qx, qy, qz, best, bv, bu,
                                         q, q + 1)
                        pv, pu, prev_u = bv[q], bu[q], uq
                        m = _clearing_margin(qx[q], qy[q], qz[q], v, uq, w, h, xr, yr, ax, ay,
                                             best[q], spread)
                        wv0, wv1 = min(wv0, max(v - m, 0)), max(wv1, min(v + m, h - 1))
                        wu0, wu1 = min(wu0, max(uq - m, 0)), max(wu1, min(uq + m, w - 1))
                    lv = 0
                    while lv < nlev - 1 and (leaf << lv) < max(wv1 - wv0, wu1 - wu0) + 1:
                        lv += 1
                    size = leaf << lv
                    for sj in range(wv0 // size, wv1 // size + 1):
                        for si in range(wu0 // size, wu1 // size + 1):
                            _search_packet(depth, mask, xr, yr, leaf, nodes, kids, offs, nys, nxs,
                                           lv, sj, si, qx, qy, qz, best, bv, bu, st_l, st_j, st_i,
                                           lbs, wv0, wv1, wu0, wu1)
                    for q in range(n):
                        out[slots[q]] = math.sqrt(best[q])
                    pv, pu, prev_u = bv[n - 1], bu[n - 1], us[n - 1]

class DepthCloudIndex:
    """Search structure over the cloud of one depth map (pixels of ``mask``, given ray slopes).

    ``xr[u] = (u − cx)/fx`` and ``yr[v] = (v − cy)/fy``; a pixel's point is
    (xr[u]·d, yr[v]·d, d), the back-projection of :func:`dpbench.metrics.pointcloud.backproject`.
    """

    def __init__(self, depth: np.ndarray, mask: np.ndarray, xr: np.ndarray, yr: np.ndarray,
                 leaf: int = LEAF) -> None:
        if numba is None:
            raise RuntimeError("DepthCloudIndex needs numba (pip install numba)")
        if leaf < 1 or leaf & (leaf - 1):
            raise ValueError(f"leaf: expected a power of two, got {leaf}")
        self.depth = np.ascontiguousarray(depth, dtype=np.float64)
        self.mask = np.ascontiguousarray(mask, dtype=np.bool_)
        self.xr = np.ascontiguousarray(xr, dtype=np.float64)
        self.yr = np.ascontiguousarray(yr, dtype=np.float64)
        self.leaf = int(leaf)
        h, w = self.depth.shape
        nys, nxs = [-(-h // leaf)], [-(-w // leaf)]
        while nys[-1] > 1 or nxs[-1] > 1:
            nys.append(-(-nys[-1] // 2))
            nxs.append(-(-nxs[-1] // 2))
        sizes = [a * b for a, b in zip(nys, nxs, strict=True)]
        self.offs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.nys = np.asarray(nys, dtype=np.int64)
        self.nxs = np.asarray(nxs, dtype=np.int64)
        self.nodes = np.zeros((sum(sizes), _NCOL), dtype=np.float64)
        build = np.zeros((sum(sizes), _NBUILD), dtype=np.float64)
        _build_leaves(self.depth, self.mask, self.xr, self.yr, self.leaf, self.nodes, build,
                      nys[0], nxs[0])
        for lv in range(1, len(nys)):
            _build_parents(self.nodes, build, int(self.offs[lv - 1]), nys[lv - 1], nxs[lv - 1],
                           int(self.offs[lv]), nys[lv], nxs[lv], self.depth, self.mask, self.xr,
                           self.yr, self.leaf << lv, lv <= EXACT_LEVELS)
        self.kids = np.zeros((max(sum(sizes) - sizes[0], 1), _NCOL, 4), dtype=np.float64)
        if len(sizes) > 1:
            _build_kids(self.nodes, self.kids, self.offs, self.nys, self.nxs)

    def nearest(self, query_depth: np.ndarray) -> np.ndarray:
        """H×W distances from each masked pixel's query point (same rays, ``query_depth``) to this cloud.

        Unmasked pixels hold NaN.
        """
        out = np.full(self.depth.shape, np.nan)
        out[self.mask] = self.nearest_masked(query_depth)
        return out

    def nearest_masked(self, query_depth: np.ndarray) -> np.ndarray:
        """The distances of :meth:`nearest` for the masked pixels only, in row-major order (as
        ``array[mask]``), without the H×W map."""
        qd = np.ascontiguousarray(query_depth, dtype=np.float64)
        if qd.shape != self.depth.shape:
            raise ValueError(f"query_depth: expected shape {self.depth.shape}, got {qd.shape}")
        per_row = np.count_nonzero(self.mask, axis=1)
        first = np.concatenate([[0], np.cumsum(per_row)[:-1]]).astype(np.int64)
        out = np.empty(int(per_row.sum()))
        # Leaf rows interleaved so that the static split over threads gets a mix of easy and hard rows.
        order = np.argsort(_bit_reverse_order(int(self.nys[0])), kind="stable").astype(np.int64)
        ax = 1.0 / np.sqrt(1.0 + self.xr * self.xr)
        ay = 1.0 / np.sqrt(1.0 + self.yr * self.yr)
        # pixels per unit of ray slope, times the largest 1/ax, 1/ay: see _clearing_margin
        spread = max(_pixels_per_slope(self.xr) / ax.min(), _pixels_per_slope(self.yr) / ay.min())
        _query_all(qd, self.depth, self.mask, self.xr, self.yr, ax, ay, spread, self.leaf, self.nodes,
                   self.kids, self.offs, self.nys, self.nxs, order, first, out)
        return out


def _pixels_per_slope(slopes: np.ndarray) -> float:
    """Pixels per unit of ray slope (the focal length) from the per-pixel slopes; 0 for one pixel."""
    if slopes.size < 2:
        return 0.0
    return float(1.0 / np.min(np.abs(np.diff(slopes))))


def _bit_reverse_order(n: int) -> np.ndarray:
    """A key per row index that spreads neighbouring rows apart (bit-reversed position)."""
    bits = max(1, (n - 1).bit_length())
    idx = np.arange(n)
    rev = np.zeros(n, dtype=np.int64)
    for b in range(bits):
        rev |= ((idx >> b) & 1) << (bits - 1 - b)
    return rev


def depth_cloud_nearest(query_depth: np.ndarray, target_depth: np.ndarray, mask: np.ndarray,
                        fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """Exact distance from each masked pixel's query point to the nearest masked target point.

    Both clouds are the back-projections of their depth maps on the pixels of ``mask`` with the
    same intrinsics; returns an H×W float64 array (NaN off the mask).
    """
    h, w = target_depth.shape
    xr = (np.arange(w, dtype=np.float64) - cx) / fx
    yr = (np.arange(h, dtype=np.float64) - cy) / fy
    return DepthCloudIndex(target_depth, mask, xr, yr).nearest(query_depth)


__all__ = ["LEAF", "DepthCloudIndex", "depth_cloud_nearest"]
