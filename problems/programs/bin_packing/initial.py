"""Online bin packing (FunSearch's benchmark): the priority function that places each item.

Items arrive one at a time and must be placed at once. For each item the packer calls
`priority(item, bins)` with the remaining capacities of every bin the item fits in (the last
entry is always a fresh, empty bin) and puts the item into the bin with the highest score. Fewer
bins is better. This first version is best fit.
"""

import numpy as np  # noqa: F401  (available to evolved versions of priority)


# EVOLVE-BLOCK-START
def priority(item, bins):
    """Score the bins for `item`: best fit prefers the bin left with the least free space.

    Args:
        item: Size of the item to place (a float).
        bins: Remaining capacities of the bins the item fits in, shape (k,); the last entry is
            a new, empty bin.

    Returns:
        Scores of shape (k,); the item goes into the bin with the highest score (the first one
        on ties).
    """
    return -(bins - item)
# EVOLVE-BLOCK-END
