"""The windows-and-joins example gives exactly what a brute-force computation gives."""

from __future__ import annotations

from collections import Counter

from examples.ad_clicks import ATTRIBUTION, WINDOW, generate, run


def test_clicks_per_minute_and_attributed_clicks_are_exact() -> None:
    impressions, clicks = generate(1_000)
    minutes, attributed = run(1_000)

    per_minute = Counter((c.ad, c.t - c.t % WINDOW + WINDOW) for c in clicks)
    assert sorted(minutes) == sorted((ad, end, n) for (ad, end), n in per_minute.items())
    pairs = [
        (c.user, c.ad, c.t - i.t)
        for c in clicks
        for i in impressions
        if (c.user, c.ad) == (i.user, i.ad) and c.t - ATTRIBUTION <= i.t <= c.t
    ]
    assert sorted(attributed) == sorted(pairs)
    assert len(pairs) > 100  # the input exercises the join
