"""Piper's phoneme durations: the voice model with its duration output exposed, and how many audio
samples each phoneme of a sentence lasts.

A VITS voice decides how long each phoneme lasts (its duration predictor's `w_ceil`, in frames of
`hop_length` samples) before it makes any sound; the shipped ONNX keeps that tensor internal.
piper-tts's own `patch_voice_with_alignment` marks it as a graph output (it needs the `onnx`
package), and Piper then returns it with each sentence's audio (`include_alignments=True`).
Patching costs ~1 s on a quiet machine and ~5 s on a busy one (importing `onnx`, round-tripping
the 63 MB graph through it: docs/benchmarks.md), so it is done once per model file: the patched
model is written to the user's cache directory under the source file's SHA-256 (hashing the 63 MB
file costs ~0.1 s; a reinstalled or different voice gets its own file) and later loads read it
as they read the shipped model. Where the cache cannot be written, the model is patched in
memory at every load; where it cannot be patched at all, the voice speaks without timings.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Bumped when the patch changes, so a stale cached model is not reused.
_PATCH_VERSION = 1
# piper.const's BOS and PAD (not imported: importing piper loads onnxruntime, at app start).
_BOS, _PAD = "^", "_"


def cache_dir() -> Path:
    """Where derived model files live: $XDG_CACHE_HOME/sparring, else ~/.cache/sparring."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sparring"


def _patched(model: Path) -> bytes:
    import onnx
    from piper.patch_voice_with_alignment import add_alignment_output

    graph = onnx.load(str(model))
    add_alignment_output(graph)
    return bytes(graph.SerializeToString())


def with_durations(model: Path, cache: Path | None = None) -> Path | bytes:
    """The voice model with its phoneme durations as a second output: a cached file's path, the
    patched model's bytes (when the cache is not writable), or `model` itself (cannot patch)."""
    with model.open("rb") as source:
        digest = hashlib.file_digest(source, "sha256").hexdigest()
    folder = cache if cache is not None else cache_dir()
    target = folder / f"{model.stem}.{digest[:24]}.durations-v{_PATCH_VERSION}.onnx"
    if target.is_file():
        return target
    try:
        data = _patched(model)
    except Exception as exc:  # no `onnx`, or a model without a single Ceil (not a VITS voice)
        log.warning("piper: cannot expose phoneme durations of %s (%s: %s); no word timings",
                    model.name, exc.__class__.__name__, exc)
        return model
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed: a process that loads at the same time reads
        # either no file or the whole file.
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{target.name}.", delete=False) as draft:
            written = Path(draft.name)
            try:
                draft.write(data)
                draft.close()
                os.replace(written, target)
            finally:
                written.unlink(missing_ok=True)  # nothing left once renamed
    except OSError as exc:
        log.warning("piper: cannot cache the patched voice in %s (%s); patching at every load", folder, exc)
        return data
    return target


def phoneme_spans(phonemes: Sequence[str], id_samples: np.ndarray,
                  id_map: Mapping[str, Sequence[int]]) -> list[tuple[int, int]]:
    """(first sample, end sample) of each phoneme of one sentence, from the samples of each id.

    The ids are laid out as piper's `phonemes_to_ids` lays them out: BOS and a pad, then each
    phoneme's ids and a pad (a phoneme missing from the voice's map has none: it lasts 0
    samples), then EOS. A phoneme's span includes its pad, as in piper's own alignments."""
    pad = len(id_map.get(_PAD, ()))
    index = len(id_map.get(_BOS, ())) + pad
    at = int(id_samples[:index].sum())
    spans: list[tuple[int, int]] = []
    for phoneme in phonemes:
        ids = id_map.get(phoneme)
        count = len(ids) + pad if ids else 0
        end = at + int(id_samples[index:index + count].sum())
        spans.append((at, end))
        at, index = end, index + count
    return spans
