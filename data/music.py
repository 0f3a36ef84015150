"""Music features at the motion frame rate: loading, the named feature sets, caching, batch output.

Every consumer of music in pasdeux (tokenizer-free GPT conditioning, the RL beat reward, the BAS
metric, the camera diffusion model) reads one ``(T, F)`` array per song, computed **once** at the
motion frame rate and cached on disk. Frame alignment comes from the sample rate, as in the
reference code: audio is resampled to ``sr = fps * 512`` and every librosa call uses hop 512, so one
feature row is one motion frame (30720 Hz for 60 fps, 15360 Hz for 30 fps).

Named sets (:data:`FEATURE_SETS`):

* ``bailando438`` -- Bailando's ``extract_acoustic_feature``: MFCC 20 (on the dB mel spectrogram,
  ref = max), delta MFCC 20 (width 3), chroma_cqt 12 on the HPSS harmonic part, onset strength 1 on
  the percussive part (median aggregation), beat one-hot 1 (channel 53), tempogram 384.
* ``aist55`` -- its first 55 channels (what Bailando++ reads from the 60 fps files).
* ``duolando54`` -- its first 54 channels (Duolando, 30 fps; beat channel 53 feeds BAS).
* ``edge35`` -- the FACT / EDGE "baseline" features: onset envelope 1, MFCC 20, chroma_cens 12,
  onset-peak one-hot 1, beat one-hot 1 (beat_track, tightness 100).

The values are those of the straightforward librosa pipeline (a test checks it), but shared work is
done once: one STFT of the signal serves the mel spectrogram *and* HPSS, HPSS runs once for chroma and
onset, the HPSS median filters take scipy's fast 1-D path, and sets that do not need the tempogram
skip it. A file is streamed (read and resampled block by block) and its features are computed in
overlapping chunks, so memory barely grows with the song's length (the chunk section below says why
the values are the whole-song ones).

Public API: :func:`load_audio`, :func:`features_from_waveform` (in-memory audio, for the synthetic
corpus and generation), :func:`compute_features` (a file, cached), :func:`write_feature_files` (what
``cli.py features`` runs), :class:`MusicFeatures`, :data:`FEATURE_SETS`.

librosa is imported inside functions so that importing this module (``cli.py`` does, to list the
feature sets) stays fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Iterable, Iterator, Mapping

import numpy as np

from data.errors import InputError
from data.io import file_sha256, load_npz, save_npz_atomic

# --------------------------------------------------------------------------------------------------
# Constants shared by every feature set
# --------------------------------------------------------------------------------------------------
HOP_LENGTH = 512  # samples per feature frame; sr = fps * HOP_LENGTH makes one frame per motion frame
N_FFT = 2048  # librosa's default, as in every reference script
N_MFCC = 20
CQT_FMIN_HZ = 32.703195662574829  # C1, librosa's default fmin for chroma_cqt / chroma_cens
HPSS_KERNEL = 31  # librosa.effects.hpss default kernel_size
TEMPOGRAM_WIN = 384  # librosa.feature.tempogram default win_length (rows of the tempogram)
SILENCE_PEAK = 1e-4  # peak amplitude below -80 dBFS counts as silence (a few 16-bit LSBs of dither)
CACHE_FORMAT_VERSION = 2  # bump when the cached arrays or their meaning change
MIN_DURATION_S = 0.5  # shorter clips give no meaningful beats/tempogram; refused with a clear error
CHUNK_FRAMES = 1024  # frames per chunk (17 s at 60 fps)
SPECTRAL_CONTEXT = 32  # frames either side a spectral chunk needs: STFT +-2, HPSS median +-15, iSTFT +-2,
#                        the tuning estimate's STFT +-2 (21), rounded up
CENS_SMOOTHING = 41  # chroma_cens's default win_len_smooth (frames)
AUDIO_BLOCK = 1 << 16  # samples read from a file (or a spool) at a time
SPOOL_IN_MEMORY = 16 << 20  # bytes of spooled chroma source held in memory before it goes to disk
TUNING_BINS_PER_OCTAVE = 36  # the resolution chroma_cqt's own tuning estimate uses
TUNING_RESOLUTION = 0.01  # librosa.estimate_tuning's default
TEMPO_WINDOW_S = 8.0  # librosa.feature.tempo's ac_size: the tempogram window its estimate averages

ENV_CACHE = "PASDEUX_CACHE"
DEFAULT_CACHE = Path("~/.cache/pasdeux/features")


# --------------------------------------------------------------------------------------------------
# Feature-set descriptions
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class FeatureSet:
    """A named music-feature layout.

    ``channels`` maps each block name to its slice of the feature vector, in order; the slices tile
    ``[0, dim)``. ``beat_channel`` is the one-hot beat column (what BAS and the RL reward read).
    ``pipeline`` says which computation produces it: ``"bailando"`` sets are prefixes of the 438-d
    vector, ``"edge"`` is the FACT/EDGE baseline.
    """

    name: str
    dim: int
    pipeline: str
    channels: Mapping[str, slice]
    beat_channel: int
    description: str
    reference_fps: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        # Catch a typo in the table below at import time rather than as a silent misalignment.
        start = 0
        for name, sl in self.channels.items():
            if sl.start != start or sl.stop <= sl.start or sl.step not in (None, 1):
                raise ValueError(f"feature set {self.name}: block {name} {sl} does not tile")
            start = sl.stop
        if start != self.dim:
            raise ValueError(f"feature set {self.name}: blocks cover {start} channels, not {self.dim}")
        if not self.channels["beat"].start == self.beat_channel:
            raise ValueError(f"feature set {self.name}: beat_channel disagrees with its block")


def _blocks(*sizes: tuple[str, int]) -> Mapping[str, slice]:
    out: dict[str, slice] = {}
    start = 0
    for name, size in sizes:
        out[name] = slice(start, start + size)
        start += size
    return MappingProxyType(out)


_BAILANDO_HEAD = (("mfcc", 20), ("mfcc_delta", 20), ("chroma_cqt", 12), ("onset", 1), ("beat", 1))

FEATURE_SETS: Mapping[str, FeatureSet] = MappingProxyType({
    "bailando438": FeatureSet(
        name="bailando438", dim=438, pipeline="bailando",
        channels=_blocks(*_BAILANDO_HEAD, ("tempogram", TEMPOGRAM_WIN)),
        beat_channel=53, reference_fps=(60.0, 7.5),
        description="Bailando: MFCC 20 [0:20] (dB mel, ref=max), dMFCC 20 [20:40], chroma_cqt 12 "
                    "[40:52] on HPSS harmonic, onset 1 [52] on HPSS percussive (median), beat "
                    "one-hot [53], tempogram 384 [54:438]"),
    "aist55": FeatureSet(
        name="aist55", dim=55, pipeline="bailando",
        channels=_blocks(*_BAILANDO_HEAD, ("tempogram", 1)),
        beat_channel=53, reference_fps=(60.0,),
        description="Bailando++: first 55 channels of bailando438 (the last is tempogram lag 0)"),
    "duolando54": FeatureSet(
        name="duolando54", dim=54, pipeline="bailando",
        channels=_blocks(*_BAILANDO_HEAD),
        beat_channel=53, reference_fps=(30.0,),
        description="Duolando: first 54 channels of bailando438 (MFCC, dMFCC, chroma, onset, beat)"),
    "edge35": FeatureSet(
        name="edge35", dim=35, pipeline="edge",
        channels=_blocks(("onset", 1), ("mfcc", 20), ("chroma_cens", 12), ("onset_peak", 1),
                         ("beat", 1)),
        beat_channel=34, reference_fps=(30.0, 60.0),
        description="FACT/EDGE baseline: onset envelope [0], MFCC 20 [1:21], chroma_cens 12 "
                    "[21:33], onset-peak one-hot [33], beat one-hot [34] (tightness 100)"),
})


def get_feature_set(name: str) -> FeatureSet:
    """Look a set up by name; an :class:`InputError` listing the choices when it is unknown."""
    try:
        return FEATURE_SETS[name]
    except KeyError:
        raise InputError(None, f"unknown music feature set {name!r}",
                         f"choose one of {', '.join(sorted(FEATURE_SETS))}") from None


def sample_rate_for(fps: float) -> int:
    """The load sample rate that puts one hop-512 frame on each motion frame (60 -> 30720 Hz)."""
    sr = float(fps) * HOP_LENGTH
    if not (fps > 0 and sr.is_integer()):
        raise InputError(None, f"fps {fps} gives a non-integer sample rate {sr} (fps * {HOP_LENGTH})",
                         "use a motion frame rate such as 60, 30 or 7.5")
    return int(sr)


def _n_octaves(sr: int) -> int:
    # The references use 7 CQT octaves at 30720 and 15360 Hz and 5 at 3840 Hz (7.5 fps): the most
    # whole octaves above C1 that stay below Nyquist, capped at librosa's default of 7.
    return int(min(7, math.floor(math.log2(sr / 2 / CQT_FMIN_HZ))))


# --------------------------------------------------------------------------------------------------
# Result type
# --------------------------------------------------------------------------------------------------
@dataclass
class MusicFeatures:
    """Features of one song at the motion frame rate.

    ``features`` is ``(T, F)`` float32 with ``F = FEATURE_SETS[feature_set].dim``; ``beats`` are
    librosa beat frames (int64, ascending, in ``[0, T)``), the same ones set in the beat channel.
    """

    features: np.ndarray  # (T, F) float32
    beats: np.ndarray  # (B,) int64 frame indices
    fps: float
    feature_set: str
    duration: float  # seconds of audio
    tempo: float  # BPM estimated by librosa's beat tracker
    source: str | None = None  # the audio file, or None for an in-memory waveform

    @property
    def num_frames(self) -> int:
        return int(self.features.shape[0])

    @property
    def beat_times(self) -> np.ndarray:
        """Beat times in seconds (frame / fps), float64."""
        return self.beats.astype(np.float64) / float(self.fps)

    def to_npz_dict(self) -> dict[str, np.ndarray]:
        """The arrays written to ``<stem>.npz`` (plain numeric/str arrays, no pickles)."""
        return {
            "features": self.features,
            "beats": self.beats,
            "beat_times": self.beat_times,
            "fps": np.asarray(float(self.fps)),
            "feature_set": np.asarray(self.feature_set),
            "duration": np.asarray(float(self.duration)),
            "tempo": np.asarray(float(self.tempo)),
        }


# --------------------------------------------------------------------------------------------------
# Audio loading
# --------------------------------------------------------------------------------------------------
_READ_FIX = "convert it to wav, flac, ogg or mp3 (e.g. `ffmpeg -i FILE out.wav`) or check it is audio"


@contextlib.contextmanager
def _quiet_c_stderr():
    """Silence what C libraries write to file descriptor 2 (libsndfile's mp3 decoder prints "Note:
    Illegal Audio-MPEG-Header ..." lines for a file that is not mp3), so a bad file costs the user
    one line, pasdeux's own. Python's own ``sys.stderr`` is untouched."""
    try:
        saved = os.dup(2)
    except OSError:  # no real fd 2 (some embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _libsndfile_reason(error: Exception, path: Path) -> str:
    """libsndfile's complaint without its quoting of the file name (which it sometimes gives as '')
    and without "does not exist" for a file that does: it could not decode it."""
    text = re.sub(r"Error opening '[^']*':\s*", "", str(error)).replace(str(path), "").strip(" :.")
    if "does not exist" in text or not text:
        return "cannot decode it"
    return text


class _WaveformCheck:
    """Refuses empty, non-finite, too-short or silent audio with a one-line :class:`InputError`.

    Fed block by block (``update``) so a long file is checked as it streams; ``finish`` gives the
    verdicts that need the whole signal (length, peak level).
    """

    def __init__(self, source: str | os.PathLike | None, sr: float) -> None:
        self.source, self.sr = source, float(sr)
        self.samples, self.peak = 0, 0.0

    def update(self, y: np.ndarray) -> None:
        if y.size and not np.isfinite(y).all():
            raise InputError(self.source, "audio holds NaN or infinite samples", "re-export the file")
        self.samples += int(y.shape[-1])
        if y.size:
            self.peak = max(self.peak, float(np.max(np.abs(y))))

    def finish(self) -> None:
        if self.samples == 0:
            raise InputError(self.source, "audio has zero length (no samples)",
                             "re-export the file; it holds a header but no sound")
        duration = self.samples / self.sr
        if duration < MIN_DURATION_S:
            raise InputError(self.source, f"audio is {duration:.3f} s long; at least {MIN_DURATION_S} s "
                                          "is needed for beats and features", "use a longer clip")
        if self.peak < SILENCE_PEAK:
            raise InputError(self.source, f"audio is silent (peak {self.peak:.2g}, below -80 dBFS)",
                             "check that it is the right file and that the export contains sound")


def _check_waveform(y: np.ndarray, source: str | os.PathLike | None, sr: float) -> None:
    check = _WaveformCheck(source, sr)
    check.update(y)
    check.finish()


def _decode_with_ffmpeg(path: Path, folder: Path) -> Path:
    """Decode a format libsndfile cannot read (m4a, aac, wma, ...) to a float WAV in ``folder``.

    ffmpeg keeps the source's own channels and rate, so downmixing and resampling are ours (channel
    mean, soxr) exactly as for files libsndfile reads.
    """
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as e:  # not installed, or no binary for this platform
        raise RuntimeError(f"no ffmpeg to fall back on ({e})") from None
    wav = folder / "decoded.wav"
    proc = subprocess.run(
        [exe, "-nostdin", "-hide_banner", "-v", "error", "-i", str(path), "-map", "0:a:0",
         "-vn", "-c:a", "pcm_f32le", "-f", "wav", str(wav)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0 or not wav.is_file():
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        raise RuntimeError(lines[-1] if lines else f"ffmpeg exited with {proc.returncode}")
    return wav


@contextlib.contextmanager
def _open_audio(p: Path):
    """The file opened as a ``soundfile.SoundFile``; through a temporary ffmpeg WAV when libsndfile
    cannot decode it. Missing, unreadable or undecodable files raise :class:`InputError`."""
    import soundfile as sf

    if not p.exists():
        raise InputError(p, "audio file not found", "check the path")
    if p.is_dir():
        raise InputError(p, "is a folder, not an audio file", "pass the audio files themselves")
    sf_error: Exception | None = None
    try:
        with _quiet_c_stderr():
            opened = sf.SoundFile(p)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        sf_error = e
    except OSError as e:
        raise InputError(p, f"cannot read the file ({e.strerror or e})", "check its permissions") from None
    if sf_error is None:
        with opened:
            yield opened
        return
    with tempfile.TemporaryDirectory(prefix="pasdeux-audio-") as tmp:
        try:
            wav = _decode_with_ffmpeg(p, Path(tmp))
        except RuntimeError as ff_error:
            raise InputError(p, f"not a readable audio file (libsndfile: {_libsndfile_reason(sf_error, p)}; "
                                f"ffmpeg: {ff_error})", _READ_FIX) from None
        with sf.SoundFile(wav) as opened:
            yield opened


class _AudioStream:
    """A file's audio as consecutive mono float32 blocks, resampled to ``sr`` while it streams.

    Memory stays at a block whatever the file's length. Streamed soxr resampling gives the same
    samples as resampling the whole signal at once (soxr's stream and one-shot paths agree bit for
    bit), so block boundaries leave no trace. The checks of :class:`_WaveformCheck` run on the way;
    the length and silence verdicts come when the file ends, before the last block. After the
    stream is spent, ``native_sr`` and ``duration`` describe the file.
    """

    def __init__(self, path: str | os.PathLike, sr: int | None = None) -> None:
        self.path = Path(path)
        self.sr = None if sr is None else int(sr)
        self.native_sr = 0
        self.duration = 0.0

    def __iter__(self) -> Iterator[np.ndarray]:
        import soundfile as sf
        import soxr

        p = self.path
        with _open_audio(p) as f:
            self.native_sr = native_sr = int(f.samplerate)
            check = _WaveformCheck(p, native_sr)
            resampler = None
            if self.sr is not None and self.sr != native_sr:
                resampler = soxr.ResampleStream(native_sr, self.sr, 1, dtype="float32", quality="HQ")
            while True:
                try:
                    with _quiet_c_stderr():
                        data = f.read(AUDIO_BLOCK, dtype="float32", always_2d=True)  # (n, C)
                except (sf.LibsndfileError, RuntimeError) as e:
                    raise InputError(p, f"audio data is damaged after {check.samples / native_sr:.1f} s "
                                        f"({_libsndfile_reason(e, p)})", _READ_FIX) from None
                if data.shape[0] == 0:
                    break
                y = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]  # (n,)
                check.update(y)
                yield np.ascontiguousarray(y) if resampler is None else resampler.resample_chunk(y)
            check.finish()
            self.duration = check.samples / native_sr
            if resampler is not None:
                yield resampler.resample_chunk(np.zeros(0, np.float32), last=True)


def load_audio(path: str | os.PathLike, sr: int | None = None) -> tuple[np.ndarray, int]:
    """Read an audio file as mono float32, resampled to ``sr`` when given.

    Returns ``(y, sr)`` with ``y`` of shape ``(N,)``. Channels are averaged (as librosa.to_mono);
    resampling uses soxr (librosa's default ``soxr_hq``). Files libsndfile reads (wav, flac, ogg,
    mp3, aiff, ...) go through soundfile; anything else is tried with the ffmpeg that
    imageio-ffmpeg bundles. Missing, unreadable, empty, non-finite or silent audio raises
    :class:`InputError` naming the file. :func:`compute_features` streams the file instead.
    """
    stream = _AudioStream(path, sr)
    y = np.concatenate(list(stream))
    return y, stream.sr or stream.native_sr


def _resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    import librosa

    return librosa.resample(y, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq")


# --------------------------------------------------------------------------------------------------
# Feature computation, chunk by chunk
# --------------------------------------------------------------------------------------------------
# Every step but a few whole-song statistics is local in time, so a song is computed in chunks of
# CHUNK_FRAMES frames, each given enough frames of real audio either side to outreach the support of
# every local step, then trimmed back to its own frames: SPECTRAL_CONTEXT for the STFT, HPSS and
# iSTFT pass, _chroma_context() for chroma (the lowest CQT filter is 1.6 s long), half the window for
# the tempogram. So chunked values are whole-song values (a test checks it with small chunks). What
# needs the whole song -- the dB reference of the mel spectrograms, chroma's tuning estimate, the
# tempo and the beat tracker -- reads per-frame summaries kept on the way ((128, T) mels, the pitch
# peaks, the onset envelope); chroma, which needs the tuning first, takes a second pass over its
# source signal, spooled to a temporary file. Peak memory is one chunk's STFT work plus a few
# hundred bytes per frame, not the STFT of the whole song.


def _median_filter_axis(S: np.ndarray, axis: int, size: int) -> np.ndarray:
    """``scipy.ndimage.median_filter`` along one axis of a 2-D array, mode ``reflect``.

    scipy only uses its fast running-median code for 1-D input; the 2-D call librosa makes takes the
    slow general path. Reflect-padding every row by ``size // 2`` and filtering the flattened array as one
    1-D signal gives the same values (a median selects, it does not add), since no window reaches
    past its own row's padding. Rows shorter than the kernel take the 2-D call, where scipy's
    repeated reflection differs from numpy's padding.
    """
    from scipy.ndimage import median_filter

    shape = [1, 1]
    shape[axis] = size
    if S.shape[axis] < size:
        return median_filter(S, size=shape, mode="reflect")
    rows = S if axis == 1 else S.T  # filter along the last axis of `rows`
    half = size // 2
    padded = np.pad(rows, ((0, 0), (half, half)), mode="symmetric")  # == scipy's 'reflect'
    flat = median_filter(np.ascontiguousarray(padded).ravel(), size=size, mode="reflect")
    out = flat.reshape(padded.shape)[:, half:-half]
    return np.ascontiguousarray(out if axis == 1 else out.T)


def _hpss(D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """librosa.decompose.hpss(D) with its defaults (kernel 31, power 2, margin 1), faster filters."""
    import librosa

    S, phase = librosa.magphase(D)  # (F, T) magnitude, (F, T) unit phase
    harm = _median_filter_axis(S, axis=1, size=HPSS_KERNEL)  # smooth in time: harmonic
    perc = _median_filter_axis(S, axis=0, size=HPSS_KERNEL)  # smooth in frequency: percussive
    mask_harm = librosa.util.softmask(harm, perc, power=2.0, split_zeros=True)
    mask_perc = librosa.util.softmask(perc, harm, power=2.0, split_zeros=True)
    return (S * mask_harm) * phase, (S * mask_perc) * phase


def _one_hot(indices: np.ndarray, length: int) -> np.ndarray:
    out = np.zeros(length, dtype=np.float32)
    out[indices[(indices >= 0) & (indices < length)]] = 1.0
    return out


@dataclass(frozen=True)
class _Segment:
    """One chunk's audio with its context: ``samples`` start at song frame ``first`` (sample
    ``first * HOP_LENGTH``); the chunk owns song frames ``[start, stop)``."""

    samples: np.ndarray  # (n,) float32
    first: int
    start: int
    stop: int

    @property
    def keep(self) -> slice:
        """The segment's frames that belong to this chunk."""
        return slice(self.start - self.first, self.stop - self.first)

    def own(self, signal: np.ndarray) -> np.ndarray:
        """The chunk's own samples of a signal aligned with ``samples``; consecutive chunks' pieces
        join into the whole signal."""
        return signal[(self.start - self.first) * HOP_LENGTH:(self.stop - self.first) * HOP_LENGTH]


