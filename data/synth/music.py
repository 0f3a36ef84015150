"""Synthesised songs with exactly known beats, downbeats, sections and genre.

Each of the ten AIST++ genres (:data:`GENRES`, keyed by AIST++'s codes) is a recipe: a set of tempi
(as AIST music-id digits, so ``mBR3`` is Break at 110 BPM exactly as in the real dataset: ``80 + 10 d``,
House ``110 + 5 d``), a 16-step drum pattern with its own kit (kick pitch sweep, drive, snare / clap /
rim, hat decay), swing, a bass line, a chord instrument and style, a lead timbre and a musical mode.
:func:`synth_song` renders a song of a genre in 4/4:

* drums, bass, chords (a 4-bar progression in the genre's mode) and a lead motif;
* sections in whole bars (intro, verse, chorus, break, outro) whose energy in [0, 1] changes the
  instrumentation (bass and lead drop out in quiet sections, hats densify in loud ones), the
  velocities and a crash on loud section starts;
* a first beat at a small random offset, every beat exactly ``60 / bpm`` s after the previous one,
  a downbeat every 4 beats, section boundaries on downbeats.

Every beat carries a kick or a snare/clap/rim hit, so a beat tracker can find the pulse in every
section; the genre stays audible in the spectrum (timbres), the rhythm (pattern, swing) and the tempo.

The ground truth comes back as :class:`SongTruth` (times in seconds), serialisable to JSON. Everything
is drawn from ``numpy.random.default_rng(seed)``: the same seed gives the same samples bit for bit.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.signal import butter, oaconvolve, sosfilt

DEFAULT_SR = 30720  # 60 fps x 512 hop: one music-feature frame per 60 fps motion frame
MIN_SR = 22050
STEPS_PER_BEAT = 4  # the drum grid is in 16th notes
BEATS_PER_BAR = 4

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
}
# 4-bar progressions as scale degrees (0-based), one chord a bar.
PROGRESSIONS: dict[str, tuple[tuple[int, ...], ...]] = {
    "major": ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 4)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6)),
    "dorian": ((0, 3, 0, 3), (0, 6, 3, 0)),
    "mixolydian": ((0, 6, 3, 0), (0, 3, 6, 0)),
    "phrygian": ((0, 1, 0, 1), (0, 1, 6, 0)),
}
# Section kinds and their nominal energies (a little jitter is added per song).
SECTION_ENERGY: dict[str, float] = {"intro": 0.3, "verse": 0.55, "chorus": 0.9, "break": 0.22, "outro": 0.38}


# --------------------------------------------------------------------------------------------------
# Genre recipes
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DrumKit:
    """One-shot drum sounds of a genre (frequencies Hz, times s)."""

    kick_f0: float = 150.0  # pitch at the attack
    kick_f1: float = 50.0  # pitch the sweep settles to
    kick_decay: float = 0.25
    kick_drive: float = 1.0  # tanh drive; 1 is clean
    snare_kind: str = "snare"  # snare | clap | rim
    snare_tone: float = 190.0
    snare_decay: float = 0.14
    snare_hp: float = 1500.0  # high-pass of the noise part
    hat_decay: float = 0.04
    hat_hp: float = 7000.0
    open_hat_decay: float = 0.22
    perc_freq: float = 800.0  # cowbell / woodblock pitch
    level_snare: float = 0.8
    level_hat: float = 0.25


@dataclass(frozen=True)
class GenreSpec:
    """How a genre's songs sound. Patterns are 16-step strings: ``X`` accent, ``x`` hit, ``o`` ghost."""

    code: str
    name: str
    digits: tuple[int, ...]
    """AIST music-id digits in the order songs use them; the tempo is ``bpm_of(code, digit)``."""
    kick: str
    snare: str
    hats: str
    open_hats: str
    perc: str
    swing: float
    """Delay of the off 16ths as a fraction of a 16th note (0 straight, 0.33 a strong shuffle)."""
    kit: DrumKit
    bass: tuple[tuple[int, int, int], ...]
    """(step, semitones above the chord root, length in steps) per bar."""
    bass_wave: str
    bass_cutoff: float
    chord_wave: str
    chord_style: str  # pad | stab | piano
    chord_steps: tuple[int, ...]
    chord_cutoff: float
    lead_wave: str
    lead_density: float  # share of 16th slots of the motif that get a note
    lead_cutoff: float
    mode: str

    @property
    def bpm_range(self) -> tuple[float, float]:
        bpms = [bpm_of(self.code, d) for d in self.digits]
        return min(bpms), max(bpms)


