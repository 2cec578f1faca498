"""Circle packing: 26 disjoint circles inside the unit square, maximising the sum of their radii.

The evaluator calls `run_packing()`, which returns `(centers, radii)` with shapes (26, 2) and
(26,). Every circle must lie inside [0, 1] x [0, 1] and no two circles may overlap. This first
version puts the circles on two rings around the centre and grows them greedily; the best known
sum of radii is about 2.635.
"""

import numpy as np

N_CIRCLES = 26


# EVOLVE-BLOCK-START
def construct_packing():
    """Place one circle in the centre, 8 on an inner ring and 17 on an outer ring."""
    centers = [[0.5, 0.5]]
    for k in range(8):
        angle = 2 * np.pi * k / 8
        centers.append([0.5 + 0.25 * np.cos(angle), 0.5 + 0.25 * np.sin(angle)])
    for k in range(17):
        angle = 2 * np.pi * k / 17
        centers.append([0.5 + 0.4 * np.cos(angle), 0.5 + 0.4 * np.sin(angle)])
    centers = np.clip(np.array(centers), 0.01, 0.99)
    return centers, compute_max_radii(centers)


def compute_max_radii(centers):
    """Return radii that keep fixed circles inside the square and apart from each other.

    Each radius starts at the distance to the nearest side; every overlapping pair is then
    shrunk in proportion until it just touches. Radii only ever shrink, so the result is valid.
    """
    n = len(centers)
    radii = np.minimum.reduce(
        [centers[:, 0], centers[:, 1], 1 - centers[:, 0], 1 - centers[:, 1]]
    )
    for i in range(n):
        for j in range(i + 1, n):
            distance = np.sqrt(np.sum((centers[i] - centers[j]) ** 2))
            if radii[i] + radii[j] > distance:
                scale = distance / (radii[i] + radii[j])
                radii[i] *= scale
                radii[j] *= scale
    return radii
# EVOLVE-BLOCK-END


def run_packing():
    """Return the packing for the evaluator: centers (N_CIRCLES, 2) and radii (N_CIRCLES,)."""
    centers, radii = construct_packing()
    return np.asarray(centers, dtype=float), np.asarray(radii, dtype=float)