def _chroma_context(sr: int) -> int:
    """Frames either side a chroma chunk needs: half the longest CQT filter (C1 at 36 bins per
    octave, tuned down by up to half a bin; 47 frames at 60 fps), CENS smoothing, and 16 frames of
    slack for the CQT's octave-downsampling filters."""
    q = 1.0 / (2.0 ** (1.0 / TUNING_BINS_PER_OCTAVE) - 1.0)
    lowest = CQT_FMIN_HZ * 2.0 ** (-0.5 / TUNING_BINS_PER_OCTAVE)
    half_filter = 0.5 * q * sr / lowest / HOP_LENGTH
    return int(math.ceil(half_filter)) + CENS_SMOOTHING // 2 + 16


def _segments(blocks: Iterable[np.ndarray], context: int, chunk: int | None = None) -> Iterator[_Segment]:
    """Cut a stream of samples into chunks of ``chunk`` frames with ``context`` frames either side.

    Only a chunk and its context are held, whatever the stream's length. The chunks tile the song's
    ``1 + N // HOP_LENGTH`` frames (librosa's centred framing); the first and last segments end where
    the song does, so their edge frames see the same padding as a whole-song computation.
    """
    chunk = CHUNK_FRAMES if chunk is None else chunk
    hop = HOP_LENGTH
    held = np.zeros(0, np.float32)  # song samples [held_from, held_from + held.size)
    held_from = 0
    fresh: list[np.ndarray] = []
    fresh_size = 0
    start = 0
    for block in blocks:
        fresh.append(block)
        fresh_size += block.size
        while held_from + held.size + fresh_size >= (start + chunk + context) * hop:
            if fresh:
                held = np.concatenate([held, *fresh])
                fresh, fresh_size = [], 0
            first, stop = max(0, start - context), start + chunk
            yield _Segment(held[first * hop - held_from:(stop + context) * hop - held_from],
                           first, start, stop)
            start = stop
            drop = max(0, start - context) * hop - held_from
            held, held_from = held[drop:], held_from + drop
    held = np.concatenate([held, *fresh])
    frames = 1 + (held_from + held.size) // hop
    first = max(0, start - context)
    yield _Segment(held[first * hop - held_from:], first, start, frames)  # always >= 1 frame left


