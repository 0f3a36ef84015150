"""The synthetic corpus: songs, dances, duets and camera tracks with exactly known ground truth.

No dataset can be downloaded here, and a first-time user has none either, so pasdeux generates one
that looks file for file like AIST++, DD100 and DCM (``cli.py synth``). Its ground truth (beats,
downbeats, sections, genres, moves, camera cuts) is known exactly, so every later stage can be
measured on held-out songs.

* :mod:`data.synth.music` -- synthesised songs (drums, bass, chords, melody; sections with energy
  changes) per AIST++ genre, with :class:`~data.synth.music.SongTruth`;
* :mod:`data.synth.solo` -- solo dances in SMPL (``smpl24`` at 60 fps, or ``smplx55`` with fingers):
  per-genre move vocabularies in beat time chained by a genre Markov chain,
  :class:`~data.synth.solo.DanceTruth`;
* :mod:`data.synth.corpus` -- the orchestration (:func:`~data.synth.corpus.synth_corpus`): writes
  ``aistpp/`` and calls the DD100 / DCM writers.

The measurements that show the corpus is worth having (beat F-measure, BAS own vs control, genre
classifiers) are metrics, so they live in :mod:`metrics.corpus_checks`, used by the tests and
``bench/synth_report.py``.

Submodules are imported on use (``from data.synth.music import synth_song``): importing this package
costs nothing.
"""
