"""Measurements that show the synthetic corpus (:mod:`data.synth`) is worth having (used by the
tests and ``bench/synth_report.py``).

* :func:`beat_f_measure` -- beat-tracking F-measure with a +-70 ms window, mir_eval's definition
  (one-to-one matching of estimated to reference beats; mir_eval is not a dependency). With beats
  more than 140 ms apart a greedy nearest match is the maximum matching.
* :func:`librosa_beats` -- librosa's default beat tracker on a waveform, beat times in seconds.
* :func:`music_song_features` / :func:`motion_features` -- per-song / per-sequence pooled features
  for genre classification.
* :class:`LogisticRegression` -- multinomial logistic regression in numpy (L2, full-batch
  gradient descent on standardised features): no scikit-learn here.
* :func:`bas_own_and_control` -- Bailando's BAS (:func:`metrics.beat.bailando_bas`) of a dance
  against its own song's beats and against another song's beats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.music import features_from_waveform
from metrics.beat import bailando_bas

MIR_EVAL_MIN_BEAT_TIME = 5.0  # mir_eval.beat.trim_beats: beats before 5 s are ignored by convention


def beat_f_measure(reference: np.ndarray, estimated: np.ndarray, window: float = 0.07,
                   min_time: float = 0.0) -> float:
    """F-measure of ``estimated`` beat times against ``reference`` (seconds), +-``window`` s.

    Each reference beat matches at most one estimated beat and vice versa. ``min_time`` drops beats
    before it from both lists first (mir_eval trims at 5 s). Returns 0 when either list is empty.
    """
    ref = np.sort(np.asarray(reference, dtype=np.float64).reshape(-1))
    est = np.sort(np.asarray(estimated, dtype=np.float64).reshape(-1))
    ref, est = ref[ref >= min_time], est[est >= min_time]
    if ref.size == 0 or est.size == 0:
        return 0.0
    used = np.zeros(est.size, dtype=bool)
    hits = 0
    for r in ref:
        d = np.abs(est - r)
        d[used] = np.inf
        j = int(np.argmin(d))
        if d[j] <= window:
            used[j] = True
            hits += 1
    if hits == 0:
        return 0.0
    precision, recall = hits / est.size, hits / ref.size
    return float(2 * precision * recall / (precision + recall))


def librosa_beats(audio: np.ndarray, sr: int) -> tuple[np.ndarray, float]:
    """librosa's beat tracker with its defaults (hop 512): (beat times s, tempo BPM)."""
    import librosa  # heavy (numba): only the corpus checks that run the beat tracker need it

    tempo, beats = librosa.beat.beat_track(y=np.asarray(audio, dtype=np.float32), sr=int(sr), units="time")
    return np.asarray(beats, dtype=np.float64), float(np.atleast_1d(tempo)[0])


# --------------------------------------------------------------------------------------------------
# Features for genre classification
# --------------------------------------------------------------------------------------------------
TIMBRE_CHANNELS = slice(0, 53)
"""bailando438 channels 0..52: MFCC 20, delta MFCC 20, chroma 12, onset strength 1 (no beat one-hot,
no tempogram). The tempogram (384 of the 438 channels) mostly encodes the tempo, and a held-out song's
tempo is by construction one its genre's training songs do not have (one AIST music id per tempo), so
a classifier on all 438 channels learns tempo, not genre."""


def music_song_features(audio: np.ndarray, sr: int, feature_set: str = "bailando438",
                        channels: slice | None = TIMBRE_CHANNELS) -> np.ndarray:
    """Mean and std over time of (some channels of) a named music-feature set (``data.music``):
    (2 F,) float64. ``channels=None`` keeps them all."""
    f = features_from_waveform(audio, sr, fps=60, feature_set=feature_set).features.astype(np.float64)  # (T, F)
    if channels is not None:
        f = f[:, channels]
    return np.concatenate([f.mean(axis=0), f.std(axis=0)])


