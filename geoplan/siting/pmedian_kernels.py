"""Compiled kernels (numba) for the p-median heuristic and its Lagrangian bound.

The data are the *useful* candidate–client pairs only: a pair is kept when its time is
below the client's cap (the time to the nearest existing facility, or the penalty for an
unreached client), because a site further away than the cap can never serve the client.
Two views of the same pairs are used:

* candidate-major CSR ``cptr/ccli/ct`` (row = candidate, entries = clients it reaches),
  for the gain and swap evaluations;
* client-major CSR ``qptr/qcand/qt`` with each client's candidates sorted by time, so the
  nearest and second-nearest open sites are found by a short scan.

Solution state (one per search): ``is_open`` (bool per candidate), ``open_list`` (the p
open candidates) with ``pos`` (slot of a candidate in ``open_list``, -1 when closed), and
per client ``phi1/d1`` and ``phi2/d2``: nearest and second-nearest open site and their
times; ``-1`` stands for the client's cap (existing facility or penalty), which is always
available and never closes. When ``phi1 == -1`` then ``d2 == d1 == cap``.

The local search is the fast interchange of Whitaker (1983) in the gain/loss/extra form of
Resende & Werneck (2004): the profit of swapping candidate ``j`` in for open site ``r`` is
``gain(j) - loss(r) + extra(j, r)``; one sweep over the candidate-major pairs evaluates all
``(n - p) × p`` swaps in ``O(pairs + (n - p) p)``. Random numbers come from a splitmix64
generator held in a one-element state array, so a run depends only on its seed.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# ----------------------------------------------------------------------------- random


@njit(cache=True, nogil=True)
def _next_u64(state: np.ndarray) -> np.uint64:
    """splitmix64: advance ``state[0]`` and return 64 random bits."""
    state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def _randint(state: np.ndarray, n: int) -> int:
    """Uniform integer in ``[0, n)``."""
    return int(_next_u64(state) % np.uint64(n))


# ----------------------------------------------------------------------- assignment


@njit(cache=True, nogil=True, inline="always")
def _scan_client(i, is_open, qptr, qcand, qt, cap, phi1, phi2, d1, d2):
    # nearest and second-nearest open candidate of client i (its list is sorted by time)
    f1 = -1
    f2 = -1
    t1 = cap[i]
    t2 = cap[i]
    for e in range(qptr[i], qptr[i + 1]):
        j = qcand[e]
        if is_open[j]:
            if f1 < 0:
                f1 = j
                t1 = qt[e]
            else:
                f2 = j
                t2 = qt[e]
                break
    phi1[i] = f1
    d1[i] = t1
    phi2[i] = f2
    d2[i] = t2


@njit(cache=True, nogil=True)
def assign_all(is_open, qptr, qcand, qt, cap, phi1, phi2, d1, d2):
    """Nearest and second-nearest open site of every client (``-1`` = the cap)."""
    for i in range(cap.shape[0]):
        _scan_client(i, is_open, qptr, qcand, qt, cap, phi1, phi2, d1, d2)


@njit(cache=True, nogil=True)
def total_cost(w, d1):
    """Σ w·d1."""
    s = 0.0
    for i in range(w.shape[0]):
        s += w[i] * d1[i]
    return s


@njit(cache=True, nogil=True)
def evaluate_open(is_open, w, qptr, qcand, qt, cap):
    """Objective Σ w·(time to the nearest open site or cap) and the per-client times."""
    n = cap.shape[0]
    d = np.empty(n)
    s = 0.0
    for i in range(n):
        t = cap[i]
        for e in range(qptr[i], qptr[i + 1]):
            if is_open[qcand[e]]:
                t = qt[e]
                break
        d[i] = t
        s += w[i] * t
    return s, d


@njit(cache=True, nogil=True)
def _compute_loss(w, phi1, d1, d2, loss):
    loss[:] = 0.0
    for i in range(w.shape[0]):
        f = phi1[i]
        if f >= 0:
            loss[f] += w[i] * (d2[i] - d1[i])


@njit(cache=True, nogil=True, inline="always")
def _insert_update(i, j, t, phi1, phi2, d1, d2):
    if t < d1[i]:
        phi2[i] = phi1[i]
        d2[i] = d1[i]
        phi1[i] = j
        d1[i] = t
    elif t < d2[i]:
        phi2[i] = j
        d2[i] = t


@njit(cache=True, nogil=True)
def apply_swap(j_in, r_out, is_open, open_list, pos, cptr, ccli, ct, qptr, qcand, qt, cap,
               phi1, phi2, d1, d2, mark, stamp):
    """Open ``j_in`` and close ``r_out`` (``r_out`` = -1: open only); update assignments.

    ``mark`` is a per-client int array and ``stamp`` a value never used in it before.
    """
    if r_out >= 0:
        slot = pos[r_out]
        is_open[r_out] = False
        pos[r_out] = -1
        open_list[slot] = j_in
        pos[j_in] = slot
    is_open[j_in] = True
    if r_out >= 0:
        # clients that used r_out as nearest or second nearest: rescan (sees j_in open)
        for e in range(cptr[r_out], cptr[r_out + 1]):
            i = ccli[e]
            if phi1[i] == r_out or phi2[i] == r_out:
                _scan_client(i, is_open, qptr, qcand, qt, cap, phi1, phi2, d1, d2)
                mark[i] = stamp
    for e in range(cptr[j_in], cptr[j_in + 1]):
        i = ccli[e]
        if mark[i] != stamp:
            _insert_update(i, j_in, ct[e], phi1, phi2, d1, d2)


@njit(cache=True, nogil=True)
def best_swap(is_open, open_list, w, cptr, ccli, ct, phi1, d1, d2, loss, extra, tol):
    """Best swap (in, out) over all closed × open pairs. Returns ``(profit, in, out)``."""
    n_cand = cptr.shape[0] - 1
    p = open_list.shape[0]
    best = tol
    b_in = -1
    b_out = -1
    for j in range(n_cand):
        if is_open[j]:
            continue
        gain = 0.0
        for e in range(cptr[j], cptr[j + 1]):
            i = ccli[e]
            t = ct[e]
            if t < d2[i]:
                f = phi1[i]
                if t < d1[i]:
                    gain += w[i] * (d1[i] - t)
                    if f >= 0:
                        extra[f] += w[i] * (d2[i] - d1[i])
                elif f >= 0:
                    extra[f] += w[i] * (d2[i] - t)
        v_best = -np.inf
        r_best = -1
        for q in range(p):
            r = open_list[q]
            v = extra[r] - loss[r]
            extra[r] = 0.0
            if v > v_best:
                v_best = v
                r_best = r
        if gain + v_best > best:
            best = gain + v_best
            b_in = j
            b_out = r_best
    return best, b_in, b_out


@njit(cache=True, nogil=True)
def local_search(is_open, open_list, pos, w, cptr, ccli, ct, qptr, qcand, qt, cap,
                 phi1, phi2, d1, d2, loss, extra, mark, stamp, tol, max_moves):
    """Best-improvement swap search until no swap saves more than ``tol``.

    Returns ``(moves, next stamp)``.
    """
    moves = 0
    while moves < max_moves:
        _compute_loss(w, phi1, d1, d2, loss)
        _profit, j, r = best_swap(is_open, open_list, w, cptr, ccli, ct, phi1, d1, d2, loss,
                                 extra, tol)
        if j < 0:
            break
        apply_swap(j, r, is_open, open_list, pos, cptr, ccli, ct, qptr, qcand, qt, cap,
                   phi1, phi2, d1, d2, mark, stamp)
        stamp += 1
        moves += 1
    return moves, stamp


@njit(cache=True, nogil=True)
def greedy(p, rcl, rng, is_open, open_list, pos, w, cptr, ccli, ct, qptr, qcand, qt, cap,
           phi1, phi2, d1, d2, mark, stamp):
    """Greedy construction from no open site; ``rcl > 1`` picks at random among the best
    ``rcl`` additions at each step (random-greedy). Returns the next stamp."""
    n_cand = cptr.shape[0] - 1
    n_cli = cap.shape[0]
    is_open[:] = False
    pos[:] = -1
    for i in range(n_cli):
        phi1[i] = -1
        phi2[i] = -1
        d1[i] = cap[i]
        d2[i] = cap[i]
    gain = np.empty(n_cand)
    for step in range(p):
        # gains client by client: only candidates nearer than the current site count,
        # and each client's list is sorted by time
        gain[:] = 0.0
        for i in range(n_cli):
            a = d1[i]
            for e in range(qptr[i], qptr[i + 1]):
                t = qt[e]
                if t >= a:
                    break
                gain[qcand[e]] += w[i] * (a - t)
        for j in range(n_cand):
            if is_open[j]:
                gain[j] = -1.0
        if rcl <= 1:
            j = int(np.argmax(gain))
        else:
            k = min(rcl, n_cand - step)
            order = np.argsort(-gain, kind="mergesort")
            j = int(order[_randint(rng, k)])
        open_list[step] = j
        pos[j] = step
        apply_swap(j, -1, is_open, open_list, pos, cptr, ccli, ct, qptr, qcand, qt, cap,
                   phi1, phi2, d1, d2, mark, stamp)
        stamp += 1
    return stamp


@njit(cache=True, nogil=True)
def set_open(sel, is_open, open_list, pos, qptr, qcand, qt, cap, phi1, phi2, d1, d2):
    """Make ``sel`` the open set and recompute all assignments."""
    is_open[:] = False
    pos[:] = -1
    for q in range(sel.shape[0]):
        open_list[q] = sel[q]
        pos[sel[q]] = q
        is_open[sel[q]] = True
    assign_all(is_open, qptr, qcand, qt, cap, phi1, phi2, d1, d2)


@njit(cache=True, nogil=True)
def vns(best_sel, best_cost, n_iter, stall, since, k_max, rng, is_open, open_list, pos, w,
        cptr, ccli, ct, qptr, qcand, qt, cap, phi1, phi2, d1, d2, loss, extra, gain, extra2,
        buf, mark, stamp, tol):
    """Variable neighbourhood search (Hansen & Mladenović 1997) from ``best_sel``.

    Each iteration shakes the best solution by ``k`` random swaps and runs the swap local
    search; an improvement resets ``k`` to 1, otherwise ``k`` grows up to ``k_max`` and
    wraps. ``best_sel`` is updated in place. It stops after ``n_iter`` iterations or once
    ``stall`` iterations in a row (counting ``since`` from earlier calls) brought nothing.
    The local search keeps incremental scores in ``gain``/``extra2`` (candidate × open
    slot) when ``extra2`` has a row per candidate, and otherwise evaluates each sweep from
    scratch. Returns ``(best cost, improvements, iterations, since, stamp)``.
    """
    n_cand = cptr.shape[0] - 1
    p = best_sel.shape[0]
    scored = extra2.shape[0] == n_cand
    k = 1
    improvements = 0
    done = 0
    if n_cand <= p:
        return best_cost, 0, 0, since, stamp
    while done < n_iter and since < stall:
        done += 1
        set_open(best_sel, is_open, open_list, pos, qptr, qcand, qt, cap, phi1, phi2, d1, d2)
        for _s in range(k):
            r = open_list[_randint(rng, p)]
            j = _randint(rng, n_cand)
            while is_open[j]:
                j = _randint(rng, n_cand)
            apply_swap(j, r, is_open, open_list, pos, cptr, ccli, ct, qptr, qcand, qt, cap,
                       phi1, phi2, d1, d2, mark, stamp)
            stamp += 1
        if scored:
            _m, stamp = local_search_scored(is_open, open_list, pos, w, cptr, ccli, ct, qptr,
                                            qcand, qt, cap, phi1, phi2, d1, d2, gain, loss,
                                            extra2, mark, stamp, buf, tol, 1 << 30)
        else:
            _m, stamp = local_search(is_open, open_list, pos, w, cptr, ccli, ct, qptr, qcand,
                                     qt, cap, phi1, phi2, d1, d2, loss, extra, mark, stamp,
                                     tol, 1 << 30)
        cost = total_cost(w, d1)
        if cost < best_cost - tol:
            best_cost = cost
            best_sel[:] = open_list
            improvements += 1
            since = 0
            k = 1
        else:
            since += 1
            k = k + 1 if k < k_max else 1
    return best_cost, improvements, done, since, stamp


# ------------------------------------------------- incremental swap scores (RW 2004)


@njit(cache=True, nogil=True, inline="always")
def _contrib(i, sign, w, qptr, qcand, qt, phi1, d1, d2, pos, gain, loss, extra):
    # add (sign=1) or remove (sign=-1) client i's share of gain, loss and extra; only
    # candidates nearer than its second-nearest open site contribute, and its list is
    # sorted by time, so the scan stops there
    f = phi1[i]
    wi = w[i]
    a = d1[i]
    b = d2[i]
    if f >= 0:
        loss[f] += sign * wi * (b - a)
        q = pos[f]
        for e in range(qptr[i], qptr[i + 1]):
            t = qt[e]
            if t >= b:
                break
            j = qcand[e]
            if t < a:
                gain[j] += sign * wi * (a - t)
                extra[j, q] += sign * wi * (b - a)
            else:
                extra[j, q] += sign * wi * (b - t)
    else:
        for e in range(qptr[i], qptr[i + 1]):
            t = qt[e]
            if t >= a:
                break
            gain[qcand[e]] += sign * wi * (a - t)


@njit(cache=True, nogil=True)
def init_scores(w, qptr, qcand, qt, phi1, d1, d2, pos, gain, loss, extra):
    """gain, loss and extra (candidate × open slot) from scratch."""
    gain[:] = 0.0
    loss[:] = 0.0
    extra[:, :] = 0.0
    for i in range(w.shape[0]):
        _contrib(i, 1.0, w, qptr, qcand, qt, phi1, d1, d2, pos, gain, loss, extra)


@njit(cache=True, nogil=True)
def swap_scored(j_in, r_out, is_open, open_list, pos, w, cptr, ccli, ct, qptr, qcand, qt,
                cap, phi1, phi2, d1, d2, gain, loss, extra, mark, stamp, buf):
    """Swap ``j_in`` in for ``r_out`` and update the scores of the affected clients only:
    those served by ``r_out`` (nearest or second nearest) and those ``j_in`` serves
    better than their second-nearest site."""
    nb = 0
    for e in range(cptr[r_out], cptr[r_out + 1]):
        i = ccli[e]
        if (phi1[i] == r_out or phi2[i] == r_out) and mark[i] != stamp:
            mark[i] = stamp
            buf[nb] = i
            nb += 1
            _contrib(i, -1.0, w, qptr, qcand, qt, phi1, d1, d2, pos, gain, loss, extra)
    for e in range(cptr[j_in], cptr[j_in + 1]):
        i = ccli[e]
        if ct[e] < d2[i] and mark[i] != stamp:
            mark[i] = stamp
            buf[nb] = i
            nb += 1
            _contrib(i, -1.0, w, qptr, qcand, qt, phi1, d1, d2, pos, gain, loss, extra)
    slot = pos[r_out]
    is_open[r_out] = False
    pos[r_out] = -1
    open_list[slot] = j_in
    pos[j_in] = slot
    is_open[j_in] = True
    for k in range(nb):
        i = buf[k]
        _scan_client(i, is_open, qptr, qcand, qt, cap, phi1, phi2, d1, d2)
        _contrib(i, 1.0, w, qptr, qcand, qt, phi1, d1, d2, pos, gain, loss, extra)


@njit(cache=True, nogil=True)
def best_scored(is_open, open_list, gain, loss, extra, tol):
    """Best swap from the maintained scores: ``max gain[j] + extra[j, q] - loss[r_q]``."""
    n_cand = gain.shape[0]
    p = open_list.shape[0]
    lo = np.empty(p)
    for q in range(p):
        lo[q] = loss[open_list[q]]
    best = tol
    b_in = -1
    b_out = -1
    for j in range(n_cand):
        if is_open[j]:
            continue
        g = gain[j]
        for q in range(p):
            v = g + extra[j, q] - lo[q]
            if v > best:
                best = v
                b_in = j
                b_out = open_list[q]
    return best, b_in, b_out


@njit(cache=True, nogil=True)
def local_search_scored(is_open, open_list, pos, w, cptr, ccli, ct, qptr, qcand, qt, cap,
                        phi1, phi2, d1, d2, gain, loss, extra, mark, stamp, buf, tol,
                        max_moves):
    """Best-improvement swap search with incrementally maintained scores.

    Same moves as :func:`local_search`, at a cost per move proportional to the clients
    the move affects plus ``(n - p) p``. Returns ``(moves, next stamp)``.
    """
    init_scores(w, qptr, qcand, qt, phi1, d1, d2, pos, gain, loss, extra)
    moves = 0
    while moves < max_moves:
        _profit, j, r = best_scored(is_open, open_list, gain, loss, extra, tol)
        if j < 0:
            break
        swap_scored(j, r, is_open, open_list, pos, w, cptr, ccli, ct, qptr, qcand, qt, cap,
                    phi1, phi2, d1, d2, gain, loss, extra, mark, stamp, buf)
        stamp += 1
        moves += 1
    return moves, stamp


# ----------------------------------------------------------------------- Lagrangian


@njit(cache=True, nogil=True)
def lagrangian(p, w, cap, cptr, ccli, ct, lam0, ub, max_iter, stall, integral):
    """Lagrangian bound of the p-median problem by subgradient optimisation.

    The assignment constraints ``Σ_j y_ij + y_i,cap = 1`` are relaxed with multipliers
    ``λ_i`` (Beasley 1993). For given ``λ`` the relaxation splits:
    ``L(λ) = Σ_i min(λ_i, w_i cap_i) + (sum of the p smallest ρ_j)``, with
    ``ρ_j = Σ_i min(0, w_i t_ij − λ_i)``; any ``L(λ)`` is a lower bound on the optimum.
    The step is Polyak's ``θ (ub − L) / ‖g‖²``; ``θ`` starts at 2 and halves after
    ``stall`` iterations without a better bound.

    Besides the bound, every iteration gives for each candidate ``j`` a bound on all
    solutions with ``x_j = 1`` (``lb_in``) and with ``x_j = 0`` (``lb_out``): the relaxed
    problem with that variable forced. The best of these over all iterations is returned
    for variable fixing.

    Returns
    -------
    best_l : float
        Best bound found.
    lam : ndarray
        Multipliers that gave it.
    lb_in, lb_out : ndarray
        Per candidate, the best bound with the candidate forced open / closed.
    iterations : int
    """
    n_cand = cptr.shape[0] - 1
    n = cap.shape[0]
    wc = w * cap
    lam = np.minimum(lam0.copy(), wc)
    best_l = -np.inf
    best_lam = lam.copy()
    lb_in = np.full(n_cand, -np.inf)
    lb_out = np.full(n_cand, -np.inf)
    rho = np.empty(n_cand)
    g = np.empty(n)
    theta = 2.0
    since = 0
    it = 0
    while it < max_iter:
        it += 1
        base = 0.0
        for i in range(n):
            base += lam[i] if lam[i] < wc[i] else wc[i]
        for j in range(n_cand):
            s = 0.0
            for e in range(cptr[j], cptr[j + 1]):
                v = w[ccli[e]] * ct[e] - lam[ccli[e]]
                if v < 0.0:
                    s += v
            rho[j] = s
        order = np.argsort(rho, kind="mergesort")
        lval = base
        for q in range(p):
            lval += rho[order[q]]
        rho_p = rho[order[p - 1]]
        rho_p1 = rho[order[p]] if p < n_cand else np.inf
        for q in range(n_cand):
            j = order[q]
            if q < p:
                a = lval
                b = lval - rho[j] + rho_p1
            else:
                a = lval + rho[j] - rho_p
                b = lval
            if a > lb_in[j]:
                lb_in[j] = a
            if b > lb_out[j]:
                lb_out[j] = b
        if best_l == -np.inf or lval > best_l + 1e-12 * max(1.0, abs(best_l)):
            best_l = lval
            best_lam[:] = lam
            since = 0
        else:
            since += 1
        if integral:
            if np.ceil(best_l - 1e-6) >= ub:
                break
        elif best_l >= ub - 1e-9 * max(1.0, abs(ub)):
            break
        if since >= stall:
            theta *= 0.5
            since = 0
            if theta < 1e-5:
                break
        # subgradient g_i = 1 - y_i,cap - Σ_open y_ij
        for i in range(n):
            g[i] = 0.0 if wc[i] - lam[i] <= 0.0 else 1.0
        for q in range(p):
            j = order[q]
            for e in range(cptr[j], cptr[j + 1]):
                i = ccli[e]
                if w[i] * ct[e] - lam[i] < 0.0:
                    g[i] -= 1.0
        norm = 0.0
        for i in range(n):
            # a multiplier at its upper limit cannot move further up
            if g[i] > 0.0 and lam[i] >= wc[i]:
                g[i] = 0.0
            norm += g[i] * g[i]
        if norm == 0.0:
            # x and y satisfy the relaxed constraints: L(λ) is the optimum of the relaxation
            # and equals the cost of a feasible solution
            break
        step = theta * max(ub - lval, 1e-9 * max(1.0, abs(ub))) / norm
        for i in range(n):
            v = lam[i] + step * g[i]
            lam[i] = v if v < wc[i] else wc[i]
    return best_l, best_lam, lb_in, lb_out, it


@njit(cache=True, nogil=True)
def serve_within(p, rho, base, qptr, qcand, qt, d_inc, ub, integral):
    """Per client, a time within which every solution better than ``ub`` serves it.

    For client ``i`` and one of its times ``D``, the solutions with no open site within
    ``D`` of ``i`` have the Lagrangian bound ``base + (sum of the p smallest ρ_j over the
    candidates j farther than D)``; once that reaches ``ub``, none of them is better than
    ``ub``. The smallest such ``D`` not below the client's time in the incumbent
    (``d_inc``, so that the incumbent stays feasible) is returned, with the bound; ``inf``
    where no time qualifies.

    Returns
    -------
    serve_by : ndarray
        Time per client (``inf`` = no cut).
    cut_bound : ndarray
        The Lagrangian bound on the solutions excluded by the cut (``inf`` = no cut).
    """
    n_cand = rho.shape[0]
    n = qptr.shape[0] - 1
    order = np.argsort(rho, kind="mergesort")
    rank = np.empty(n_cand, dtype=np.int64)
    for q in range(n_cand):
        rank[order[q]] = q
    near = np.zeros(n_cand, dtype=np.bool_)  # by rank: candidate within D of the client
    serve_by = np.full(n, np.inf)
    cut_bound = np.full(n, np.inf)
    for i in range(n):
        e0 = qptr[i]
        e1 = qptr[i + 1]
        e = e0
        while e < e1:
            t = qt[e]
            f = e
            while f < e1 and qt[f] == t:
                near[rank[qcand[f]]] = True
                f += 1
            e = f
            if t < d_inc[i]:
                continue
            s = 0.0
            c = 0
            r = 0
            while c < p and r < n_cand:
                if not near[r]:
                    s += rho[order[r]]
                    c += 1
                r += 1
            if c < p:  # fewer than p candidates beyond D: no solution avoids them all
                lval = np.inf
            else:
                lval = base + s
                if integral:
                    lval = np.ceil(lval - 1e-9 * max(1.0, abs(lval)))
            if lval >= ub:
                serve_by[i] = t
                cut_bound[i] = lval
                break
        for g in range(e0, e):
            near[rank[qcand[g]]] = False
    return serve_by, cut_bound