class _Spool:
    """float32 samples written in order and read back as blocks: in memory while small, then a
    temporary file, so a second pass over a long signal costs disk, not memory."""

    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)

    def __enter__(self) -> "_Spool":
        return self

    def __exit__(self, *exc) -> None:
        self._file.close()

    def write(self, samples: np.ndarray) -> None:
        self._file.write(np.ascontiguousarray(samples, dtype=np.float32).tobytes())

    def blocks(self) -> Iterator[np.ndarray]:
        self._file.seek(0)
        while data := self._file.read(AUDIO_BLOCK * 4):
            yield np.frombuffer(data, dtype=np.float32)


class _TuningPeaks:
    """``librosa.estimate_tuning`` of a whole signal, gathered chunk by chunk.

    The estimate is a histogram of the pitch peaks (``piptrack``, frame-local) whose magnitude
    reaches the median of all peaks; keeping every chunk's peaks and taking the median at the end
    gives the whole-signal answer.
    """

    def __init__(self, sr: int) -> None:
        self.sr = sr
        self._pitches: list[np.ndarray] = []
        self._mags: list[np.ndarray] = []

    def add(self, segment: _Segment, *, y: np.ndarray | None = None,
            magnitude: np.ndarray | None = None) -> None:
        """Peaks of the chunk's frames, from its signal ``y`` or from its ``magnitude`` STFT (the
        same n_fft 2048 / hop 512 STFT ``estimate_tuning`` takes)."""
        import librosa

        pitch, mag = librosa.piptrack(y=y, S=magnitude, sr=self.sr, n_fft=N_FFT,
                                      hop_length=HOP_LENGTH)  # (1025, t) each
        pitch, mag = pitch[:, segment.keep], mag[:, segment.keep]
        found = pitch > 0
        self._pitches.append(pitch[found])
        self._mags.append(mag[found])

    def tuning(self) -> float:
        import librosa

        pitch, mag = np.concatenate(self._pitches), np.concatenate(self._mags)
        threshold = np.median(mag) if mag.size else 0.0
        return float(librosa.pitch_tuning(pitch[mag >= threshold], resolution=TUNING_RESOLUTION,
                                          bins_per_octave=TUNING_BINS_PER_OCTAVE))


