"""`crystal_fit`'s loops, compiled with numba: StructureMatcher's steps for one pair of crystals a and b, from the bases
of a's lattice that could be b's to the test on the sites, and `fit_codes`, which asks them of one crystal against
many. Each computes what pymatgen computes, in its order of arithmetic where a comparison reads the result: the
lattice parameters and average lattices (`Lattice.parameters`, `Lattice.from_parameters`), the per-axis fractional
screen (`is_coord_subset_pbc`), the LLL reduction (`Lattice._calculate_lll`), the shortest vectors over the 27 images
of the LLL cell with the per-axis skip (`pbc_shortest_vectors`), scipy's assignment of the squared distances
(`assignment`), and the final test: the assigned vectors' distances from their mean, normalised by
(volume / site)^(1/3), all under stol.

The assignment is the shortest augmenting path with dual potentials (Jonker-Volgenant as Crouse, IEEE TAES 2016,
describes it) that `scipy.optimize.linear_sum_assignment` runs, with its order of rows and columns and its rule on ties
(among the cheapest columns, a free one ends the path), so that where several assignments are optimal it picks scipy's.
Everything compiled lives in this one file: numba's cache does not notice edits to a function in another file that a
cached one calls.
"""
import math

import numpy as np
from numba import njit

INF = np.inf
FAR = 1e20  # pymatgen's distance and vector for a pair it skips
NO, FIT, NEAR_TIE = 0, 1, 2  # a pair's answer; NEAR_TIE: no basis fits but one's LLL reduction is pymatgen's to decide
SHIFTS = np.array([(a, b, c) for a in (-1.0, 0.0, 1.0) for b in (-1.0, 0.0, 1.0) for c in (-1.0, 0.0, 1.0)])  # (27, 3)


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
def _distinct_row_minima(cost: np.ndarray, cols: np.ndarray, taken: np.ndarray) -> bool:
    """Whether every row has a column cheaper than its others and no two rows share it (then no other assignment is as
    cheap, so it is the one any exact method returns); if so, `cols` (N,) holds them. `taken` (N,) is scratch space."""
    n = cost.shape[0]
    taken[:] = False
    for i in range(n):
        best, second = 0, -1
        for j in range(1, n):
            if cost[i, j] < cost[i, best]:
                best, second = j, best
            elif second < 0 or cost[i, j] < cost[i, second]:
                second = j
        if (second >= 0 and cost[i, second] == cost[i, best]) or taken[best]:
            return False
        cols[i], taken[best] = best, True
    return True


@njit(cache=True)
def assignment(cost: np.ndarray) -> np.ndarray:
    """Column of each row (N,) in the assignment of the finite square `cost` (N, N) with the least total."""
    return assign(cost, workspace(cost.shape[0]))


@njit(cache=True)
def workspace(n: int) -> tuple:
    """Scratch arrays for `assign` on N × N costs, so that a caller solving many reuses them: potentials u, v (N,),
    path lengths (N,), each column's predecessor row, each row's column, each column's row (N,), rows and columns
    reached (N,), columns left to scan (N,)."""
    return (np.zeros(n), np.zeros(n), np.empty(n), np.full(n, -1), np.full(n, -1), np.full(n, -1),
            np.zeros(n, np.bool_), np.zeros(n, np.bool_), np.empty(n, np.int64))


@njit(cache=True)
def assign(cost: np.ndarray, workspace: tuple) -> np.ndarray:
    """`assignment` with the scratch arrays of `workspace(N)`; the result is one of them (copy it to keep it)."""
    n = cost.shape[0]
    u, v, lengths, path, col4row, row4col, reached_rows, reached_cols, remaining = workspace
    if _distinct_row_minima(cost, col4row, reached_cols):
        return col4row
    u[:] = 0.0
    v[:] = 0.0
    path[:] = -1
    col4row[:] = -1
    row4col[:] = -1
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


@njit(cache=True)
def _cartesian(frac: np.ndarray, matrix: np.ndarray, wrap: bool) -> np.ndarray:
    """Rows of `frac` (N, 3), wrapped into [0, 1) if asked, times `matrix` (3, 3), summed in pymatgen's order → (N, 3)."""
    out = np.zeros((frac.shape[0], 3))
    for j in range(3):
        for k in range(3):
            for i in range(frac.shape[0]):
                x = frac[i, k] % 1.0 if wrap else frac[i, k]
                out[i, j] += x * matrix[k, j]
    return out


