"""Closed tube meshes along joint chains, with skinning weights and part UV charts.

A *chain* is a list of control points, each a centre (a point between two joints plus an
offset), two cross-section radii and skinning weights. Rings of vertices are swept along
the centre line; radii follow a smooth (Catmull-Rom) profile and skinning weights blend
linearly between control points, so a bending joint stretches one ring into the next
instead of opening a crack. Both ends are capped, so every tube is a closed surface, and
linear blend skinning never changes a mesh's connectivity: posed tubes stay closed.

A ring's angle ``theta`` starts at the chain's ``side`` axis and turns towards its
``front`` axis. Parts with two halves put ``0 < theta < pi`` in the first id (front or
left) and the rest in the second; U runs over each half from the side axis (0) to the
opposite side (1), so the two halves' charts mirror each other, and V runs along the
part from its proximal end. Whole parts (hands, feet) take U = theta / 2pi.

Everything here is linear in the joint positions, the offsets' scale and the radii's
scale, which is what lets the open model express shape as linear blend shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ptx.body.parts import N_JOINTS


@dataclass(frozen=True)
class ControlPoint:
    a: int
    """First joint of the centre."""
    b: int
    """Second joint; the centre is ``(1 - t) J[a] + t J[b] + offset``."""
    t: float
    offset: tuple[float, float, float]
    ra: float
    """Radius along the chain's side axis (metres)."""
    rb: float
    """Radius along the chain's front axis."""
    weights: dict[int, float]
    """Skinning weight per joint (normalised when the mesh is built)."""


@dataclass(frozen=True)
class Chain:
    points: tuple[ControlPoint, ...]
    rings: tuple[int, ...]
    """Rings added along each segment (between consecutive control points)."""
    parts: tuple[tuple[int, int], ...]
    """(first, second) part id of each segment; equal ids make a whole part."""
    side: tuple[float, float, float]
    front: tuple[float, float, float]
    around: int
    """Vertices per ring (even)."""
    group: str
    """Which girth / offset scale applies (torso, arm, hand, leg, foot, head)."""


@dataclass
class TubeLayout:
    """What does not depend on shape: per-ring frames, interpolation, UV, faces."""

    chain: Chain
    lerp: np.ndarray
    """(R, P) weight of each control point's centre in each ring centre."""
    radius: np.ndarray
    """(R, P) weight of each control point's radii in each ring's radii."""
    side: np.ndarray
    """(R, 3) unit side axis per ring."""
    front: np.ndarray
    """(R, 3) unit front axis per ring."""
    cap_dir: np.ndarray
    """(2, 3) unit outward direction of the start and end caps."""
    skin: np.ndarray
    """(N, 24) skinning weights of every vertex (rings then the two tips)."""
    faces: np.ndarray
    """(F, 3) int, local vertex indices."""
    face_part: np.ndarray
    face_uv: np.ndarray


def _ring_params(chain: Chain) -> tuple[np.ndarray, np.ndarray]:
    """Per ring: the segment index and the fraction along it."""
    seg, frac = [0], [0.0]
    for s, n in enumerate(chain.rings):
        for k in range(1, n + 1):
            seg.append(s)
            frac.append(k / n)
    return np.array(seg), np.array(frac)


