"""Per-individual QR statistics reproduce the residual sums of squares of the raw rows."""

import numpy as np
import pytest

from smlcr.compress import column_scales, compress


def _direct_ssr(endog, exog, codes, stats, beta):
    """SSR of each individual computed from its raw rows (scaled units)."""
    out = np.zeros(stats.n_groups)
    xs = exog / stats.x_scale
    ys = endog / stats.y_scale
    np.add.at(out, codes, (ys - xs @ beta) ** 2)
    return out


@pytest.mark.parametrize("chunk_rows", [7, 100, 2_000_000])
def test_ssr_from_statistics_equals_raw_rows(chunk_rows):
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 120, size=60)  # includes individuals with fewer rows than p
    codes = np.repeat(np.arange(60), counts)
    rng.shuffle(codes)  # rows need not be sorted
    n = codes.size
    exog = np.column_stack([np.ones(n), rng.normal(size=(n, 3)) * [1.0, 1e4, 1e-3]])
    endog = exog @ [1.0, 2.0, 3e-4, 5e3] + rng.normal(size=n)
    stats = compress(endog, exog, codes, chunk_rows=chunk_rows)
    for _ in range(3):
        beta = rng.normal(size=4)
        direct = _direct_ssr(endog, exog, codes, stats, beta)
        compressed = stats.rss + np.sum((stats.c - np.einsum("npq,q->np", stats.R(), beta)) ** 2, 1)
        np.testing.assert_allclose(compressed, direct, rtol=1e-10)
    np.testing.assert_array_equal(stats.dof, counts)
    assert np.all(stats.rss >= 0)


def test_near_perfect_fit_keeps_precision():
    # y = X b up to 1e-4 noise on a 1e7 scale: the expanded normal
    # equations lose every digit of the residual, the QR route keeps them
    rng = np.random.default_rng(1)
    codes = np.repeat(np.arange(5), 50)
    exog = np.column_stack([np.ones(250), rng.normal(size=250)])
    noise = rng.normal(size=250) * 1e-4
    endog = 1e7 + 3e6 * exog[:, 1] + noise
    stats = compress(endog, exog, codes)
    for g in range(5):
        m = codes == g
        resid = np.linalg.lstsq(exog[m], endog[m], rcond=None)[1][0]
        np.testing.assert_allclose(stats.rss[g] * stats.y_scale**2, resid, rtol=1e-3)


def test_column_scales_handle_zero_and_constant_columns():
    a = np.column_stack([np.ones(4), np.zeros(4), [3.0, -3.0, 3.0, -3.0]])
    np.testing.assert_array_equal(column_scales(a), [1.0, 1.0, 4.0])  # powers of two


def test_any_block_height_gives_the_same_statistics():
    """The first QR level's block height (fitted to the panel by default) changes
    nothing but rounding: the same R_i'R_i, R_i'c_i and residual sums of squares."""
    from smlcr.compress import block_height, tsqr

    rng = np.random.default_rng(1)
    counts = rng.integers(1, 40, size=50)
    codes = np.repeat(np.arange(50), counts)
    rows = rng.normal(size=(codes.size, 4)) * [1.0, 1e3, 1e-2, 1.0]
    assert block_height(4, counts) == int(np.percentile(counts, 90))
    assert block_height(4, [6, 6, 2]) == 6 and block_height(4, [2, 3]) == 2  # not padded to m
    assert block_height(4, [1000] * 5) == 125  # balanced and long: a divisor, no padding
    assert block_height(4, [2] * 95 + [1000] * 5) == 2  # a few long ones pad nobody
    assert block_height(4, [1000] * 5 + [999]) == 128
    assert block_height(12, [1000] * 7) == 250
    # blocks that need no padding are a view of the rows: the same statistics
    balanced = np.repeat(np.arange(6), 40)
    values = rng.normal(size=(balanced.size, 4))
    direct = np.zeros((6, 4, 4))
    np.add.at(direct, balanced, np.einsum("ni,nk->nik", values, values))
    for height in (None, 8, 10, 40, 7):
        for layout in (values, np.asfortranarray(values)):  # rows by rows, or by columns
            r = tsqr(layout, balanced, 6, height)
            np.testing.assert_allclose(np.einsum("nji,njk->nik", r, r), direct, rtol=1e-12)
    reference = None
    for height in (None, 4, 5, 9, 64, 39, "by columns"):
        r = (
            tsqr(np.asfortranarray(rows), codes, 50)
            if height == "by columns"
            else tsqr(rows, codes, 50, height)
        )
        gram = np.einsum("nji,njk->nik", r, r)  # [X | y]' [X | y] of each individual
        if reference is None:
            reference = gram
            direct = np.zeros_like(gram)
            np.add.at(direct, codes, np.einsum("ni,nk->nik", rows, rows))
            np.testing.assert_allclose(gram, direct, rtol=1e-10, atol=1e-8)
        else:
            np.testing.assert_allclose(gram, reference, rtol=1e-12, atol=1e-9)