@njit(cache=True)
def _axis_tolerance(matrix: np.ndarray, normalization: float, stol: float) -> np.ndarray:
    """StructureMatcher's per-axis fractional tolerance for lattice rows `matrix` (3, 3): 2 stol / normalization times
    the length of each column of its inverse → (3,)."""
    inverse, tol = np.linalg.inv(matrix), np.empty(3)
    for axis in range(3):
        tol[axis] = 2 * math.sqrt(np.sum(inverse[:, axis] ** 2)) * stol / normalization
    return tol


@njit(cache=True)
def _close(x: np.ndarray, i: int, y: np.ndarray, j: int, tol: np.ndarray) -> bool:
    """Whether fractional points x[i] and y[j] (rows of (N, 3) arrays) are within `tol` (3,) of each other on every
    axis, periodically."""
    for axis in range(3):
        d = x[i, axis] - y[j, axis]
        if abs(d - np.round(d)) > tol[axis]:
            return False
    return True


@njit(cache=True)
def parameters(m: np.ndarray) -> np.ndarray:
    """(a, b, c, α, β, γ) of the lattice with rows m (3, 3) → (6,)."""
    p = np.empty(6)
    for i in range(3):
        p[i] = math.sqrt(m[i, 0] ** 2 + m[i, 1] ** 2 + m[i, 2] ** 2)
    for i in range(3):
        j, k = (i + 1) % 3, (i + 2) % 3
        cosine = (m[j, 0] * m[k, 0] + m[j, 1] * m[k, 1] + m[j, 2] * m[k, 2]) / (p[j] * p[k])
        p[3 + i] = math.degrees(math.acos(min(1.0, max(-1.0, cosine))))
    return p


@njit(cache=True)
def from_parameters(p: np.ndarray) -> np.ndarray:
    """Lattice rows (3, 3) from parameters p (6,), oriented as pymatgen's `Lattice.from_parameters`."""
    cos_a, cos_b, cos_g = math.cos(math.radians(p[3])), math.cos(math.radians(p[4])), math.cos(math.radians(p[5]))
    sin_a, sin_b = math.sin(math.radians(p[3])), math.sin(math.radians(p[4]))
    gamma_star = math.acos(min(1.0, max(-1.0, (cos_a * cos_b - cos_g) / (sin_a * sin_b))))
    m = np.zeros((3, 3))
    m[0, 0], m[0, 2] = p[0] * sin_b, p[0] * cos_b
    m[1, 0], m[1, 1], m[1, 2] = -p[1] * sin_a * math.cos(gamma_star), p[1] * sin_a * math.sin(gamma_star), p[1] * cos_a
    m[2, 2] = p[2]
    return m


@njit(cache=True)
def _degrees(u: np.ndarray, v: np.ndarray) -> float:
    """The angle between vectors u and v (3,) in degrees."""
    x = (u[0] * v[0] + u[1] * v[1] + u[2] * v[2]) / math.sqrt(np.sum(u * u)) / math.sqrt(np.sum(v * v))
    return math.degrees(math.acos(min(1.0, max(-1.0, x))))


@njit(cache=True)
def lattice_bases(n: np.ndarray, cart: np.ndarray, length: np.ndarray, matrix: np.ndarray, p: np.ndarray,
                  ltol: float, angle_tol: float) -> np.ndarray:
    """Every basis (B, 3, 3) of the lattice `matrix` (3, 3) whose lengths lie within a factor 1 + ltol of the target
    parameters p (6,) and angles within angle_tol degrees, unimodular (pymatgen's `Lattice.find_all_mappings`), given
    the lattice's points as integer coordinates n (P, 3), Cartesian points `cart` (P, 3) of any scale and lengths
    (P,) in `matrix`'s scale."""
    candidates = []
    for axis in range(3):
        ratio = length / p[axis]
        candidates.append(np.nonzero((ratio < 1 + ltol) & (ratio > 1 / (1 + ltol)))[0])
    ia, ib, ic = candidates[0], candidates[1], candidates[2]
    gamma = np.zeros((len(ia), len(ib)), np.bool_)
    beta = np.zeros((len(ia), len(ic)), np.bool_)
    alpha = np.zeros((len(ib), len(ic)), np.bool_)
    for x in range(len(ia)):
        for y in range(len(ib)):
            gamma[x, y] = abs(_degrees(cart[ia[x]], cart[ib[y]]) - p[5]) <= angle_tol
        for z in range(len(ic)):
            beta[x, z] = abs(_degrees(cart[ia[x]], cart[ic[z]]) - p[4]) <= angle_tol
    for y in range(len(ib)):
        for z in range(len(ic)):
            alpha[y, z] = abs(_degrees(cart[ib[y]], cart[ic[z]]) - p[3]) <= angle_tol
    found = []
    for x in range(len(ia)):
        i = n[ia[x]]
        for y in range(len(ib)):
            if not gamma[x, y]:
                continue
            j = n[ib[y]]
            for z in range(len(ic)):
                if beta[x, z] and alpha[y, z]:
                    k = n[ic[z]]
                    det = (i[0] * (j[1] * k[2] - j[2] * k[1]) - i[1] * (j[0] * k[2] - j[2] * k[0])
                           + i[2] * (j[0] * k[1] - j[1] * k[0]))  # integer, exactly
                    if abs(det) == 1:
                        found.append((ia[x], ib[y], ic[z]))
    bases = np.zeros((len(found), 3, 3))
    for b in range(len(found)):
        for r in range(3):
            bases[b, r] = _cartesian(n[found[b][r]].astype(np.float64).reshape(1, 3), matrix, False)[0]
    return bases