def bpm_of(genre: str, digit: int) -> float:
    """The tempo an AIST music id encodes: ``80 + 10 d`` BPM, House ``110 + 5 d``."""
    return float(110 + 5 * digit) if genre == "HO" else float(80 + 10 * digit)


def digit_for_bpm(genre: str, bpm: float) -> int | None:
    """The AIST music-id digit of ``bpm`` for ``genre``, or None when no digit encodes it."""
    for d in range(10):
        if abs(bpm_of(genre, d) - bpm) < 1e-9:
            return d
    return None


GENRES: dict[str, GenreSpec] = {
    g.code: g
    for g in (
        GenreSpec(
            code="BR", name="Break", digits=(1, 3, 4, 7, 2, 5),
            kick="X.......X.x.....", snare="....X..o....X..o", hats="x.x.x.x.x.x.x.x.",
            open_hats="..............x.", perc="................", swing=0.12,
            kit=DrumKit(kick_f0=160, kick_f1=52, kick_decay=0.22, kick_drive=1.6, snare_kind="snare",
                        snare_tone=210, snare_decay=0.16, snare_hp=1800, hat_decay=0.035, level_snare=0.55),
            bass=((0, 0, 3), (3, 0, 1), (6, 12, 2), (10, 0, 2), (14, 7, 2)), bass_wave="saw",
            bass_cutoff=700, chord_wave="saw", chord_style="stab", chord_steps=(0, 3, 6),
            chord_cutoff=2600, lead_wave="square", lead_density=0.35, lead_cutoff=3500, mode="dorian"),
        GenreSpec(
            code="PO", name="Pop", digits=(0, 2, 3, 7, 1, 5),
            kick="X.....x.X.......", snare="....X.......X...", hats="x.x.x.x.x.x.x.x.",
            open_hats="................", perc="..x...x...x...x.", swing=0.0,
            kit=DrumKit(kick_f0=130, kick_f1=55, kick_decay=0.18, kick_drive=1.2, snare_kind="clap",
                        snare_decay=0.12, snare_hp=1200, hat_decay=0.025, hat_hp=8000, perc_freq=560),
            bass=((0, 0, 2), (4, 0, 2), (8, 0, 2), (11, 0, 1), (12, 12, 2), (14, 0, 2)), bass_wave="square",
            bass_cutoff=900, chord_wave="square", chord_style="stab", chord_steps=(2, 10),
            chord_cutoff=3000, lead_wave="saw", lead_density=0.6, lead_cutoff=5000, mode="minor"),
        GenreSpec(
            code="LO", name="Lock", digits=(1, 3, 4, 6, 2, 5),
            kick="X..x..x.X.....x.", snare="....X..o....X...", hats="xoxoxoxoxoxoxoxo",
            open_hats="......x.........", perc="................", swing=0.0,
            kit=DrumKit(kick_f0=120, kick_f1=60, kick_decay=0.16, kick_drive=1.0, snare_kind="snare",
                        snare_tone=240, snare_decay=0.11, snare_hp=2200, hat_decay=0.03, hat_hp=6500),
            bass=((0, 0, 2), (3, 12, 1), (6, 0, 1), (8, 0, 2), (10, 10, 1), (11, 12, 1), (14, 7, 2)),
            bass_wave="saw", bass_cutoff=1400, chord_wave="saw", chord_style="stab",
            chord_steps=(0, 6, 12), chord_cutoff=4000, lead_wave="tri", lead_density=0.45,
            lead_cutoff=6000, mode="mixolydian"),
        GenreSpec(
            code="MH", name="Middle Hip-hop", digits=(0, 2, 3, 5, 1, 4),
            kick="X......xX.x.....", snare="....X.......X...", hats="x.o.x.o.x.o.x.o.",
            open_hats="................", perc="................", swing=0.3,
            kit=DrumKit(kick_f0=110, kick_f1=48, kick_decay=0.3, kick_drive=2.0, snare_kind="snare",
                        snare_tone=180, snare_decay=0.2, snare_hp=900, hat_decay=0.05, hat_hp=5000),
            bass=((0, 0, 6), (7, 0, 2), (10, 0, 4)), bass_wave="sine", bass_cutoff=400,
            chord_wave="piano", chord_style="piano", chord_steps=(0, 8), chord_cutoff=2200,
            lead_wave="sine", lead_density=0.25, lead_cutoff=3000, mode="minor"),
        GenreSpec(
            code="LH", name="LA-style Hip-hop", digits=(0, 2, 3, 5, 1, 4),
            kick="X.....x.X.x.....", snare="....X.......X...", hats="x.xxx.x.x.xxx.x.",
            open_hats="................", perc="................", swing=0.08,
            kit=DrumKit(kick_f0=90, kick_f1=42, kick_decay=0.55, kick_drive=1.3, snare_kind="clap",
                        snare_decay=0.15, snare_hp=1000, hat_decay=0.02, hat_hp=9000),
            bass=((0, 0, 8), (10, 0, 6)), bass_wave="sine", bass_cutoff=300, chord_wave="sine",
            chord_style="pad", chord_steps=(0,), chord_cutoff=1800, lead_wave="sine", lead_density=0.2,
            lead_cutoff=8000, mode="minor"),
        GenreSpec(
            code="HO", name="House", digits=(0, 2, 3, 5, 1, 4),
            kick="X...X...X...X...", snare="....x.......x...", hats="x.o.x.o.x.o.x.o.",
            open_hats="..x...x...x...x.", perc="oooooooooooooooo", swing=0.0,
            kit=DrumKit(kick_f0=140, kick_f1=50, kick_decay=0.28, kick_drive=1.4, snare_kind="clap",
                        snare_decay=0.13, snare_hp=1400, hat_decay=0.03, hat_hp=8000, open_hat_decay=0.18,
                        perc_freq=4000, level_hat=0.2),
            bass=((2, 0, 2), (6, 0, 2), (10, 0, 2), (14, 0, 2)), bass_wave="saw", bass_cutoff=500,
            chord_wave="organ", chord_style="stab", chord_steps=(2, 5, 10, 13), chord_cutoff=3200,
            lead_wave="saw", lead_density=0.4, lead_cutoff=4500, mode="minor"),
        GenreSpec(
            code="WA", name="Waack", digits=(2, 4, 5, 7, 3, 6),
            kick="X...X...X...X...", snare="....X.......X...", hats="xoxoxoxoxoxoxoxo",
            open_hats="..x...x...x...x.", perc="................", swing=0.0,
            kit=DrumKit(kick_f0=125, kick_f1=58, kick_decay=0.18, kick_drive=1.0, snare_kind="snare",
                        snare_tone=220, snare_decay=0.13, snare_hp=2500, hat_decay=0.025, hat_hp=7500,
                        open_hat_decay=0.25),
            bass=((0, 0, 2), (2, 12, 2), (4, 0, 2), (6, 12, 2), (8, 0, 2), (10, 12, 2), (12, 0, 2), (14, 12, 2)),
            bass_wave="square", bass_cutoff=600, chord_wave="strings", chord_style="pad", chord_steps=(0,),
            chord_cutoff=5000, lead_wave="square", lead_density=0.5, lead_cutoff=5000, mode="major"),
        GenreSpec(
            code="KR", name="Krump", digits=(0, 2, 3, 5, 1, 4),
            kick="X.......X.x.....", snare="....X.......X...", hats="x...x...x...x...",
            open_hats="................", perc="................", swing=0.0,
            kit=DrumKit(kick_f0=100, kick_f1=38, kick_decay=0.45, kick_drive=4.0, snare_kind="snare",
                        snare_tone=160, snare_decay=0.22, snare_hp=700, hat_decay=0.06, hat_hp=4000,
                        level_snare=0.6, level_hat=0.3),
            bass=((0, 0, 4), (8, 0, 4)), bass_wave="dist", bass_cutoff=600, chord_wave="saw",
            chord_style="pad", chord_steps=(0,), chord_cutoff=900, lead_wave="saw", lead_density=0.15,
            lead_cutoff=1500, mode="phrygian"),
        GenreSpec(
            code="JS", name="Street Jazz", digits=(1, 3, 4, 6, 2, 5),
            kick="X..x....X.....x.", snare="....X.......X...", hats="x.x.x.x.x.x.x.x.",
            open_hats="..............x.", perc="......x.......x.", swing=0.15,
            kit=DrumKit(kick_f0=115, kick_f1=52, kick_decay=0.24, kick_drive=1.1, snare_kind="snare",
                        snare_tone=200, snare_decay=0.12, snare_hp=1800, hat_decay=0.04, hat_hp=7000,
                        perc_freq=1700),
            bass=((0, 0, 4), (6, 0, 2), (8, 7, 4), (14, 5, 2)), bass_wave="tri", bass_cutoff=800,
            chord_wave="piano", chord_style="piano", chord_steps=(0, 6, 8, 14), chord_cutoff=3500,
            lead_wave="tri", lead_density=0.4, lead_cutoff=5000, mode="minor"),
        GenreSpec(
            code="JB", name="Ballet Jazz", digits=(0, 2, 3, 6, 1, 4),
            kick="X.......X.......", snare="....x.......x...", hats="o.oo.oo.o.oo.oo.",
            open_hats="................", perc="................", swing=0.25,
            kit=DrumKit(kick_f0=90, kick_f1=55, kick_decay=0.2, kick_drive=1.0, snare_kind="rim",
                        snare_tone=1700, snare_decay=0.05, hat_decay=0.07, hat_hp=5500, level_snare=0.7,
                        level_hat=0.22),
            bass=((0, 0, 4), (4, 4, 4), (8, 7, 4), (12, 9, 4)), bass_wave="sine", bass_cutoff=600,
            chord_wave="strings", chord_style="pad", chord_steps=(0,), chord_cutoff=2500,
            lead_wave="sine", lead_density=0.3, lead_cutoff=6000, mode="major"),
    )
}