def _mel_power(power: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    return librosa.feature.melspectrogram(S=power, sr=sr, n_fft=N_FFT, hop_length=HOP_LENGTH)


def _chroma(spool: _Spool, sr: int, tuning: float, kind: str) -> np.ndarray:
    """Chroma (12, T) of the spooled signal, chunk by chunk with the whole song's tuning."""
    import librosa

    compute = librosa.feature.chroma_cqt if kind == "cqt" else librosa.feature.chroma_cens
    parts = [compute(y=seg.samples, sr=sr, hop_length=HOP_LENGTH, n_octaves=_n_octaves(sr),
                     tuning=tuning)[:, seg.keep] for seg in _segments(spool.blocks(), _chroma_context(sr))]
    return np.concatenate(parts, axis=1)


def _tempogram_columns(onset: np.ndarray, sr: int, win: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """``librosa.feature.tempogram(onset_envelope=onset, win_length=win)`` as column chunks
    ``(start, stop, (win, stop - start))``. A frame's window is +-win/2 frames of the envelope, so
    chunks with that much context give its values without the (win, T) float64 autocorrelation
    work of the whole song (librosa's whole-song call takes 0.8 GB on a 10-minute song)."""
    import librosa

    half = win // 2
    T = onset.shape[0]
    for start in range(0, T, CHUNK_FRAMES):
        stop = min(T, start + CHUNK_FRAMES)
        first, last = max(0, start - half), min(T, stop + half)
        tempogram = librosa.feature.tempogram(onset_envelope=onset[first:last], sr=sr,
                                              hop_length=HOP_LENGTH, win_length=win)
        yield start, stop, tempogram[:, start - first:stop - first]


def _tempogram(onset: np.ndarray, sr: int, rows: int) -> np.ndarray:
    """The first ``rows`` rows of the default tempogram (TEMPOGRAM_WIN lags), (rows, T) float32."""
    out = np.empty((rows, onset.shape[0]), dtype=np.float32)
    for start, stop, columns in _tempogram_columns(onset, sr, TEMPOGRAM_WIN):
        out[:, start:stop] = columns[:rows]
    return out


def _mean_tempogram(onset: np.ndarray, sr: int) -> np.ndarray:
    """The time-averaged tempogram ``librosa.feature.tempo`` weighs against its prior, (win, 1)."""
    import librosa

    win = int(librosa.time_to_frames(TEMPO_WINDOW_S, sr=sr, hop_length=HOP_LENGTH))
    total = np.zeros(win, dtype=np.float64)
    for _, _, columns in _tempogram_columns(onset, sr, win):
        total += columns.sum(axis=1)
    return (total / onset.shape[0])[:, None]


def _tempo(mean_tempogram: np.ndarray, sr: int, start_bpm: float = 120.0) -> float:
    """``librosa.feature.tempo(onset_envelope=...)`` from the averaged tempogram."""
    import librosa

    return float(librosa.feature.tempo(tg=mean_tempogram, sr=sr, hop_length=HOP_LENGTH,
                                       start_bpm=start_bpm)[0])


def _beat_track(onset: np.ndarray, sr: int, start_bpm: float = 120.0, **kwargs
                ) -> tuple[float, np.ndarray]:
    """``librosa.beat.beat_track(onset_envelope=onset)`` with the tempo estimated in chunks: the
    tracker's own estimate builds the whole song's tempogram first."""
    import librosa

    bpm = _tempo(_mean_tempogram(onset, sr), sr, start_bpm)
    tempo, beats = librosa.beat.beat_track(onset_envelope=onset, sr=sr, hop_length=HOP_LENGTH,
                                           start_bpm=start_bpm, bpm=bpm, **kwargs)
    return float(np.atleast_1d(tempo)[0]), beats


def _bailando_pipeline(blocks: Iterable[np.ndarray], sr: int, dim: int
                       ) -> tuple[list[np.ndarray], np.ndarray, float]:
    """Bailando/Duolando blocks (each (C, T)), beat frames and tempo, up to ``dim`` channels."""
    import librosa

    mel, percussive_mel = [], []
    peaks = _TuningPeaks(sr)
    with _Spool() as harmonic_spool:
        for seg in _segments(blocks, SPECTRAL_CONTEXT):
            D = librosa.stft(seg.samples, n_fft=N_FFT, hop_length=HOP_LENGTH)  # (1025, t) complex64
            mel.append(_mel_power(np.abs(D[:, seg.keep]) ** 2, sr))  # (128, t') power
            # One HPSS on the same STFT serves chroma (harmonic) and onset (percussive).
            H, P = _hpss(D)
            n = seg.samples.size
            harmonic = librosa.istft(H, dtype=np.float32, n_fft=N_FFT, hop_length=HOP_LENGTH, length=n)
            percussive = librosa.istft(P, dtype=np.float32, n_fft=N_FFT, hop_length=HOP_LENGTH, length=n)
            percussive_mel.append(librosa.feature.melspectrogram(
                y=percussive, sr=sr, n_fft=N_FFT, hop_length=HOP_LENGTH)[:, seg.keep])
            peaks.add(seg, y=harmonic)
            harmonic_spool.write(seg.own(harmonic))
        chroma = _chroma(harmonic_spool, sr, peaks.tuning(), "cqt")  # (12, T)

    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(np.concatenate(mel, axis=1), ref=np.max),
                                n_mfcc=N_MFCC)  # (20, T)
    mfcc_delta = librosa.feature.delta(mfcc, width=3)  # (20, T)
    # onset_strength(y=percussive, aggregate=median) is exactly this, on the percussive dB mel.
    onset = librosa.onset.onset_strength(S=librosa.power_to_db(np.concatenate(percussive_mel, axis=1)),
                                         sr=sr, n_fft=N_FFT, hop_length=HOP_LENGTH,
                                         aggregate=np.median)  # (T,)
    tempo, beats = _beat_track(onset, sr)
    features = [mfcc, mfcc_delta, chroma, onset[None], _one_hot(beats, onset.shape[0])[None]]
    if dim > 54:
        features.append(_tempogram(onset, sr, dim - 54))  # (dim - 54, T)
    return features, beats, tempo


def _edge_pipeline(blocks: Iterable[np.ndarray], sr: int, start_bpm: float | None
                   ) -> tuple[list[np.ndarray], np.ndarray, float]:
    """FACT/EDGE baseline blocks (each (C, T)), beat frames and tempo."""
    import librosa

    mel = []
    peaks = _TuningPeaks(sr)
    with _Spool() as signal_spool:
        for seg in _segments(blocks, SPECTRAL_CONTEXT):
            S = np.abs(librosa.stft(seg.samples, n_fft=N_FFT, hop_length=HOP_LENGTH))  # (1025, t)
            mel.append(_mel_power(S[:, seg.keep] ** 2, sr))  # (128, t')
            peaks.add(seg, magnitude=S)
            signal_spool.write(seg.own(seg.samples))
        chroma = _chroma(signal_spool, sr, peaks.tuning(), "cens")  # (12, T)

    # onset_strength(y=) and mfcc(y=) both compute exactly this dB mel (ref=1.0) internally:
    # compute it once and hand it to both.
    mel_db = librosa.power_to_db(np.concatenate(mel, axis=1))  # (128, T)
    envelope = librosa.onset.onset_strength(S=mel_db, sr=sr, n_fft=N_FFT,
                                            hop_length=HOP_LENGTH)  # (T,)
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=N_MFCC)  # (20, T)
    peaks_onset = librosa.onset.onset_detect(onset_envelope=envelope, sr=sr, hop_length=HOP_LENGTH)
    mean_tempogram = _mean_tempogram(envelope, sr)
    if start_bpm is None:
        # EDGE falls back to librosa's tempo estimate of the whole song when the BPM cannot be read
        # from an AIST++ music name; the same estimator on the envelope we already have.
        start_bpm = _tempo(mean_tempogram, sr)
    bpm = _tempo(mean_tempogram, sr, start_bpm)
    tempo, beats = librosa.beat.beat_track(onset_envelope=envelope, sr=sr, hop_length=HOP_LENGTH,
                                           start_bpm=start_bpm, bpm=bpm, tightness=100)
    T = envelope.shape[0]
    features = [envelope[None], mfcc, chroma, _one_hot(peaks_onset, T)[None], _one_hot(beats, T)[None]]
    return features, beats, float(np.atleast_1d(tempo)[0])


