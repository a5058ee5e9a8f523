"""The offline embedder: feature hashing, no network, no model file, deterministic everywhere.

Features are content-word unigrams and bigrams plus character trigrams of each word (so
"financing" and "finance" share features), hashed with a sign bit into a fixed number of
dimensions, weighted by sublinear term frequency and L2-normalised: cosine similarity then
tracks shared vocabulary and word forms, which is what a keyword-heavy sales document needs.
"""

from __future__ import annotations

import asyncio
import math
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise

DIMENSION = 384
MODEL = f"offline-hash-{DIMENSION}-v1"
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP = frozenset(" ".join([
    "a an the and or but of to in on at for with is are was were be been being it its this that these",
    "those i you he she we they me him her us them my your his our their as by from so if not no do does",
    "did have has had will would can could should shall may might must am just than then there here what",
    "which who whom when where why how all any both each few more most other some such only own same too",
    "very s t",
]).split())
# Feature -> (index, sign); sales documents reuse a small vocabulary, so this stays small.
_CACHE: dict[str, tuple[int, float]] = {}
_CACHE_MAX = 400_000


def _slot(feature: str) -> tuple[int, float]:
    found = _CACHE.get(feature)
    if found is None:
        h = zlib.crc32(feature.encode())
        found = (h % DIMENSION, 1.0 if (h >> 20) & 1 else -1.0)
        if len(_CACHE) < _CACHE_MAX:
            _CACHE[feature] = found
    return found


def embed_text(text: str) -> list[float]:
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOP]
    features: Counter[str] = Counter()
    for word in words:
        features["w:" + word] += 2
        padded = f"<{word}>"
        features.update(padded[i:i + 3] for i in range(len(padded) - 2))
    features.update("b:" + a + " " + b for a, b in pairwise(words))
    vector = [0.0] * DIMENSION
    for feature, tf in features.items():
        index, sign = _slot(feature)
        vector[index] += sign * (1.0 + math.log(tf))
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0:
        return vector
    return [x / norm for x in vector]


class HashingEmbedder:
    model = MODEL
    dimension = DIMENSION
    offline = True

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if len(texts) <= 8:
            return [embed_text(t) for t in texts]
        return await asyncio.to_thread(lambda: [embed_text(t) for t in texts])

    async def embed_query(self, text: str) -> list[float]:
        return embed_text(text)

    async def close(self) -> None:
        return None