def _catmull_rom(n_points: int, seg: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """(R, P) Catmull-Rom weights of the control values at each ring (clamped ends)."""
    out = np.zeros((len(seg), n_points))
    for r, (s, f) in enumerate(zip(seg, frac)):
        idx = [max(s - 1, 0), s, min(s + 1, n_points - 1), min(s + 2, n_points - 1)]
        f2, f3 = f * f, f * f * f
        coef = [
            -0.5 * f3 + f2 - 0.5 * f,
            1.5 * f3 - 2.5 * f2 + 1.0,
            -1.5 * f3 + 2.0 * f2 + 0.5 * f,
            0.5 * f3 - 0.5 * f2,
        ]
        for i, c in zip(idx, coef):
            out[r, i] += c
    return out


def centres(chain: Chain, joints: np.ndarray, offset_scale: float = 1.0) -> np.ndarray:
    """(P, 3) control point centres for ``joints`` (24, 3)."""
    return np.array(
        [
            (1 - p.t) * joints[p.a] + p.t * joints[p.b] + offset_scale * np.array(p.offset)
            for p in chain.points
        ]
    )


def layout(chain: Chain, joints: np.ndarray) -> TubeLayout:
    """Build the shape-independent parts of a tube from the mean-shape ``joints``."""
    n_p = len(chain.points)
    seg, frac = _ring_params(chain)
    lerp = np.zeros((len(seg), n_p))
    lerp[np.arange(len(seg)), seg] = 1 - frac
    nxt = np.minimum(seg + 1, n_p - 1)
    lerp[np.arange(len(seg)), nxt] += frac
    radius = _catmull_rom(n_p, seg, frac)
    ring_c = lerp @ centres(chain, joints)
    tangent = np.gradient(ring_c, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    side = np.array(chain.side, float) - (tangent @ np.array(chain.side, float))[:, None] * tangent
    side /= np.linalg.norm(side, axis=1, keepdims=True)
    front = np.array(chain.front, float)
    front = front - (tangent @ front)[:, None] * tangent - (side @ front)[:, None] * side
    front /= np.linalg.norm(front, axis=1, keepdims=True)

    ctrl_w = np.zeros((n_p, N_JOINTS))
    for i, p in enumerate(chain.points):
        for j, w in p.weights.items():
            ctrl_w[i, j] = w
    ctrl_w /= ctrl_w.sum(1, keepdims=True)
    ring_w = lerp @ ctrl_w
    n_ring, n_around = len(seg), chain.around
    skin = np.concatenate([np.repeat(ring_w, n_around, 0), ring_w[[0, -1]]])

    faces, parts, uvs = _faces(chain, seg, ring_c, n_ring)
    cap_dir = np.stack([-tangent[0], tangent[-1]])
    return TubeLayout(
        chain=chain,
        lerp=lerp,
        radius=radius,
        side=side,
        front=front,
        cap_dir=cap_dir,
        skin=skin,
        faces=faces,
        face_part=parts,
        face_uv=uvs,
    )


def _run_bounds(chain: Chain, ring_c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arc length of each ring, and for each segment the arc length where its part's run
    of segments starts and ends (V runs from 0 to 1 over a run)."""
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(ring_c, axis=0), axis=1))])
    bounds = np.concatenate([[0], np.cumsum(chain.rings)])
    n_seg = len(chain.rings)
    lo, hi = np.zeros(n_seg), np.zeros(n_seg)
    s = 0
    while s < n_seg:
        e = s
        while e + 1 < n_seg and chain.parts[e + 1] == chain.parts[s]:
            e += 1
        lo[s : e + 1], hi[s : e + 1] = arc[bounds[s]], arc[bounds[e + 1]]
        s = e + 1
    return arc, lo, hi


def _faces(chain: Chain, seg: np.ndarray, ring_c: np.ndarray, n_ring: int):
    n = chain.around
    arc, lo, hi = _run_bounds(chain, ring_c)
    faces, parts, uvs = [], [], []
    for r in range(n_ring - 1):
        s = seg[r + 1]
        v0, v1 = (arc[r] - lo[s]) / (hi[s] - lo[s]), (arc[r + 1] - lo[s]) / (hi[s] - lo[s])
        first, second = chain.parts[s]
        for i in range(n):
            a, b = r * n + i, r * n + (i + 1) % n
            c, d = (r + 1) * n + (i + 1) % n, (r + 1) * n + i
            pid, u0, u1 = _u(first, second, i, n)
            faces += [(a, b, c), (a, c, d)]
            parts += [pid, pid]
            uvs += [[(u0, v0), (u1, v0), (u1, v1)], [(u0, v0), (u1, v1), (u0, v1)]]
    tips = (n_ring * n, n_ring * n + 1)
    for end, r, s, vv in ((0, 0, 0, 0.0), (1, n_ring - 1, len(chain.rings) - 1, 1.0)):
        first, second = chain.parts[s]
        for i in range(n):
            a, b = r * n + i, r * n + (i + 1) % n
            pid, u0, u1 = _u(first, second, i, n)
            um = (u0 + u1) / 2
            if end == 0:
                faces.append((tips[0], b, a))
                uvs.append([(um, vv), (u1, vv), (u0, vv)])
            else:
                faces.append((a, b, tips[1]))
                uvs.append([(u0, vv), (u1, vv), (um, vv)])
            parts.append(pid)
    return np.array(faces), np.array(parts, np.uint8), np.array(uvs, np.float32)


def _u(first: int, second: int, i: int, n: int) -> tuple[int, float, float]:
    """Part id and U at both edges of quad column ``i`` of ``n``."""
    if first == second:
        return first, i / n, (i + 1) / n
    half = n // 2
    if i < half:
        return first, i / half, (i + 1) / half
    return second, (n - i) / half, (n - i - 1) / half


def vertices(lay: TubeLayout, joints: np.ndarray, radius_scale: float, offset_scale: float):
    """(N, 3) vertex positions of a tube for ``joints`` (24, 3)."""
    ch = lay.chain
    c = lay.lerp @ centres(ch, joints, offset_scale)
    ra = lay.radius @ np.array([p.ra for p in ch.points]) * radius_scale
    rb = lay.radius @ np.array([p.rb for p in ch.points]) * radius_scale
    theta = 2 * np.pi * np.arange(ch.around) / ch.around
    ring = (
        c[:, None]
        + (ra[:, None] * np.cos(theta))[..., None] * lay.side[:, None]
        + (rb[:, None] * np.sin(theta))[..., None] * lay.front[:, None]
    )
    r_end = (ra[[0, -1]] + rb[[0, -1]]) / 2
    tips = c[[0, -1]] + 0.5 * r_end[:, None] * lay.cap_dir
    return np.concatenate([ring.reshape(-1, 3), tips])


def orient_outward(verts: np.ndarray, faces: np.ndarray) -> bool:
    """Whether ``faces`` wind counter-clockwise seen from outside (positive volume)."""
    v0, v1, v2 = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    return float(np.einsum("ij,ij->", v0, np.cross(v1, v2))) > 0