_AIST_TEMPO = re.compile(r"^m(BR|PO|LO|MH|LH|WA|KR|JS|JB|HO)([0-9])$")


def aist_tempo_from_name(stem: str) -> float | None:
    """BPM encoded in an AIST++ music id (``mBR3`` -> 110), as FACT/EDGE parse it; else None."""
    m = _AIST_TEMPO.match(stem)
    if not m:
        return None
    genre, digit = m.group(1), int(m.group(2))
    return float(digit * 5 + 110 if genre == "HO" else digit * 10 + 80)


def _features_from_blocks(blocks: Iterable[np.ndarray], fps: float, spec: FeatureSet, *,
                          start_bpm: float | None, source: str | os.PathLike | None,
                          duration: Callable[[], float]) -> MusicFeatures:
    """The named set from a stream of mono blocks at ``fps * 512`` Hz (what every path ends in).

    ``duration`` is asked for the audio's length in seconds once the stream is spent.
    """
    sr = sample_rate_for(fps)
    with warnings.catch_warnings():
        # librosa warns about n_fft vs. signal length on short clips; the features are still defined
        # (centred, zero-padded frames) and the CLI promises one line on stderr.
        warnings.filterwarnings("ignore", message=r"n_fft=\d+ is too large", category=UserWarning,
                                module=r"librosa(\.|$)")
        # Songs without pitched content (drums only) leave chroma's tuning estimate nothing to
        # measure; librosa then uses A440, which is the right fallback, so the warning is noise.
        warnings.filterwarnings("ignore", message="Trying to estimate tuning from empty frequency set",
                                category=UserWarning)
        if spec.pipeline == "bailando":
            blocks_out, beats, tempo = _bailando_pipeline(blocks, sr, spec.dim)
        else:
            blocks_out, beats, tempo = _edge_pipeline(blocks, sr, start_bpm)

    # Every block is framed with hop 512 and centred frames, so the lengths agree; trim defensively
    # to the shortest in case a librosa version frames one of them one frame differently.
    T = min(b.shape[-1] for b in blocks_out)
    features = np.empty((T, spec.dim), dtype=np.float32)  # (T, F), filled block by block
    column = 0
    for block in blocks_out:
        features[:, column:column + block.shape[0]] = block[:, :T].T
        column += block.shape[0]
    if column != spec.dim:  # a wiring error, not a user error
        raise AssertionError(f"{spec.name}: computed {column} channels, not {spec.dim}")
    beats = np.asarray(beats, dtype=np.int64)
    beats = beats[(beats >= 0) & (beats < T)]
    return MusicFeatures(features=features, beats=beats, fps=float(fps), feature_set=spec.name,
                         duration=duration(), tempo=tempo,
                         source=None if source is None else str(source))


