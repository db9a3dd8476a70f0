"""A simulated artist x country x day streaming panel with latent artist segments.

The shape of the data that motivated smlcr: daily streams of artists in several
countries, marketing covariates, artist-country fixed effects, and K = 4
artist segments that respond differently to marketing::

    streams_ijt = alpha_s + beta_s' x_ijt + gamma_ij + eps_ijt,
    s = s_i (the artist's segment),  eps ~ N(0, sigma2)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from smlcr.design import check_count

__all__ = ["StreamsData", "streams"]

COUNTRIES = ("US", "GB", "DE", "FR", "BR", "MX", "JP", "SE", "NL", "AU", "ES", "IT")

#: segment parameters of the data-generating model (segments 1..4, largest first)
SEGMENT_SHARES = (0.4, 0.3, 0.2, 0.1)
#: extra daily streams per playlist add, by segment
PLAYLIST_EFFECT = (1200.0, 300.0, 4500.0, 60.0)
#: extra daily streams per social-media post, by segment
SOCIAL_EFFECT = (250.0, 2000.0, 150.0, 10.0)
#: segment intercepts (not identified once artist-country effects are absorbed)
SEGMENT_INTERCEPT = (500.0, 1000.0, 2000.0, 0.0)
#: residual standard deviation, streams per day (common to all segments)
NOISE_SD = 1500.0


@dataclass(frozen=True)
class StreamsData:
    """The simulated streams panel and the truth behind it.

    Attributes
    ----------
    data : pandas.DataFrame
        One row per artist, country and day: ``artist``, ``country``, ``date``,
        ``weekday``, ``streams``, ``playlist_adds``, ``social_posts``.
    formula : str
        ``"streams ~ playlist_adds + social_posts"``.
    groups : str
        ``"artist"``: segments are per artist.
    absorb : list of str
        ``["artist", "country"]``: the artist-country fixed effects.
    beta : pandas.DataFrame
        True marketing effects, terms x segments.
    alpha : pandas.Series
        True segment intercepts (absorbed by the fixed effects).
    sigma2 : float
        True residual variance (common to all segments).
    shares : pandas.Series
        True segment probabilities.
    true_class : pandas.Series
        Each artist's true segment (1..4), indexed by artist.
    fixed_effects : pandas.Series
        True artist-country effects ``gamma_ij``.
    """

    data: pd.DataFrame
    formula: str
    groups: str
    absorb: list
    beta: pd.DataFrame
    alpha: pd.Series
    sigma2: float
    shares: pd.Series
    true_class: pd.Series
    fixed_effects: pd.Series

    def true_params(self) -> pd.Series:
        """True parameters named as in ``LatentClassOLS`` with ``absorb`` and ``variance="common"``.

        Returns
        -------
        pandas.Series
        """
        names, values = [], []
        for s in self.beta.columns:
            for term in self.beta.index:
                names.append(f"{term}[{s}]")
                values.append(self.beta.loc[term, s])
        names.append("sigma2")
        values.append(self.sigma2)
        for s in self.shares.index[1:]:
            names.append(f"membership:Intercept[{s}]")
            values.append(np.log(self.shares[s] / self.shares.iloc[0]))
        return pd.Series(values, index=names)


def streams(n_artists: int = 300, seed: int = 2024) -> StreamsData:
    """Simulate the artist x country x day streams panel.

    Each artist is in 1 to 5 countries; each artist-country pair is observed
    on 20 to 120 consecutive days from a start date in early 2024 (an
    unbalanced panel). Playlist adds are Poisson with an artist-country rate;
    social posts are Poisson per artist and day (the same post counts in
    every country). Artist-country effects put daily streams on a realistic
    scale (thousands to millions). Segments, effects and noise are the
    module constants ``SEGMENT_SHARES``, ``PLAYLIST_EFFECT``,
    ``SOCIAL_EFFECT``, ``SEGMENT_INTERCEPT`` and ``NOISE_SD``.

    Parameters
    ----------
    n_artists : int
        Number of artists.
    seed : int
        Seed; the same seed gives the same data set.

    Returns
    -------
    StreamsData
    """
    n_artists = check_count(n_artists, "n_artists")
    rng = np.random.default_rng(check_count(seed, "seed", minimum=0))
    k = len(SEGMENT_SHARES)
    segment = rng.choice(k, size=n_artists, p=SEGMENT_SHARES)
    artists = np.array([f"artist_{i:04d}" for i in range(n_artists)])

    n_countries = rng.integers(1, 6, size=n_artists)
    pair_artist = np.repeat(np.arange(n_artists), n_countries)
    pair_country = np.concatenate(
        [rng.choice(len(COUNTRIES), size=m, replace=False) for m in n_countries]
    )
    n_pairs = pair_artist.size
    gamma = 8000.0 + np.exp(rng.normal(10.0, 1.3, size=n_pairs))
    playlist_rate = rng.gamma(2.0, 1.5, size=n_pairs)
    n_days = rng.integers(20, 121, size=n_pairs)
    first_day = rng.integers(0, 60, size=n_pairs)

    pair = np.repeat(np.arange(n_pairs), n_days)
    day = first_day[pair] + (np.arange(pair.size) - np.repeat(np.cumsum(n_days) - n_days, n_days))
    artist = pair_artist[pair]
    # one post count per artist and calendar day, shared by the artist's countries
    posts_by_artist_day = rng.poisson(0.6, size=(n_artists, 60 + 121))
    social = posts_by_artist_day[artist, day].astype(float)
    playlist = rng.poisson(playlist_rate[pair]).astype(float)
    s = segment[artist]
    y = (
        np.asarray(SEGMENT_INTERCEPT)[s]
        + np.asarray(PLAYLIST_EFFECT)[s] * playlist
        + np.asarray(SOCIAL_EFFECT)[s] * social
        + gamma[pair]
        + rng.normal(0.0, NOISE_SD, size=pair.size)
    )
    dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(day, unit="D")
    data = pd.DataFrame(
        {
            "artist": artists[artist],
            "country": np.asarray(COUNTRIES)[pair_country[pair]],
            "date": dates,
            "weekday": dates.day_name(),
            "streams": y,
            "playlist_adds": playlist,
            "social_posts": social,
        }
    )
    classes = pd.Index(np.arange(1, k + 1), name="segment")
    return StreamsData(
        data=data,
        formula="streams ~ playlist_adds + social_posts",
        groups="artist",
        absorb=["artist", "country"],
        beta=pd.DataFrame(
            [PLAYLIST_EFFECT, SOCIAL_EFFECT],
            index=["playlist_adds", "social_posts"],
            columns=classes,
        ),
        alpha=pd.Series(SEGMENT_INTERCEPT, index=classes, name="alpha"),
        sigma2=NOISE_SD**2,
        shares=pd.Series(SEGMENT_SHARES, index=classes, name="share"),
        true_class=pd.Series(segment + 1, index=pd.Index(artists, name="artist"), name="segment"),
        fixed_effects=pd.Series(
            gamma,
            index=pd.MultiIndex.from_arrays(
                [artists[pair_artist], np.asarray(COUNTRIES)[pair_country]],
                names=["artist", "country"],
            ),
            name="gamma",
        ),
    )