# --------------------------------------------------------------------------------------------------
# Ground truth
# --------------------------------------------------------------------------------------------------
@dataclass
class SongTruth:
    """What a synthetic song contains, exactly (times in seconds)."""

    name: str
    genre: str
    bpm: float
    duration: float
    sr: int
    beat_times: np.ndarray  # (B,) seconds, spaced exactly 60 / bpm
    downbeat_times: np.ndarray  # (B // 4,) seconds, every 4th beat starting with the first
    sections: list[tuple[float, float, float]]  # (start s, end s, energy in [0, 1]); they tile [0, duration]
    section_labels: list[str] = field(default_factory=list)  # intro / verse / chorus / break / outro
    music_id: str = ""  # the AIST music id (mBR3) when the song is part of a corpus
    split: str = ""  # train / val / test when the song is part of a corpus
    key: int = 0  # MIDI note of the tonic (bass octave)
    mode: str = ""
    seed: int = 0

    def energy_at(self, times: np.ndarray | float) -> np.ndarray:
        """Section energy at ``times`` (s); times outside the song take the nearest section's."""
        t = np.asarray(times, dtype=np.float64)
        starts = np.array([s[0] for s in self.sections])
        energies = np.array([s[2] for s in self.sections])
        idx = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
        return energies[idx]

    @property
    def beat_period(self) -> float:
        return 60.0 / self.bpm

    def beat_frames(self, fps: float) -> np.ndarray:
        """Beat times as the nearest frame index at ``fps`` (int64)."""
        return np.round(self.beat_times * fps).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["beat_times"] = [round(float(x), 6) for x in self.beat_times]
        d["downbeat_times"] = [round(float(x), 6) for x in self.downbeat_times]
        d["sections"] = [[round(float(a), 6), round(float(b), 6), round(float(e), 4)] for a, b, e in self.sections]
        return d

    def to_json(self) -> str:
        """The truth as a JSON text (what the corpus writes to ``groundtruth/music/<id>.json``)."""
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SongTruth":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["beat_times"] = np.asarray(known["beat_times"], dtype=np.float64)
        known["downbeat_times"] = np.asarray(known["downbeat_times"], dtype=np.float64)
        known["sections"] = [(float(a), float(b), float(e)) for a, b, e in known["sections"]]
        return cls(**known)

    @classmethod
    def from_json(cls, text: str | dict[str, Any]) -> "SongTruth":
        """Inverse of :meth:`to_json` (also accepts the already-parsed dict)."""
        return cls.from_dict(json.loads(text) if isinstance(text, str) else text)


