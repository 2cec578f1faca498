import numpy as np
import pytest

from qd.report.geometry import VIRIDIS, _mirrored_cells, svg_path, viridis, voronoi_cells


def area(poly):
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))


def test_voronoi_cells_tile_the_box_and_hold_their_centroid():
    rng = np.random.default_rng(0)
    lo, hi = np.array([-2.0, 1.0]), np.array([3.0, 2.5])
    centroids = lo + rng.random((60, 2)) * (hi - lo)
    cells = voronoi_cells(centroids, lo, hi)
    assert len(cells) == 60
    assert sum(area(c) for c in cells) == pytest.approx(5.0 * 1.5, rel=1e-9)
    for c in cells:
        assert np.all(c >= lo - 1e-12) and np.all(c <= hi + 1e-12)
    # a random point belongs to the cell of its nearest centroid
    for p in lo + rng.random((200, 2)) * (hi - lo):
        k = int(np.argmin(np.linalg.norm(centroids - p, axis=1)))
        poly = cells[k]
        edges = np.roll(poly, -1, axis=0) - poly
        cross = edges[:, 0] * (p[1] - poly[:, 1]) - edges[:, 1] * (p[0] - poly[:, 0])
        assert np.all(cross >= -1e-9)  # counter-clockwise convex polygon contains p


def assert_same_cells(a, b):
    assert len(a) == len(b)
    for p, q in zip(a, b, strict=True):
        assert p.shape == q.shape
        np.testing.assert_allclose(p, q, atol=1e-12)


def test_mirroring_near_sides_only_gives_the_exact_cells():
    rng = np.random.default_rng(1)
    lo, hi = np.zeros(2), np.ones(2)
    points = rng.random((3000, 2))
    partial = _mirrored_cells(points, lo, hi, 4 * np.sqrt(1 / 3000))
    assert partial is not None
    assert_same_cells(partial, _mirrored_cells(points, lo, hi, np.inf))


def test_falls_back_to_mirroring_all_when_a_cell_reaches_out():
    lo, hi = np.zeros(2), np.ones(2)
    cluster = 0.01 + 0.02 * np.random.default_rng(2).random((999, 2))
    points = np.vstack([cluster, [[0.6, 0.6]]])  # its cell reaches the far sides
    assert _mirrored_cells(points, lo, hi, 4 * np.sqrt(1 / 1000)) is None
    cells = voronoi_cells(points, lo, hi)
    assert_same_cells(cells, _mirrored_cells(points, lo, hi, np.inf))
    assert sum(area(c) for c in cells) == pytest.approx(1.0, rel=1e-9)


def test_voronoi_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"shape \(K, 2\)"):
        voronoi_cells(np.zeros((4, 3)), np.zeros(2), np.ones(2))


def test_svg_path_has_one_closed_subpath_per_polygon():
    triangle = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0 / 3.0]])
    assert svg_path([triangle, triangle + 2]) == (
        "M0,0L1,0L1,0.3333333Z" "M2,2L3,2L3,2.333333Z")
    assert svg_path([triangle], digits=3) == "M0,0L1,0L1,0.333Z"


def test_viridis_endpoints_and_midpoints():
    assert viridis(0.0) == VIRIDIS[0] and viridis(1.0) == VIRIDIS[-1]
    assert viridis(-3) == VIRIDIS[0] and viridis(7) == VIRIDIS[-1]
    assert viridis(1 / 9) == VIRIDIS[1]
    assert viridis(1 / 18) == "#461466"  # halfway between #440154 and #482878