@njit(cache=True)
def screen(sites1: np.ndarray, bases: np.ndarray, p2: np.ndarray, frac2: np.ndarray, anchor: int, targets: np.ndarray,
           forbidden: np.ndarray, stol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each basis (B, 3, 3) of a's lattice: a's sites (Cartesian `sites1` (N1, 3), scaled) in its fractional
    coordinates, the average of it and b's lattice (parameters p2 (6,)), that lattice's normalisation
    (sites / volume)^(1/3), and which translations pass StructureMatcher's screen: those putting b's site `anchor` on
    a's sites `targets` (T,) where every b site (N2, 3) lands within the per-axis fractional tolerance of an a site of
    its species → frac1 (B, N1, 3), avg (B, 3, 3), normalization (B,), passing (B, T)."""
    n_bases, n1, n2 = bases.shape[0], sites1.shape[0], frac2.shape[0]
    frac1, avg = np.empty((n_bases, n1, 3)), np.empty((n_bases, 3, 3))
    normalization, passing = np.empty(n_bases), np.zeros((n_bases, targets.shape[0]), np.bool_)
    for k in range(n_bases):
        f = sites1 @ np.linalg.inv(bases[k])
        frac1[k] = f - np.floor(f)
        avg[k] = from_parameters((parameters(bases[k]) + p2) / 2)
        normalization[k] = (n1 / abs(np.linalg.det(avg[k]))) ** (1 / 3)
        tol = _axis_tolerance(avg[k], normalization[k], stol)
        for t in range(targets.shape[0]):
            copy = frac2 + (frac1[k, targets[t]] - frac2[anchor])  # (N2, 3): b with its anchor on a's site
            every = True
            for i in range(n2):
                some = False
                for j in range(n1):
                    if not forbidden[i, j] and _close(copy, i, frac1[k], j, tol):
                        some = True
                        break
                if not some:
                    every = False
                    break
            passing[k, t] = every
    return frac1, avg, normalization, passing


@njit(cache=True)
def _gram_schmidt(a: np.ndarray, b: np.ndarray, u: np.ndarray, m: np.ndarray, s: int) -> None:
    """Row s of the Gram-Schmidt vectors b, coefficients u and squared norms m of basis rows a (3, 3), in place."""
    projection = np.zeros(3)
    for c in range(s):
        u[s, c] = np.dot(a[s], b[c]) / m[c]
        projection += b[c] * u[s, c]
    b[s] = a[s] - projection
    m[s] = np.dot(b[s], b[s])


@njit(cache=True)
def _lll(matrix: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """pymatgen's LLL reduction (`Lattice._calculate_lll`, δ = 0.75, its order of steps) of lattice rows (3, 3) → the
    reduced rows, the inverse of the integer mapping to them (`Lattice.lll_inverse`), and whether a rounding or a
    Lovász test came within `margin` of its threshold, where the last bits of arithmetic decide the basis."""
    a, mapping, near = matrix.copy(), np.identity(3), False
    b, u, m = np.zeros((3, 3)), np.zeros((3, 3)), np.zeros(3)
    for s in range(3):
        _gram_schmidt(a, b, u, m, s)
    k = 2
    while k <= 3:
        for i in range(k - 1, 0, -1):  # size reduction
            near |= abs(u[k - 1, i - 1] % 1.0 - 0.5) < margin
            q = np.round(u[k - 1, i - 1])
            if q != 0:
                a[k - 1] -= q * a[i - 1]
                mapping[k - 1] -= q * mapping[i - 1]
                u[k - 1, : i - 1] -= q * u[i - 1, : i - 1]
                u[k - 1, i - 1] -= q
        lovasz, bound = np.dot(b[k - 1], b[k - 1]), (0.75 - abs(u[k - 1, k - 2]) ** 2) * np.dot(b[k - 2], b[k - 2])
        near |= abs(lovasz - bound) < margin * abs(bound)
        if lovasz >= bound:
            k += 1
            continue
        for rows in (a, mapping):
            swapped = rows[k - 1].copy()
            rows[k - 1] = rows[k - 2]
            rows[k - 2] = swapped
        for s in range(k - 2, k):
            _gram_schmidt(a, b, u, m, s)
        if k > 2:
            k -= 1
        else:
            for c in range(2):
                u[2, c] = np.dot(a[2], b[c]) / m[c]
    return a, np.round(np.linalg.inv(mapping)), near


@njit(cache=True)
def lll(lattices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_lll` of each lattice (K, 3, 3), with a margin of 1e-9 → reduced rows (K, 3, 3), inverse mappings (K, 3, 3),
    near ties (K,): those are left to pymatgen."""
    reduced, inverse, near = np.empty_like(lattices), np.empty_like(lattices), np.zeros(lattices.shape[0], np.bool_)
    for k in range(lattices.shape[0]):
        reduced[k], inverse[k], near[k] = _lll(lattices[k], 1e-9)
    return reduced, inverse, near


@njit(cache=True)
def _shortest(copy: np.ndarray, cart2: np.ndarray, frac1: np.ndarray, cart1: np.ndarray, images: np.ndarray,
              forbidden: np.ndarray, tol: np.ndarray, d2: np.ndarray, image: np.ndarray) -> None:
    """pymatgen's `pbc_shortest_vectors(lll, copy, frac1, forbidden, True, tol)` for sites in LLL fractional coordinates
    copy (N2, 3) and frac1 (N1, 3), their wrapped Cartesian positions cart2 and cart1, and the Cartesian images
    (3, 27), into d2 (N2, N1), the squared lengths (FAR where skipped), and image (N2, N1), each one's image."""
    squares = np.empty(27)
    for i in range(copy.shape[0]):
        for j in range(frac1.shape[0]):
            d2[i, j] = FAR
            if forbidden[i, j] or not _close(frac1, j, copy, i, tol):
                continue
            x, y, z = cart1[j, 0] - cart2[i, 0], cart1[j, 1] - cart2[i, 1], cart1[j, 2] - cart2[i, 2]
            for k in range(27):
                da, db, dc = x + images[0, k], y + images[1, k], z + images[2, k]
                squares[k] = da * da + db * db + dc * dc
            image[i, j] = np.argmin(squares)  # the first of equals, as pymatgen's strict <
            d2[i, j] = squares[image[i, j]]


@njit(cache=True)
def bases_fit(frac1: np.ndarray, frac2: np.ndarray, anchor: int, targets: np.ndarray, passing: np.ndarray,
              lll: np.ndarray, lll_inverse: np.ndarray, forbidden: np.ndarray, normalization: np.ndarray,
              stol: float) -> bool:
    """Whether, in any basis k, a copy of b (N2, 3) translated so that its site `anchor` lies on a's site targets[t]
    (passing[k, t] only) fits a's sites frac1[k] (N1, 3): distances in the LLL basis lll[k] (3, 3) of the average
    lattice, whose fractional coordinates are those times lll_inverse[k]. Stops at the first copy that fits."""
    n2, n1 = frac2.shape[0], frac1.shape[1]
    d2, image, vectors, scratch = np.empty((n2, n1)), np.empty((n2, n1), np.int64), np.empty((n2, 3)), workspace(n2)
    for k in range(frac1.shape[0]):
        images = np.ascontiguousarray(_cartesian(SHIFTS, lll[k], False).T)  # (3, 27)
        sites = _cartesian(frac1[k], lll_inverse[k], False)  # (N1, 3): a's sites in the LLL basis
        cart1 = _cartesian(sites, lll[k], True)  # (N1, 3)
        tol = _axis_tolerance(lll[k], normalization[k], stol)  # pymatgen's per-axis skip in the LLL basis
        for t in range(targets.shape[0]):
            if not passing[k, t]:
                continue
            copy = _cartesian(frac2 + (frac1[k, targets[t]] - frac2[anchor]), lll_inverse[k], False)  # (N2, 3)
            cart2 = _cartesian(copy, lll[k], True)  # (N2, 3)
            _shortest(copy, cart2, sites, cart1, images, forbidden, tol, d2, image)
            cols = assign(d2, scratch)
            far = False  # pymatgen's vectors for a skipped pair are FAR: a copy assigned one never fits
            for i in range(n2):
                far |= d2[i, cols[i]] >= FAR
            if far:
                continue
            mean = np.zeros(3)
            for i in range(n2):  # the assigned pairs' shortest vectors and their mean
                for axis in range(3):
                    vectors[i, axis] = cart1[cols[i], axis] - cart2[i, axis] + images[axis, image[i, cols[i]]]
                    mean[axis] += vectors[i, axis]
            mean /= n2
            worst = 0.0
            for i in range(n2):
                x, y, z = vectors[i, 0] - mean[0], vectors[i, 1] - mean[1], vectors[i, 2] - mean[2]
                worst = max(worst, math.sqrt(x * x + y * y + z * z) * normalization[k])
            if worst < stol:
                return True
    return False


@njit(cache=True)
def candidates(n: np.ndarray, cart: np.ndarray, length: np.ndarray, a_matrix: np.ndarray, a_frac: np.ndarray,
               a_numbers: np.ndarray, b_matrix: np.ndarray, b_frac: np.ndarray, b_numbers: np.ndarray, stol: float,
               ltol: float, angle_tol: float) -> tuple:
    """StructureMatcher's search for crystals a and b of one composition up to the sites' test: a given by its lattice
    points (n, cart, length as `lattice_bases` takes them, enumerated far enough for b), rows (3, 3), fractional sites
    (N1, 3) and atomic numbers (N1,), b by its own → anchor, targets (T,), forbidden (N2, N1), and for the K bases with
    a translation that passes the screen: frac1 (K, N1, 3), avg (K, 3, 3), normalization (K,), passing (K, T)."""
    ratio = (abs(np.linalg.det(b_matrix)) / abs(np.linalg.det(a_matrix))) ** (1 / 6)
    p2 = parameters(b_matrix / ratio)  # (6,): b's cell scaled to the common volume
    bases = lattice_bases(n, cart, length * ratio, a_matrix * ratio, p2, ltol, angle_tol)  # (B, 3, 3)
    forbidden = np.expand_dims(b_numbers, 1) != np.expand_dims(a_numbers, 0)  # (N2, N1): b site i cannot be a's j
    anchor = np.argmax(forbidden.sum(axis=1))  # b's first site of its rarest species
    targets = np.nonzero(~forbidden[anchor])[0]  # a's sites it may land on
    frac1, avg, normalization, passing = screen(a_frac @ (a_matrix * ratio), bases, p2, b_frac, anchor, targets,
                                                forbidden, stol)
    keep = np.array([k for k in range(bases.shape[0]) if passing[k].any()], np.int64)
    return anchor, targets, forbidden, frac1[keep], avg[keep], normalization[keep], passing[keep]


@njit(cache=True)
def fit_codes(n: np.ndarray, cart: np.ndarray, length: np.ndarray, a_matrix: np.ndarray, a_frac: np.ndarray,
              a_numbers: np.ndarray, matrices: np.ndarray, fracs: np.ndarray, numbers: np.ndarray, stop_at_fit: bool,
              stol: float, ltol: float, angle_tol: float) -> np.ndarray:
    """StructureMatcher.fit(a, b, skip_structure_reduction=True) of a (as `candidates` takes it) against crystals b of
    one size, rows (M, 3, 3), sites (M, N, 3), atomic numbers (M, N) → NO, FIT or NEAR_TIE each (M,); with
    `stop_at_fit` the crystals after the first FIT are left NO."""
    codes = np.zeros(matrices.shape[0], np.int8)
    composition = np.sort(a_numbers)
    for m in range(matrices.shape[0]):
        if a_numbers.shape[0] != numbers.shape[1] or not np.array_equal(np.sort(numbers[m]), composition):
            continue
        anchor, targets, forbidden, frac1, avg, normalization, passing = candidates(
            n, cart, length, a_matrix, a_frac, a_numbers, matrices[m], fracs[m], numbers[m], stol, ltol, angle_tol)
        if frac1.shape[0] == 0:
            continue
        reduced, inverse, near = lll(avg)
        clear = ~near
        if bases_fit(frac1[clear], fracs[m], anchor, targets, passing[clear], reduced[clear], inverse[clear], forbidden,
                     normalization[clear], stol):
            codes[m] = FIT
            if stop_at_fit:
                break
        elif near.any():
            codes[m] = NEAR_TIE
    return codes
