"""The minimum-cost assignment of a square cost matrix, compiled with numba so the crystal matcher can call it thousands
of times a second from its own compiled loop. The algorithm is the shortest augmenting path with dual potentials
(Jonker-Volgenant as Crouse, IEEE TAES 2016, describes it) that `scipy.optimize.linear_sum_assignment` implements, with
its order of rows and columns and its rule on ties (among the cheapest columns, a free one ends the path), so that on a
cost matrix with several optimal assignments it picks the one scipy picks (`tests/test_crystal_fit.py` compares them
on random and tie-heavy matrices).
"""
import numpy as np
from numba import njit

INF = np.inf


@njit(cache=True)
def _shortest_path(cost: np.ndarray, u: np.ndarray, v: np.ndarray, row4col: np.ndarray, row: int, path: np.ndarray,
                   reached_rows: np.ndarray, reached_cols: np.ndarray, lengths: np.ndarray,
                   remaining: np.ndarray) -> tuple[int, float]:
    """Dijkstra over reduced costs from free row `row` to a free column: → (that column, the path's length); `path`
    holds each column's predecessor row, `remaining` (N,) is scratch space."""
    n = cost.shape[0]
    for it in range(n):
        remaining[it] = n - 1 - it  # columns not yet reached, scanned in this order
    left = n
    reached_rows[:] = False
    reached_cols[:] = False
    lengths[:] = INF
    shortest, i = 0.0, row
    while True:
        reached_rows[i] = True
        lowest, index = INF, -1
        for it in range(left):
            j = remaining[it]
            r = shortest + cost[i, j] - u[i] - v[j]
            if r < lengths[j]:
                path[j] = i
                lengths[j] = r
            if lengths[j] < lowest or (lengths[j] == lowest and row4col[j] == -1):
                lowest, index = lengths[j], it
        shortest = lowest
        j = remaining[index]
        reached_cols[j] = True
        left -= 1
        remaining[index] = remaining[left]
        if row4col[j] == -1:
            return j, shortest
        i = row4col[j]


@njit(cache=True)
def _distinct_row_minima(cost: np.ndarray) -> np.ndarray:
    """Each row's cheapest column (N,) when every row has one cheaper than its others and no two rows share it: then no
    other assignment is as cheap, so it is the one any exact method returns; otherwise -1s."""
    n = cost.shape[0]
    cols, taken = np.full(n, -1), np.zeros(n, np.bool_)
    for i in range(n):
        best, second = 0, -1
        for j in range(1, n):
            if cost[i, j] < cost[i, best]:
                best, second = j, best
            elif second < 0 or cost[i, j] < cost[i, second]:
                second = j
        if (second >= 0 and cost[i, second] == cost[i, best]) or taken[best]:
            return np.full(n, -1)
        cols[i], taken[best] = best, True
    return cols


@njit(cache=True)
def assignment(cost: np.ndarray) -> np.ndarray:
    """Column of each row (N,) in the assignment of the finite square `cost` (N, N) with the least total."""
    n = cost.shape[0]
    cheapest = _distinct_row_minima(cost)
    if cheapest[0] >= 0:
        return cheapest
    u, v, lengths = np.zeros(n), np.zeros(n), np.empty(n)
    path, col4row, row4col = np.full(n, -1), np.full(n, -1), np.full(n, -1)
    reached_rows, reached_cols, remaining = np.zeros(n, np.bool_), np.zeros(n, np.bool_), np.empty(n, np.int64)
    for row in range(n):
        sink, shortest = _shortest_path(cost, u, v, row4col, row, path, reached_rows, reached_cols, lengths, remaining)
        u[row] += shortest
        for i in range(n):
            if reached_rows[i] and i != row:
                u[i] += shortest - lengths[col4row[i]]
        for j in range(n):
            if reached_cols[j]:
                v[j] -= shortest - lengths[j]
        j = sink
        while True:  # flip the path's edges back to `row`
            i = path[j]
            row4col[j] = i
            col4row[i], j = j, col4row[i]
            if i == row:
                break
    return col4row