# --------------------------------------------------------------------------------------------------
# Sound sources
# --------------------------------------------------------------------------------------------------
def _sos(kind: str, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    return butter(order, min(cutoff, 0.45 * sr) / (sr / 2), btype=kind, output="sos")


def _osc(wave: str, phase: np.ndarray) -> np.ndarray:
    """Waveform of ``phase`` (in cycles). Naive (aliasing) shapes: fine for a synthetic corpus."""
    frac = phase % 1.0
    if wave == "sine":
        return np.sin(2 * np.pi * phase)
    if wave == "saw":
        return 2.0 * frac - 1.0
    if wave == "square":
        return np.where(frac < 0.5, 1.0, -1.0)
    if wave == "tri":
        return 4.0 * np.abs(frac - 0.5) - 1.0
    if wave == "organ":  # drawbar-ish: fundamental + octave + twelfth
        return (np.sin(2 * np.pi * phase) + 0.5 * np.sin(4 * np.pi * phase) + 0.3 * np.sin(6 * np.pi * phase)) / 1.8
    if wave == "piano":  # bright partials; the envelope makes it percussive
        return (np.sin(2 * np.pi * phase) + 0.4 * np.sin(4 * np.pi * phase) + 0.2 * np.sin(6 * np.pi * phase)
                + 0.1 * np.sin(8 * np.pi * phase)) / 1.7
    if wave == "strings":  # two detuned saws, mixed with the caller's detune
        return 2.0 * frac - 1.0
    if wave == "dist":
        return np.tanh(3.0 * np.sin(2 * np.pi * phase))
    raise ValueError(f"unknown wave {wave!r}")


def _midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _tone(wave: str, note: float, dur: float, sr: int, attack: float, decay: float, release: float = 0.02,
          detune_cents: float = 0.0) -> np.ndarray:
    """One note: ``dur`` s plus a ``release`` tail; exponential decay with time constant ``decay``."""
    n = int((dur + release) * sr)
    t = np.arange(n) / sr
    f = _midi_hz(note)
    x = _osc(wave, f * t)
    if detune_cents:
        x = 0.5 * (x + _osc(wave, f * 2 ** (detune_cents / 1200.0) * t + 0.37))
    env = np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-t / decay)
    rel = np.clip((dur + release - t) / release, 0.0, 1.0)
    return x * env * rel