def features_from_waveform(y: np.ndarray, sr: int, fps: float = 60,
                           feature_set: str = "bailando438", *, start_bpm: float | None = None,
                           source: str | os.PathLike | None = None) -> MusicFeatures:
    """Compute a named feature set from an in-memory waveform.

    ``y`` is ``(N,)`` or librosa-style ``(channels, N)``; it is averaged to mono and resampled to
    ``fps * 512`` Hz when ``sr`` differs. ``start_bpm`` is the beat tracker's tempo prior for
    ``edge35`` (None: estimated from the audio). ``source`` only names the audio in errors and in
    the result. Returns features ``(T, F)`` with ``T = 1 + N' // 512`` for the resampled length N'.
    The values equal :func:`compute_features` on a lossless file of the same samples.
    """
    spec = get_feature_set(feature_set)
    target_sr = sample_rate_for(fps)
    if not (np.isfinite(sr) and sr > 0 and float(sr).is_integer()):
        raise InputError(source, f"sample rate {sr} is not a positive integer", "pass the rate in Hz")
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=0, dtype=np.float32)  # (N,)
    if y.ndim != 1:
        raise InputError(source, f"waveform has shape {y.shape}, expected (N,) or (channels, N)",
                         "pass mono or channels-first audio")
    _check_waveform(y, source, sr)
    duration = y.shape[0] / float(sr)
    if int(sr) != target_sr:
        y = _resample(y, int(sr), target_sr)
    return _features_from_blocks([np.ascontiguousarray(y, dtype=np.float32)], fps, spec,
                                 start_bpm=start_bpm, source=source, duration=lambda: duration)