def motion_features(joints: np.ndarray, fps: float) -> np.ndarray:
    """Pooled kinematics of one dance, (J * 8 + 8,): per joint the mean and std of its speed (m/s)
    and the mean and std of its position relative to the pelvis (posture), plus a coarse spectrum of
    the mean joint speed (energy in 8 bands up to 8 Hz: the rhythm of the movement)."""
    x = np.asarray(joints, dtype=np.float64)  # (T, J, 3)
    vel = np.diff(x, axis=0) * fps  # (T-1, J, 3)
    speed = np.linalg.norm(vel, axis=-1)  # (T-1, J)
    rel = x - x[:, :1]  # (T, J, 3) pelvis-relative
    env = speed.mean(axis=1)
    env = env - env.mean()
    spec = np.abs(np.fft.rfft(env)) ** 2
    freqs = np.fft.rfftfreq(env.size, d=1.0 / fps)
    edges = np.linspace(0.5, 8.0, 9)
    bands = np.array([spec[(freqs >= a) & (freqs < b)].sum() for a, b in zip(edges[:-1], edges[1:])])
    bands = np.log1p(bands / max(spec.sum(), 1e-12) * 100.0)
    return np.concatenate([speed.mean(0), speed.std(0), rel.mean(0).reshape(-1), rel.std(0).reshape(-1), bands])


@dataclass
class LogisticRegression:
    """Multinomial logistic regression: standardised inputs, L2 penalty, full-batch gradient descent
    (step size 1 / the loss's curvature bound, so it converges without tuning)."""

    l2: float = 1e-2
    steps: int = 500

    def fit(self, X: np.ndarray, y: np.ndarray) -> "LogisticRegression":
        X = np.asarray(X, dtype=np.float64)
        self.classes_ = np.unique(y)
        idx = np.searchsorted(self.classes_, y)
        self.mu_ = X.mean(axis=0)
        sd = X.std(axis=0)
        self.sd_ = np.where(sd > 1e-8 * max(float(sd.max()), 1e-300), sd, 1.0)  # constant columns stay 0
        Z = (X - self.mu_) / self.sd_  # (N, F)
        N, F = Z.shape
        # step size from the curvature bound of the softmax loss (0.5 * ||Z||^2 / N): never diverges
        lr = 1.0 / (0.5 * np.linalg.norm(Z, 2) ** 2 / N + self.l2)
        C = len(self.classes_)
        Y = np.eye(C)[idx]  # (N, C)
        W = np.zeros((F, C))
        b = np.zeros(C)
        for _ in range(self.steps):
            P = self._softmax(Z @ W + b)
            G = (P - Y) / N
            W -= lr * (Z.T @ G + self.l2 * W)
            b -= lr * G.sum(axis=0)
        self.W_, self.b_ = W, b
        return self

    @staticmethod
    def _softmax(a: np.ndarray) -> np.ndarray:
        a = a - a.max(axis=1, keepdims=True)
        e = np.exp(a)
        return e / e.sum(axis=1, keepdims=True)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        Z = (np.asarray(X, dtype=np.float64) - self.mu_) / self.sd_
        return self._softmax(Z @ self.W_ + self.b_)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


# --------------------------------------------------------------------------------------------------
# Beat alignment
# --------------------------------------------------------------------------------------------------
def bas_own_and_control(joints: np.ndarray, fps: float, own_beats: np.ndarray,
                        control_beats: np.ndarray) -> tuple[float, float]:
    """Bailando BAS (music-beat-centric, sigma 3 frames) against the dance's own song's beat times
    and against another song's beat times (seconds), both cut to the dance's length."""
    own = np.round(np.asarray(own_beats) * fps).astype(np.int64)
    ctl = np.round(np.asarray(control_beats) * fps).astype(np.int64)
    return bailando_bas(joints, own), bailando_bas(joints, ctl)
