"""Which songs the DD100 and DCM writers use, and cutting a song (audio and truth) to a length.

The corpus renders every song once (for AIST++) and hands all of them to the duet and camera writers;
a preset asks those for fewer sequences (``dd100_pairs``, ``dcm_dances``) and shorter ones
(``dd100_duration``, ``dcm_duration``). :func:`select_songs` picks songs so that genres alternate and
held-out songs appear early (a two-song corpus still has a train and a test song);
:func:`truncate_song` cuts the audio and its ground truth consistently.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

def truncate_song(audio: np.ndarray, truth, duration: float | None):
    """``(audio, truth)`` cut to the first ``duration`` seconds (unchanged when None or longer).

    Beats and downbeats past the end are dropped, sections clipped (an empty one removed), so the
    truth describes exactly the audio that is written.
    """
    if duration is None or duration >= truth.duration:
        return audio, truth
    d = float(duration)
    n = int(round(d * truth.sr))
    sections, labels = [], []
    names = list(getattr(truth, "section_labels", []) or [])
    for k, (s, e, en) in enumerate(truth.sections):
        if s < d:
            sections.append((float(s), float(min(e, d)), float(en)))
            if k < len(names):
                labels.append(names[k])
    bt = np.asarray(truth.beat_times, dtype=np.float64)
    db = np.asarray(truth.downbeat_times, dtype=np.float64)
    short = replace(truth, duration=d, beat_times=bt[bt < d], downbeat_times=db[db < d], sections=sections,
                    section_labels=labels if names else getattr(truth, "section_labels", []))
    return audio[:n], short


def select_songs(truths: Sequence, count: int | None, period: int,
                 slots: dict[int, tuple[str, ...]]) -> list[int]:
    """Indices of ``count`` songs (all, in the given order, when None), in writing order.

    Songs are taken round-robin over genres. Pick ``j`` comes from a held-out split when
    ``j % period`` is a key of ``slots`` (the first of its splits that has songs left), else from
    the training songs; an empty pool falls back to the others. DD100, say, uses
    ``period=5, slots={1: ("test", "val")}``: picks 1, 6, 11, ... are held out, so two songs are
    one train and one test song.
    """
    order = list(range(len(truths)))
    if count is None:
        return order

    def round_robin(idx: list[int]) -> list[int]:
        by_genre: dict[str, list[int]] = {}
        for i in idx:
            by_genre.setdefault(truths[i].genre, []).append(i)
        out, queues = [], list(by_genre.values())
        while any(queues):
            for q in queues:
                if q:
                    out.append(q.pop(0))
        return out

    split = lambda i: getattr(truths[i], "split", "") or "train"  # noqa: E731
    held_splits = {sp for sps in slots.values() for sp in sps}
    # held-out songs go round the genres from the last one, so a small corpus does not hold out the
    # very genres it trains on first
    pools = {sp: round_robin([i for i in order[::-1] if split(i) == sp]) for sp in held_splits}
    pools["train"] = round_robin([i for i in order if split(i) not in held_splits])
    picks: list[int] = []
    while len(picks) < count and any(pools.values()):
        wanted = slots.get(len(picks) % period, ()) + ("train",) + tuple(sorted(held_splits))
        source = next(pools[sp] for sp in wanted if pools.get(sp))
        picks.append(source.pop(0))
    return picks