def _kick(kit: DrumKit, sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int((kit.kick_decay * 4) * sr)
    t = np.arange(n) / sr
    f = kit.kick_f1 + (kit.kick_f0 - kit.kick_f1) * np.exp(-t / 0.035)  # pitch sweep
    phase = np.cumsum(f) / sr
    x = np.sin(2 * np.pi * phase) * np.exp(-t / kit.kick_decay)
    x = np.tanh(kit.kick_drive * x) / np.tanh(kit.kick_drive)
    # Beater click: a broadband transient. Without it the kick's onset lives in a few low mel bands
    # while the snare's spans them all, and beat trackers lock onto the snare's half tempo.
    x += 0.9 * sosfilt(_sos("high", 1000, sr), rng.standard_normal(n)) * np.exp(-t / 0.008)
    return x


def _snare(kit: DrumKit, sr: int, rng: np.random.Generator) -> np.ndarray:
    if kit.snare_kind == "rim":
        n = int(0.12 * sr)
        t = np.arange(n) / sr
        x = np.sin(2 * np.pi * kit.snare_tone * t) * np.exp(-t / kit.snare_decay)
        x += 0.5 * sosfilt(_sos("high", 2000, sr), rng.standard_normal(n)) * np.exp(-t / 0.008)
        return x
    n = int(kit.snare_decay * 5 * sr)
    t = np.arange(n) / sr
    noise = sosfilt(_sos("high", kit.snare_hp, sr), rng.standard_normal(n))
    if kit.snare_kind == "clap":  # three quick bursts then a tail
        env = np.zeros(n)
        for k, d in enumerate((0.0, 0.011, 0.023)):
            env += (t >= d) * np.exp(-np.maximum(t - d, 0) / 0.006) * (0.8 if k < 2 else 1.0)
        env += (t >= 0.023) * 0.6 * np.exp(-np.maximum(t - 0.023, 0) / kit.snare_decay)
        return noise * env
    tone = np.sin(2 * np.pi * kit.snare_tone * t) * np.exp(-t / 0.05)
    return 0.7 * noise * np.exp(-t / kit.snare_decay) + 0.6 * tone


def _hat(decay: float, hp: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(decay * 6 * sr)
    t = np.arange(n) / sr
    return sosfilt(_sos("high", hp, sr), rng.standard_normal(n)) * np.exp(-t / decay)


def _perc(freq: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.15 * sr)
    t = np.arange(n) / sr
    if freq >= 3000:  # shaker
        return 0.6 * sosfilt(_sos("high", freq, sr), rng.standard_normal(n)) * np.exp(-t / 0.02)
    return (np.sign(np.sin(2 * np.pi * freq * t)) + np.sign(np.sin(2 * np.pi * freq * 1.48 * t))) * 0.35 \
        * np.exp(-t / 0.05)


def _crash(sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(1.5 * sr)
    t = np.arange(n) / sr
    return sosfilt(_sos("high", 4000, sr), rng.standard_normal(n)) * np.exp(-t / 0.5)


def _add(track: np.ndarray, start: int, clip: np.ndarray, gain: float) -> None:
    if start >= track.shape[0] or gain == 0.0:
        return
    if start < 0:
        clip, start = clip[-start:], 0
    end = min(track.shape[0], start + clip.shape[0])
    track[start:end] += gain * clip[: end - start]


def _velocity(ch: str) -> float:
    return {"X": 1.0, "x": 0.75, "o": 0.35}.get(ch, 0.0)


# --------------------------------------------------------------------------------------------------
# Song form
# --------------------------------------------------------------------------------------------------
def _plan_sections(num_bars: int, rng: np.random.Generator) -> list[tuple[str, int, int]]:
    """(kind, first bar, bar count) tiling ``num_bars``: intro, then verse/chorus/break, outro."""
    # short songs get short sections so that even a 15 s clip has a verse, a chorus and a change
    short = num_bars < 16
    plan: list[tuple[str, int]] = [("intro", 2 if short else int(rng.choice([2, 4])))]
    cycle = ["verse", "chorus", "break", "chorus"] if rng.random() < 0.5 else ["verse", "chorus", "verse", "break"]
    i = 0
    while sum(n for _, n in plan) < num_bars:
        kind = cycle[i % len(cycle)]
        if kind == "break":
            n = 2 if short else int(rng.choice([2, 4]))
        else:
            n = int(rng.choice([2, 4])) if short else int(rng.choice([4, 8]))
        plan.append((kind, n))
        i += 1
    # trim to the song; the last section becomes an outro when there is room
    out: list[tuple[str, int, int]] = []
    bar = 0
    for kind, n in plan:
        n = min(n, num_bars - bar)
        if n <= 0:
            break
        out.append((kind, bar, n))
        bar += n
    if len(out) > 2:
        kind, start, count = out[-1]
        if count >= 4:  # the last two bars become the outro
            out[-1] = (kind, start, count - 2)
            out.append(("outro", start + count - 2, 2))
        else:
            out[-1] = ("outro", start, count)
    return out


def _choose_bpm(spec: GenreSpec, rng: np.random.Generator) -> tuple[float, int]:
    digit = int(spec.digits[int(rng.integers(len(spec.digits)))])
    return bpm_of(spec.code, digit), digit


# --------------------------------------------------------------------------------------------------
# The song
# --------------------------------------------------------------------------------------------------
def synth_song(genre: str, seed: int, duration: float, sr: int = DEFAULT_SR, bpm: float | None = None,
               name: str = "") -> tuple[np.ndarray, SongTruth]:
    """Render a song of ``genre`` (an AIST++ code in :data:`GENRES`).

    Args:
        genre: e.g. ``"BR"``.
        seed: everything random (tempo when ``bpm`` is None, key, progression, form, motif, noise).
        duration: length in seconds (>= 2 s).
        sr: sample rate, >= 22050 Hz; 30720 gives one 512-hop frame per 60 fps motion frame.
        bpm: tempo; None picks one of the genre's AIST tempi.
        name: the song's name; default ``m{genre}{digit}`` when the tempo has an AIST digit.

    Returns:
        ``(audio, truth)``: mono float32 (N,) with N = round(duration * sr), peak 0.89, and its
        :class:`SongTruth`.
    """
    if genre not in GENRES:
        raise ValueError(f"unknown genre {genre!r}; synthetic genres are {', '.join(GENRES)}")
    if sr < MIN_SR:
        raise ValueError(f"sample rate {sr} Hz is below {MIN_SR} Hz")
    if not duration >= 2.0:
        raise ValueError(f"duration {duration} s is too short (>= 2 s)")
    spec = GENRES[genre]
    rng = np.random.default_rng(seed)
    if bpm is None:
        bpm, digit = _choose_bpm(spec, rng)
    else:
        bpm = float(bpm)
        if not 40.0 <= bpm <= 220.0:
            raise ValueError(f"bpm {bpm} outside 40..220")
        digit = digit_for_bpm(genre, bpm)
    if not name:
        name = f"m{genre}{digit}" if digit is not None else f"{genre}_{seed}"

    n = int(round(duration * sr))
    period = 60.0 / bpm
    step = period / STEPS_PER_BEAT
    t0 = float(rng.uniform(0.1, 0.45)) * period  # first beat
    num_beats = int(math.floor((duration - t0) / period)) + 1
    beat_times = t0 + period * np.arange(num_beats)
    beat_times = beat_times[beat_times < duration]
    downbeat_times = beat_times[::BEATS_PER_BAR]
    num_bars = int(math.ceil(len(beat_times) / BEATS_PER_BAR))

    # form and energies
    form = _plan_sections(num_bars, rng)
    sections: list[tuple[float, float, float]] = []
    labels: list[str] = []
    bar_energy = np.zeros(num_bars)
    for i, (kind, first, count) in enumerate(form):
        e = float(np.clip(SECTION_ENERGY[kind] + rng.uniform(-0.05, 0.05), 0.0, 1.0))
        start = 0.0 if i == 0 else t0 + first * BEATS_PER_BAR * period
        end = duration if i == len(form) - 1 else t0 + (first + count) * BEATS_PER_BAR * period
        sections.append((start, min(end, duration), e))
        labels.append(kind)
        bar_energy[first:first + count] = e

    # harmony
    scale = SCALES[spec.mode]
    key = int(rng.integers(40, 48))  # E2..B2 tonic in the bass octave
    progression = PROGRESSIONS[spec.mode][int(rng.integers(len(PROGRESSIONS[spec.mode])))]

    def degree_note(deg: int) -> int:
        return key + scale[deg % 7] + 12 * (deg // 7)

    # a 2-bar lead motif on the 16th grid: (step 0..31, scale degree, length in steps)
    motif: list[tuple[int, int, int]] = []
    s = 0
    while s < 32:
        if rng.random() < spec.lead_density:
            length = int(rng.choice([1, 2, 2, 3, 4]))
            motif.append((s, int(rng.choice([0, 1, 2, 3, 4, 5, 7, 9])), length))
            s += length
        else:
            s += 1

    # one-shot sounds (per song: the noise differs, the character is the genre's)
    kit = spec.kit
    kick, snare = _kick(kit, sr, rng), _snare(kit, sr, rng)
    hat = _hat(kit.hat_decay, kit.hat_hp, sr, rng)
    open_hat = _hat(kit.open_hat_decay, kit.hat_hp * 0.8, sr, rng)
    perc, crash = _perc(kit.perc_freq, sr, rng), _crash(sr, rng)

    # notes repeat bar after bar: render each distinct one once
    tone_cache: dict[tuple, np.ndarray] = {}

    def tone(*args: Any, **kw: Any) -> np.ndarray:
        key = args + tuple(sorted(kw.items()))
        if key not in tone_cache:
            tone_cache[key] = _tone(*args, **kw)
        return tone_cache[key]

    drums = np.zeros(n)
    bass = np.zeros(n)
    chords = np.zeros(n)
    lead = np.zeros(n)

    def step_time(bar: int, k: int) -> float:
        t = t0 + (bar * BEATS_PER_BAR * STEPS_PER_BEAT + k) * step
        if k % 2 == 1:  # swing delays the off 16ths only: beats stay exact
            t += spec.swing * step
        return t

    def at(t: float) -> int:
        return int(round(t * sr))

    last_e = 0.0
    for bar in range(num_bars):
        e = float(bar_energy[bar])
        loud = 0.55 + 0.45 * e
        chord_deg = progression[bar % len(progression)]
        root = degree_note(chord_deg)
        triad = [degree_note(chord_deg + k) for k in (0, 2, 4)]
        if bar == 0 or (e > last_e + 0.2 and e >= 0.6):
            _add(drums, at(step_time(bar, 0)), crash, 0.25 * loud)
        last_e = e
        for k in range(16):
            t = at(step_time(bar, k))
            _add(drums, t, kick, _velocity(spec.kick[k]) * loud)
            _add(drums, t, snare, kit.level_snare * _velocity(spec.snare[k]) * loud)
            hv = _velocity(spec.hats[k])
            if k % STEPS_PER_BEAT == 0:
                hv = max(hv, 0.9)  # every beat gets a hat: the pulse stays even across kick and snare beats
            if e < 0.4 and k % 4 != 0 and k % 2 == 1:
                hv = 0.0  # quiet sections: hats thin out to 8ths
            if e > 0.75 and hv == 0.0 and k % 2 == 1:
                hv = 0.3  # loud sections: hats densify to 16ths
            _add(drums, t, hat, kit.level_hat * hv * loud)
            if e >= 0.4:
                _add(drums, t, open_hat, 0.6 * kit.level_hat * _velocity(spec.open_hats[k]) * loud)
                _add(drums, t, perc, 0.3 * _velocity(spec.perc[k]) * loud)
        if e >= 0.4:  # bass drops out in intros and breaks
            for k, semi, length in spec.bass:
                dur = length * step * 0.9
                _add(bass, at(step_time(bar, k)),
                     tone(spec.bass_wave, root - 12 * (root >= 48) + semi, dur, sr, 0.004, 0.5), 0.5 * loud)
        # chords
        if spec.chord_style == "pad":
            dur = BEATS_PER_BAR * period
            for note in triad:
                _add(chords, at(step_time(bar, 0)),
                     tone(spec.chord_wave, note + 12, dur, sr, 0.08, 3.0, 0.08, detune_cents=9.0), 0.18 * loud)
        else:
            for k in spec.chord_steps:
                dur = step * (1.5 if spec.chord_style == "stab" else 6.0)
                decay = 0.08 if spec.chord_style == "stab" else 0.5
                for note in triad:
                    _add(chords, at(step_time(bar, k)),
                         tone(spec.chord_wave, note + 12, dur, sr, 0.003, decay, 0.03), 0.2 * loud)
        # lead only where the song is loud enough
        if e >= 0.7 or (e >= 0.5 and bar % 4 == 3):
            half = (bar % 2) * 16
            for s0, deg, length in motif:
                if half <= s0 < half + 16:
                    note = degree_note(deg + 14) + 0  # two octaves above the tonic
                    _add(lead, at(step_time(bar, s0 - half)),
                         tone(spec.lead_wave, note, length * step * 0.9, sr, 0.005, 0.4, 0.02), 0.22 * loud)

    bass = sosfilt(_sos("low", spec.bass_cutoff, sr), bass)
    chords = sosfilt(_sos("low", spec.chord_cutoff, sr), chords)
    lead = sosfilt(_sos("low", spec.lead_cutoff, sr), lead)
    mix = drums + 0.9 * bass + 0.6 * chords + 0.5 * lead
    # A room: exponentially decaying noise as the impulse response. Its tail fills the silences
    # between hits, so quiet sections do not turn every hit into an 80 dB onset (log-spectral flux
    # would otherwise weigh the intro far above the chorus, and beat trackers trim the loud part).
    ir_n = int(1.2 * sr)
    ir_t = np.arange(ir_n) / sr
    ir = rng.standard_normal(ir_n) * np.exp(-ir_t / 0.25)
    ir *= 0.35 / np.sqrt(np.sum(ir ** 2))
    ir[0] = 1.0  # the dry signal
    mix = oaconvolve(mix, ir)[:n]
    mix = np.tanh(1.1 * mix)  # gentle bus saturation, as a mastering limiter would
    fade = min(n // 4, int(0.4 * sr))
    mix[n - fade:] *= np.linspace(1.0, 0.0, fade)
    mix[: int(0.003 * sr)] *= np.linspace(0.0, 1.0, int(0.003 * sr))
    peak = float(np.max(np.abs(mix)))
    audio = (mix * (0.89 / peak if peak > 0 else 1.0)).astype(np.float32)

    truth = SongTruth(name=name, genre=genre, bpm=float(bpm), duration=float(n / sr), sr=int(sr),
                      beat_times=beat_times.astype(np.float64), downbeat_times=downbeat_times.astype(np.float64),
                      sections=sections, section_labels=labels, music_id=name if digit is not None else "",
                      key=key, mode=spec.mode, seed=int(seed))
    return audio, truth
