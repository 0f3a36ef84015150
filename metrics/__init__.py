"""pasdeux's metrics suite: the field's dance, duet and camera metrics, vectorised and versioned.

Modules:

* :mod:`metrics.features` -- kinetic (72-d) and geometric (32-d) motion features, ``legacy`` switch;
* :mod:`metrics.fid` -- FID (reference protocol, real part, sqrtm fallback) and Div;
* :mod:`metrics.beat` -- Bailando's music-beat-centric BAS, FACT's motion-beat-centric score, PFC;
* :mod:`metrics.plots` -- the beat-alignment plot (speed curve, kinematic and music beats, BAS) as a PNG;
* :mod:`metrics.duet` -- Duolando's FID_cd / Div_cd, BED, foot slip, contact frequency;
* :mod:`metrics.camera` -- DanceCamera3D's FID_k / FID_s / Div, DMR, LCD (the frustum test is
  :func:`data.camera.visibility_mask`);
* :mod:`metrics.evaluate` -- ``cli.py evaluate``, built from :mod:`metrics.protocols` (the named
  protocols), :mod:`metrics.inputs` (folders and dataset roots), :mod:`metrics.music_beats` (beats for
  BAS), :mod:`metrics.cache` (the feature cache), :mod:`metrics.tasks` (per-task scoring) and
  :mod:`metrics.report` (table and json);
* :mod:`metrics.corpus_checks` -- the synthetic corpus's checks (beat F-measure, genre classifier).

Every score is reported with :data:`METRICS_VERSION` and the protocol that produced it. The version
changes whenever a definition changes a number; cached features are keyed by it.
"""

METRICS_VERSION = "1.0"