# --------------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------------
def feature_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir``, else ``$PASDEUX_CACHE``, else ``~/.cache/pasdeux/features``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(ENV_CACHE)
    return Path(env).expanduser() if env else DEFAULT_CACHE.expanduser()




def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def _cache_settings(fps: float, spec: FeatureSet, start_bpm: float | None) -> dict:
    # Versions come from package metadata: a cache hit should not pay for importing librosa.
    # soxr is in the key because resampling changes every value.
    return {"version": CACHE_FORMAT_VERSION, "librosa": _package_version("librosa"),
            "soxr": _package_version("soxr"), "set": spec.name,
            "fps": float(fps), "sr": sample_rate_for(fps), "hop": HOP_LENGTH, "n_fft": N_FFT,
            "start_bpm": start_bpm}


def _cache_key(content_sha: str, settings: dict) -> str:
    blob = content_sha + json.dumps(settings, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _read_cache(path: Path, key: str, spec: FeatureSet, fps: float) -> MusicFeatures | None:
    """The cached result, or None when the file is missing, corrupt or not what the key promises."""
    if not path.is_file():
        return None
    try:
        z = load_npz(path)
        features, beats = z["features"], z["beats"]
        ok = (str(z["key"]) == key and features.ndim == 2 and features.shape[1] == spec.dim
              and features.dtype == np.float32 and beats.ndim == 1 and beats.dtype == np.int64
              and np.isfinite(features).all()
              and (beats.size == 0 or (beats.min() >= 0 and beats.max() < features.shape[0])))
        if not ok:
            return None
        return MusicFeatures(features=features, beats=beats, fps=float(fps), feature_set=spec.name,
                             duration=float(z["duration"]), tempo=float(z["tempo"]))
    except Exception:  # noqa: BLE001 - any unreadable entry (BadZipFile, truncation, ...) is a miss
        return None  # corrupt or foreign: recompute and overwrite


try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

_NUMBA_WARM: set[str] = set()
"""Feature sets this process has computed once (its numba kernels are compiled or loaded)."""


@contextlib.contextmanager
def numba_first_use(what: str) -> Iterator[None]:
    """Serialise, across processes, each process's first computation of ``what``.

    librosa's numba kernels are compiled on first use and cached beside librosa's files
    (``cache=True``); two processes writing or reading that cache at the same moment can crash one of
    them (SIGSEGV: seen on a fresh install when two trainings compute their songs' features at once).
    The first computation of each feature set in a process holds an exclusive lock on a file named
    after this environment (``sys.prefix``), so the cache is written once and read whole; later ones
    take no lock. Where ``fcntl`` is missing (Windows) nothing is locked.
    """
    if what in _NUMBA_WARM or fcntl is None:
        yield
        return
    env = hashlib.sha1(os.path.realpath(sys.prefix).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"pasdeux-numba-{env}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
            _NUMBA_WARM.add(what)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def compute_features(path: str | os.PathLike, fps: float = 60, feature_set: str = "bailando438",
                     cache_dir: str | os.PathLike | None = None, *,
                     use_cache: bool = True) -> MusicFeatures:
    """Features of an audio file at ``fps``, cached by the file's content and the settings.

    The cache file is ``<cache>/<set>-<fps>fps-<key>.npz`` where the key hashes the audio bytes
    (sha256), fps, set, sample rate, hop, n_fft, the cache format version and librosa's version; a
    corrupt or mismatching cache file is ignored and rewritten. Writes are atomic, and a cache
    folder that cannot be written only costs a warning.
    """
    spec = get_feature_set(feature_set)
    sr = sample_rate_for(fps)
    p = Path(path)
    if not p.exists():
        raise InputError(p, "audio file not found", "check the path")
    if p.is_dir():
        raise InputError(p, "is a folder, not an audio file", "pass the audio files themselves")
    start_bpm = aist_tempo_from_name(p.stem) if spec.pipeline == "edge" else None

    cache_path = None
    key = ""
    if use_cache:
        key = _cache_key(file_sha256(p), _cache_settings(fps, spec, start_bpm))
        cache_path = feature_cache_dir(cache_dir) / f"{spec.name}-{float(fps):g}fps-{key[:40]}.npz"
        hit = _read_cache(cache_path, key, spec, fps)
        if hit is not None:
            hit.source = str(p)
            return hit

    with numba_first_use(spec.name):
        stream = _AudioStream(p, sr)
        result = _features_from_blocks(stream, fps, spec, start_bpm=start_bpm, source=p,
                                       duration=lambda: stream.duration)
    if cache_path is not None:
        try:
            save_npz_atomic(cache_path, key=np.asarray(key), **result.to_npz_dict())
        except OSError as e:
            warnings.warn(f"music feature cache not written ({cache_path}: {e})", RuntimeWarning,
                          stacklevel=2)
    return result


# --------------------------------------------------------------------------------------------------
# Batch output (cli.py features)
# --------------------------------------------------------------------------------------------------
def write_feature_files(songs: Iterable[str | os.PathLike], out_dir: str | os.PathLike,
                        fps: float = 60, feature_set: str = "bailando438",
                        cache_dir: str | os.PathLike | None = None) -> list[Path]:
    """Compute every song's features, then write ``out_dir/<stem>.npz`` for each.

    All songs are computed before anything is written, so one bad file aborts the run with nothing
    half-written. Two songs with the same stem are refused (their outputs would collide). Each npz
    holds ``features`` (T, F) float32, ``beats`` (frame indices), ``beat_times`` (s), ``fps``,
    ``feature_set``, ``duration`` and ``tempo``. A progress bar is shown on a terminal when there
    is more than one song.
    """
    from tqdm import tqdm

    paths = [Path(s) for s in songs]
    get_feature_set(feature_set)
    sample_rate_for(fps)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(out, "output path exists and is not a folder", "pass a folder for --out")
    seen: dict[str, Path] = {}
    for p in paths:
        if p.stem in seen:
            raise InputError(p, f"has the same name stem as {seen[p.stem]}, so both would be written "
                                f"to {out / (p.stem + '.npz')}", "rename one or run them separately")
        seen[p.stem] = p

    results: list[MusicFeatures] = []
    # disable=None: tqdm switches itself off when stderr is not a terminal, so logs and the
    # one-line error contract are not cluttered with carriage-return bars.
    bar = tqdm(paths, desc=f"music features ({feature_set}, {fps:g} fps)", unit="song",
               disable=True if len(paths) < 2 else None)
    try:
        for p in bar:
            results.append(compute_features(p, fps=fps, feature_set=feature_set, cache_dir=cache_dir))
    except BaseException:
        bar.leave = False  # erase the bar so the error line stands alone on a terminal
        raise
    finally:
        bar.close()

    written = []
    for p, result in zip(paths, results):
        written.append(save_npz_atomic(out / f"{p.stem}.npz", **result.to_npz_dict()))
    return written
