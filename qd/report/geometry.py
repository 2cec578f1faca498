"""Plot geometry: bounded 2-D Voronoi cells of CVT centroids and colours on the Viridis scale."""

from __future__ import annotations

import numpy as np
from scipy.spatial import Voronoi

#: plotly's "Viridis" colour scale anchors (evenly spaced from 0 to 1).
VIRIDIS = ("#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779",
           "#6ece58", "#b5de2b", "#fde725")


#: Centroids within this many typical cell spacings of a side are mirrored across it.
MIRROR_SPACINGS = 4.0


def voronoi_cells(centroids: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> list[np.ndarray]:
    """Compute the Voronoi cell of each centroid, clipped to the box [lower, upper].

    Centroids near a side of the box are mirrored across it, which closes the cells at the
    sides: a mirror image never takes a point of the box from a centroid's cell, so every cell
    that ends up inside the box is exact. Mirroring only the centroids near the sides keeps
    Qhull's input small; should a cell still reach outside the box, all centroids are mirrored.

    Args:
        centroids: Points inside the box, shape (K, 2).
        lower: Box corner, shape (2,).
        upper: Opposite box corner, shape (2,).

    Returns:
        K polygons, each an array of vertices of shape (V, 2) in counter-clockwise order.
    """
    points = np.asarray(centroids, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"centroids must have shape (K, 2), got {points.shape}")
    lo, hi = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    points = np.clip(points, lo, hi)
    spacing = float(np.sqrt(np.prod(hi - lo) / len(points)))
    cells = _mirrored_cells(points, lo, hi, MIRROR_SPACINGS * spacing)
    if cells is None:
        cells = _mirrored_cells(points, lo, hi, np.inf)
    assert cells is not None, "mirroring every centroid always bounds the cells"
    return cells


def _mirrored_cells(points: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                    reach: float) -> list[np.ndarray] | None:
    """Cells from mirroring the points within `reach` of each side; None if one leaves the box."""
    mirrored = [points]
    for axis in (0, 1):
        for edge in (lo[axis], hi[axis]):
            near = points[np.abs(points[:, axis] - edge) <= reach].copy()
            near[:, axis] = 2 * edge - near[:, axis]
            mirrored.append(near)
    vor = Voronoi(np.concatenate(mirrored))
    tolerance = 1e-9 * float(np.max(hi - lo))
    cells = []
    for i in range(len(points)):
        region = vor.regions[vor.point_region[i]]
        if not region or -1 in region:
            return None
        vertices = vor.vertices[region]
        if np.any(vertices < lo - tolerance) or np.any(vertices > hi + tolerance):
            return None
        vertices = np.clip(vertices, lo, hi)
        centre = vertices.mean(axis=0)
        angles = np.arctan2(vertices[:, 1] - centre[1], vertices[:, 0] - centre[0])
        cells.append(vertices[np.argsort(angles)])
    return cells


def svg_path(polygons: list[np.ndarray], digits: int = 7) -> str:
    """Return one SVG path string of closed sub-paths (`M x,y L … Z`), one per polygon."""
    parts = []
    for poly in polygons:
        points = "L".join(f"{x:.{digits}g},{y:.{digits}g}" for x, y in poly.tolist())
        parts.append(f"M{points}Z")
    return "".join(parts)


def viridis(t: float) -> str:
    """Return the Viridis colour at `t` in [0, 1] as `#rrggbb` (linear between anchors)."""
    t = min(max(float(t), 0.0), 1.0) * (len(VIRIDIS) - 1)
    i = min(int(t), len(VIRIDIS) - 2)
    a, b = _rgb(VIRIDIS[i]), _rgb(VIRIDIS[i + 1])
    frac = t - i
    return "#" + "".join(f"{round(x + (y - x) * frac):02x}" for x, y in zip(a, b, strict=True))


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
