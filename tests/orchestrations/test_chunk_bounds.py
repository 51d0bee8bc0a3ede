"""How agent_batch splits a large run into sub-orchestrations."""

from __future__ import annotations

import itertools
import math

import pytest

from orchestrations.agent_batch import chunk_bounds


@pytest.mark.parametrize("start", [0, 7])
def test_chunks_cover_the_run_once_in_order_with_sizes_one_apart(start: int) -> None:
    for chunk_size in range(1, 13):
        for size in range(1, 60):
            bounds = chunk_bounds(start, start + size, chunk_size)
            assert bounds[0][0] == start and bounds[-1][1] == start + size
            assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
            sizes = [end - first for first, end in bounds]
            # As many chunks as full chunks and a short last one: the same instance ids.
            assert len(bounds) == math.ceil(size / chunk_size)
            assert max(sizes) <= chunk_size and max(sizes) - min(sizes) <= 1


def test_a_short_last_chunk_is_spread_over_the_others() -> None:
    assert chunk_bounds(0, 6000, 5000) == [(0, 3000), (3000, 6000)]
    assert chunk_bounds(0, 10_000, 5000) == [(0, 5000), (5000, 10_000)]
    assert chunk_bounds(0, 10_001, 5000) == [(0, 3334), (3334, 6668), (6668, 10_001)]