def test_canonical_order_equals_one_sort_on_every_key_with_many_ties():
    """Individuals with as many rows as columns fit exactly (rss 0, tied on the leading
    keys): the order refined over the tied ones equals sorting everyone on every key."""
    from smlcr.compress import canonical_order_of_individuals, compress

    rng = np.random.default_rng(3)
    counts = rng.choice([3, 3, 3, 5], size=400)
    codes = np.repeat(np.arange(400), counts)
    x = np.column_stack([np.ones(codes.size), rng.normal(size=(codes.size, 2))])
    y = rng.normal(size=codes.size)
    stats = compress(y, x, codes)
    # a few identical individuals, tied on every key
    stats = stats.take(np.concatenate([np.arange(400), [5, 5, 17]]))
    Z = rng.integers(0, 2, size=(stats.n_groups, 1)).astype(float)
    upper = np.triu_indices(3)
    keys = [Z[:, 0]]
    keys += [stats.R()[:, i, j] for i, j in zip(*upper, strict=True)][::-1]
    keys += [stats.c[:, j] for j in range(3)][::-1]
    keys += [np.ones(stats.n_groups), stats.rss, stats.dof]
    assert (stats.rss[stats.dof == 3] < 1e-20).all()
    np.testing.assert_array_equal(canonical_order_of_individuals(stats, Z), np.lexsort(keys))


@pytest.mark.parametrize("noise", [1.0, 1e-9])
def test_pooled_factor_gram_route_matches_householder(noise, monkeypatch):
    # CholeskyQR2 on well-conditioned data, Householder on a near-exact pooled fit
    # (whose [R_i | c_i] is ill-conditioned): both give the factor a Householder QR of
    # all the stacked rows gives, up to the signs of its rows, with and without weights
    from dataclasses import replace

    import smlcr.compress as compress_module

    rng = np.random.default_rng(3)
    codes = np.repeat(np.arange(3000), 4)
    n = codes.size
    exog = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    endog = exog @ [1.0, -2.0, 0.5] + noise * rng.normal(size=n)
    stats = compress(endog, exog, codes)
    weighted = replace(stats, weight=rng.uniform(0.2, 3.0, stats.n_groups))
    monkeypatch.setattr(compress_module, "POOLED_BLOCK_FLOATS", 500)  # many blocks
    for data in (stats, weighted):
        rows = np.concatenate([data.R(), data.c[:, :, None]], axis=2)
        if data.weight is not None:
            rows = rows * np.sqrt(data.weight)[:, None, None]
        direct = np.linalg.qr(rows.reshape(-1, 4), mode="r")
        factor = compress_module.pooled_factor(data)
        signs = np.sign(np.diag(direct)) * np.sign(np.diag(factor))
        np.testing.assert_allclose(
            factor * signs[:, None], direct, rtol=0, atol=1e-12 * np.abs(direct).max()
        )
        # the residual part, the one entry a near-exact fit makes tiny, to its own precision
        assert abs(factor[3, 3]) == pytest.approx(abs(direct[3, 3]), rel=1e-9)
    gram = compress_module._gram_of_blocks(compress_module._pooled_blocks(stats, False))
    try:
        condition = np.linalg.cond(np.linalg.cholesky(gram))
    except np.linalg.LinAlgError:
        condition = np.inf
    # the route each case is meant to take
    assert (condition <= compress_module.GRAM_ROUTE_CONDITION) == (noise == 1.0)


@pytest.mark.parametrize("n_groups", [1, 7, 70_000])
def test_rows_by_individual_is_the_stable_sort(n_groups):
    from smlcr.compress import rows_by_individual

    rng = np.random.default_rng(n_groups)
    codes = rng.integers(0, n_groups, size=200_000)
    np.testing.assert_array_equal(
        rows_by_individual(codes, n_groups), np.argsort(codes, kind="stable")
    )
    ordered = np.sort(codes)
    np.testing.assert_array_equal(rows_by_individual(ordered, n_groups), np.arange(codes.size))


def test_factors_are_stored_packed_once():
    # the statistics hold each R_i once, as its upper triangle (p (p + 1) / 2 floats);
    # unpacking gives the triangular factor whose R'R is the rows' cross products
    from smlcr.compress import pack_upper

    rng = np.random.default_rng(5)
    codes = np.repeat(np.arange(40), 6)
    exog = np.column_stack([np.ones(codes.size), rng.normal(size=(codes.size, 3))])
    endog = exog @ [1.0, 2.0, -1.0, 0.5] + rng.normal(size=codes.size)
    stats = compress(endog, exog, codes)
    assert stats.R_upper.shape == (40, 10)
    R = stats.R()
    np.testing.assert_array_equal(np.tril(R, -1), 0.0)
    np.testing.assert_array_equal(pack_upper(R), stats.R_upper)
    np.testing.assert_array_equal(stats.R(slice(3, 5)), R[3:5])
    xs = (exog - stats.x_shift) / stats.x_scale
    ys = (endog - stats.y_shift) / stats.y_scale
    for i in (0, 17):
        rows = codes == i
        np.testing.assert_allclose(R[i].T @ R[i], xs[rows].T @ xs[rows], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(stats.moment[i], xs[rows].T @ ys[rows], rtol=1e-12, atol=1e-12)
