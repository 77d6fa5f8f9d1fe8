"""Posts matched per second by the social-mention matcher, on the labelled set repeated.

    .venv/bin/python benchmarks/social.py --posts 200000

One process, one core: the labelled posts (tests/signals/data/social_posts.jsonl, about a third
mention an outage) are cycled until ``--posts`` have been matched; the time includes folding,
both regular expressions and scoring, not JSON parsing or counting.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

from panne.catalog import default_catalog
from panne.signals.social import MentionMatcher

DATA = Path(__file__).resolve().parent.parent / "tests" / "signals" / "data" / "social_posts.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=200_000)
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]
    texts = [r["text"] for r in rows]
    matcher = MentionMatcher(default_catalog())
    for text in texts:  # warm the regex caches
        matcher.match(text)
    mentions = 0
    start = time.perf_counter()
    for text in itertools.islice(itertools.cycle(texts), args.posts):
        mentions += len(matcher.match(text))
    elapsed = time.perf_counter() - start
    print(f"{args.posts:,} posts ({len(texts)} distinct) in {elapsed:.2f} s")
    print(f"{args.posts / elapsed:,.0f} posts/s, {elapsed / args.posts * 1e6:.1f} µs a post")
    print(f"{mentions:,} mentions")


if __name__ == "__main__":
    main()
