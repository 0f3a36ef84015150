"""Write the synthetic corpus: AIST++ (here), then DD100 and DCM (their writers), from one seed.

:func:`synth_corpus` (what ``cli.py synth`` runs) renders ``songs_per_genre`` songs for each genre of a
:class:`SynthPreset`, dances to each, and writes ``<out>/aistpp/`` in AIST++'s own layout, so
:class:`data.datasets.aistpp.AISTPPReader` reads it like the real annotations::

    aistpp/motions/<seq>.pkl                 smpl_poses (N, 72), smpl_trans (N, 3), smpl_scaling [1], smpl_loss
    aistpp/all_musics/<music_id>.wav         16-bit PCM, 30720 Hz
    aistpp/splits/crossmodal_{train,val,test}.txt   split by song: all dances of a song share its split
    aistpp/ignore_list.txt                   one deliberately corrupted sequence (as AIST++ lists its bad ones)
    aistpp/groundtruth/music/<music_id>.json        SongTruth: bpm, beat / downbeat / section times, genre
    aistpp/groundtruth/motions/<seq>.json           move label per beat, moves, key frames, style, choreography
    aistpp/groundtruth/manifest.json                preset, seed, counts, songs per split

Names follow AIST++: ``g{GEN}_s{BM|FM}_cAll_d{DD}_m{GEN}{d}_ch{CC}``. The music id's digit encodes the
tempo exactly as in AIST++ (``80 + 10 d`` BPM, House ``110 + 5 d``); each genre takes its digits from
:attr:`data.synth.music.GenreSpec.digits`, so genres have distinct tempo ranges. Each genre has three dancers
(``d01``..``d30``, a fixed :class:`DancerStyle` each); every dancer dances a song twice: sBM (a basic,
repeated phrase, a clip of ``basic_duration`` s) and sFM (advanced, the whole song).

Then ``data.synth.write_dd100.write_dd100_corpus(root, songs, rng, preset)`` and
``data.synth.write_dcm.write_dcm_corpus(root, songs, rng, preset)`` write ``<out>/dd100`` and
``<out>/dcm`` when those modules are present; ``songs`` is every ``(audio, SongTruth)`` with
``truth.split`` and ``truth.music_id`` set.

Determinism: every song and dance draws from its own generator seeded by ``(seed, genre, song,
dancer, situation)``, files are written in a fixed order and through :func:`data.io.atomic_output`, so
the same seed writes byte-identical files.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from data.datasets.aistpp import save_aistpp_pkl
from data.errors import InputError
from data.io import atomic_output
from data.synth.music import GENRES, SongTruth, bpm_of, synth_song
from data.synth.solo import DancerStyle, DanceTruth, generate_dance

CORPUS_VERSION = 1
GENERATOR = "pasdeux synth"
AISTPP_FPS = 60.0
DANCERS_PER_GENRE = 3
SPLIT_ORDER = ("train", "val", "test")  # song k of a genre: k = 0 train, 1 val, 2 test, then train


@dataclass(frozen=True)
class SynthPreset:
    """How big a corpus is."""

    name: str
    genres: tuple[str, ...] = tuple(GENRES)
    songs_per_genre: int = 3
    """Songs per genre (<= 6: one per AIST music-id digit the genre uses)."""
    song_duration: float = 20.0
    """Seconds per song (sFM dances cover the whole song)."""
    dancers_per_song: int = 1
    """Dancers per song (<= 3); each dances it basic (sBM) and advanced (sFM)."""
    basic_duration: float = 12.0
    """Seconds of the sBM clips (AIST++'s basic dances are short)."""
    sr: int = 30720
    ignored_sequences: int = 1
    """Deliberately corrupted sequences, written and listed in ignore_list.txt."""
    # DD100 (duet) and DCM (camera) sizes, read by their writers
    dd100_pairs: int = 10
    """Duet sequences (leader + follower)."""
    dd100_duration: float = 20.0
    dcm_dances: int = 10
    """Dances with a camera track."""
    dcm_duration: float = 20.0
    workers: int = 1
    """Processes for the songs (the output does not depend on it)."""

    def validate(self) -> None:
        unknown = [g for g in self.genres if g not in GENRES]
        if unknown:
            raise ValueError(f"preset {self.name}: unknown genres {unknown}; known {list(GENRES)}")
        if not self.genres:
            raise ValueError(f"preset {self.name}: no genres")
        most = min(len(GENRES[g].digits) for g in self.genres)
        if not 1 <= self.songs_per_genre <= most:
            raise ValueError(f"preset {self.name}: songs_per_genre must be 1..{most} (one song per AIST music id)")
        if not 1 <= self.dancers_per_song <= DANCERS_PER_GENRE:
            raise ValueError(f"preset {self.name}: dancers_per_song must be 1..{DANCERS_PER_GENRE}")
        if self.song_duration < 4.0 or self.basic_duration < 2.0:
            raise ValueError(f"preset {self.name}: songs need >= 4 s, basic clips >= 2 s")


PRESETS: dict[str, SynthPreset] = {
    # 40 songs of 20 s, 81 solo dances, 30 duets (fewer duets and the quick duet tokenizer overfits
    # its training duets; the README has the figures), 30 filmed dances (20 to train the camera on,
    # 3 + 7 held out: trained on 8, the quick camera model's validation loss stayed 2-3x its training
    # loss; on 20 they end level).
    "quick": SynthPreset(name="quick", songs_per_genre=4, song_duration=20.0, dancers_per_song=1,
                         basic_duration=12.0, dd100_pairs=30, dd100_duration=20.0, dcm_dances=30,
                         dcm_duration=20.0),
    # AIST++-like: 60 songs of a minute, 3 dancers x (sBM + sFM) each: 360 dances, ~4 h of motion
    "full": SynthPreset(name="full", songs_per_genre=6, song_duration=60.0, dancers_per_song=3,
                        basic_duration=15.0, dd100_pairs=60, dd100_duration=60.0, dcm_dances=60,
                        dcm_duration=60.0, workers=2),
    # for tests: 3 genres, one song per split, short
    "test": SynthPreset(name="test", genres=("BR", "HO", "JB"), songs_per_genre=3, song_duration=8.0,
                        dancers_per_song=1, basic_duration=4.0, dd100_pairs=2, dd100_duration=8.0, dcm_dances=2,
                        dcm_duration=8.0),
}


def get_preset(preset: str | SynthPreset) -> SynthPreset:
    if isinstance(preset, SynthPreset):
        preset.validate()
        return preset
    if preset not in PRESETS:
        raise ValueError(f"unknown synth preset {preset!r}; presets: {', '.join(PRESETS)}")
    PRESETS[preset].validate()
    return PRESETS[preset]


# --------------------------------------------------------------------------------------------------
# The plan (pure: what to generate, with which seeds)
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SongPlan:
    """One song of the corpus: its AIST music id, tempo, split and seed."""

    genre: str
    index: int  # song number within the genre
    digit: int
    music_id: str
    bpm: float
    split: str
    seed: int


@dataclass(frozen=True)
class SequencePlan:
    """One AIST++ sequence: who dances which song, how (sBM / sFM), for how long, from which seed."""

    name: str
    song: SongPlan
    dancer: int  # AIST dancer number, 1..30
    situation: str  # BM | FM
    choreo: int
    duration: float
    seed: tuple[int, ...]
    ignored: bool = False


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def split_of(index: int) -> str:
    return SPLIT_ORDER[index] if index < len(SPLIT_ORDER) else "train"


def dancer_style(seed: int, dancer: int) -> DancerStyle:
    """The fixed style of AIST dancer ``dancer`` in a corpus of ``seed``."""
    return DancerStyle.sample(np.random.default_rng([seed, 7, dancer]))


def plan_corpus(preset: SynthPreset, seed: int) -> tuple[list[SongPlan], list[SequencePlan]]:
    """Every song and AIST++ sequence of the corpus, in writing order."""
    songs: list[SongPlan] = []
    seqs: list[SequencePlan] = []
    choreo_count: dict[tuple[int, str], int] = {}
    for gi, genre in enumerate(preset.genres):
        spec = GENRES[genre]
        gnum = list(GENRES).index(genre)  # dancer numbers follow AIST++'s fixed genre order
        for k in range(preset.songs_per_genre):
            digit = spec.digits[k]
            song = SongPlan(genre=genre, index=k, digit=digit, music_id=f"m{genre}{digit}",
                            bpm=bpm_of(genre, digit), split=split_of(k), seed=_seed(seed, 1, gnum, k))
            songs.append(song)
            for n in range(preset.dancers_per_song):
                dancer = gnum * DANCERS_PER_GENRE + (k + n) % DANCERS_PER_GENRE + 1
                for sit in ("BM", "FM"):
                    ch = choreo_count[(dancer, sit)] = choreo_count.get((dancer, sit), 0) + 1
                    dur = min(preset.basic_duration, preset.song_duration) if sit == "BM" else preset.song_duration
                    seqs.append(SequencePlan(
                        name=f"g{genre}_s{sit}_cAll_d{dancer:02d}_{song.music_id}_ch{ch:02d}", song=song,
                        dancer=dancer, situation=sit, choreo=ch, duration=dur,
                        seed=(seed, 2, gnum, k, dancer, 0 if sit == "BM" else 1)))
    # deliberately bad sequences: extra sFM takes on training songs, corrupted after generation
    train_songs = [s for s in songs if s.split == "train"]
    for i in range(min(preset.ignored_sequences, len(train_songs))):
        song = train_songs[i]
        gnum = list(GENRES).index(song.genre)
        dancer = gnum * DANCERS_PER_GENRE + (song.index + preset.dancers_per_song) % DANCERS_PER_GENRE + 1
        ch = choreo_count[(dancer, "FM")] = choreo_count.get((dancer, "FM"), 0) + 1
        seqs.append(SequencePlan(name=f"g{song.genre}_sFM_cAll_d{dancer:02d}_{song.music_id}_ch{ch:02d}",
                                 song=song, dancer=dancer, situation="FM", choreo=ch,
                                 duration=preset.song_duration, seed=(seed, 3, gnum, song.index, dancer, i),
                                 ignored=True))
    return songs, seqs


def build_song(plan: SongPlan, preset: SynthPreset) -> tuple[np.ndarray, SongTruth]:
    """The song of ``plan``: (audio (N,) float32, truth with music_id and split set)."""
    audio, truth = synth_song(plan.genre, plan.seed, preset.song_duration, sr=preset.sr, bpm=plan.bpm,
                              name=plan.music_id)
    truth.music_id = plan.music_id
    truth.split = plan.split
    return audio, truth


def corrupt(dance: DanceTruth, rng: np.random.Generator) -> DanceTruth:
    """A "bad reconstruction": jittery limbs and a root that jumps, as in AIST++'s ignore list."""
    rot = dance.rotations.copy()
    rot[:, 1:] += rng.normal(0.0, 0.12, rot[:, 1:].shape)
    root = dance.root.copy()
    jumps = rng.random(root.shape[0]) < 0.02
    root[jumps] += rng.normal(0.0, 0.25, (int(jumps.sum()), 3))
    return replace(dance, rotations=rot.astype(np.float32).astype(np.float64),
                   root=root.astype(np.float32).astype(np.float64), _joints=None)


def build_sequence(plan: SequencePlan, song: SongTruth, seed: int) -> DanceTruth:
    """The solo dance of ``plan`` on ``song`` (smpl24, 60 fps)."""
    rng = np.random.default_rng(list(plan.seed))
    dance = generate_dance(song, rng, dancer_style(seed, plan.dancer), skeleton="smpl24", fps=AISTPP_FPS,
                           choreography="basic" if plan.situation == "BM" else "advanced",
                           duration=plan.duration)
    return corrupt(dance, rng) if plan.ignored else dance


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------
def _write_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_wav(path: Path, audio: np.ndarray, sr: int) -> Path:
    """16-bit PCM wav, atomically."""
    import soundfile as sf

    with atomic_output(path) as tmp:
        sf.write(str(tmp), np.asarray(audio, dtype=np.float32), int(sr), subtype="PCM_16", format="WAV")
    return path


def _song_job(args: tuple[SongPlan, list[SequencePlan], SynthPreset, int, str]) -> dict[str, Any]:
    """Generate and write one song and its dances; returns what the manifest needs (and the audio)."""
    plan, seq_plans, preset, seed, root = args
    root_p = Path(root)
    audio, truth = build_song(plan, preset)
    write_wav(root_p / "all_musics" / f"{plan.music_id}.wav", audio, preset.sr)
    _write_text(root_p / "groundtruth" / "music" / f"{plan.music_id}.json", truth.to_json())
    frames = 0
    for sp in seq_plans:
        dance = build_sequence(sp, truth, seed)
        save_aistpp_pkl(dance.to_motion(name=sp.name, music=plan.music_id), root_p / "motions" / f"{sp.name}.pkl")
        gt = dance.to_dict()
        gt.update(name=sp.name, music_id=plan.music_id, split=plan.split, dancer=sp.dancer,
                  situation=sp.situation, ignored=sp.ignored,
                  ignored_reason="deliberately corrupted (jittered joints, root jumps)" if sp.ignored else "")
        _write_text(root_p / "groundtruth" / "motions" / f"{sp.name}.json", json.dumps(gt, indent=1))
        frames += dance.num_frames
    return {"music_id": plan.music_id, "audio": audio, "truth": truth, "frames": frames}


def _dir_size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def _optional_writer(module: str, func: str) -> Callable | None:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:
            return None
        raise
    return getattr(mod, func)


def _is_synthetic(root: Path) -> bool:
    try:
        manifest = json.loads((root / "groundtruth" / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("generator") == GENERATOR


def synth_corpus(out: Path, preset: str | SynthPreset = "quick", seed: int = 0, progress: bool = False,
                 log: Callable[[str], None] = print) -> dict[str, Any]:
    """Write the synthetic corpus under ``out`` (``aistpp/``, ``dd100/``, ``dcm/``).

    ``aistpp/`` is built in a temporary folder beside it and renamed when complete; a previous
    synthetic ``aistpp/`` is replaced, anything else there (real AIST++ data, say) is refused.

    Returns sizes: per corpus the number of files, bytes, songs / sequences and hours of motion, and
    the wall time (``seconds``).
    """
    t_start = time.perf_counter()
    preset = get_preset(preset)
    out = Path(out)
    final_root = out / "aistpp"
    if final_root.exists() and not _is_synthetic(final_root):
        raise InputError(final_root, "exists and is not a pasdeux synthetic corpus",
                         "choose another --out folder or move it away")
    root = out / ".aistpp.partial"  # ours: a crashed earlier run may have left it
    if root.exists():
        shutil.rmtree(root)
    songs_plan, seq_plan = plan_corpus(preset, seed)
    jobs = [(sp, [q for q in seq_plan if q.song is sp], preset, seed, str(root)) for sp in songs_plan]

    results: list[dict[str, Any]] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc="aistpp songs", unit="song", leave=False)
    if preset.workers > 1 and len(jobs) > 1:
        import multiprocessing as mp

        # spawn, not fork: torch (FK) must not inherit a parent's thread pool
        with mp.get_context("spawn").Pool(preset.workers) as pool:
            for r in pool.imap(_song_job, jobs):  # imap keeps the plan's order
                results.append(r)
                if bar is not None:
                    bar.update()
    else:
        for job in jobs:
            results.append(_song_job(job))
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()

    splits = {s: [q.name for q in seq_plan if q.song.split == s] for s in SPLIT_ORDER}
    for s in SPLIT_ORDER:
        _write_text(root / "splits" / f"crossmodal_{s}.txt", "".join(f"{n}\n" for n in splits[s]))
    ignored = [q.name for q in seq_plan if q.ignored]
    _write_text(root / "ignore_list.txt", "".join(f"{n}\n" for n in ignored))
    motion_hours = sum(r["frames"] for r in results) / AISTPP_FPS / 3600.0
    manifest = {
        # the preset without `workers`: the bytes written do not depend on the process count
        "corpus_version": CORPUS_VERSION, "generator": GENERATOR,
        "preset": {k: v for k, v in asdict(preset).items() if k != "workers"}, "seed": seed,
        "fps": AISTPP_FPS, "sr": preset.sr,
        "songs": {s: [p.music_id for p in songs_plan if p.split == s] for s in SPLIT_ORDER},
        "sequences": {s: len(v) for s, v in splits.items()}, "ignored": ignored,
        "genres": {g: {"name": GENRES[g].name, "bpm_range": list(GENRES[g].bpm_range)} for g in preset.genres},
    }
    _write_text(root / "groundtruth" / "manifest.json", json.dumps(manifest, indent=1))
    if final_root.exists():
        shutil.rmtree(final_root)
    os.replace(root, final_root)
    root = final_root
    files, size = _dir_size(root)
    report: dict[str, Any] = {"aistpp": {"path": str(root), "songs": len(songs_plan), "sequences": len(seq_plan),
                                         "files": files, "bytes": size, "motion_hours": motion_hours,
                                         "seconds": time.perf_counter() - t_start}}

    songs = [(r["audio"], r["truth"]) for r in results]
    for key, module, func, sub in (("dd100", "data.synth.write_dd100", "write_dd100_corpus", 1),
                                   ("dcm", "data.synth.write_dcm", "write_dcm_corpus", 2)):
        writer = _optional_writer(module, func)
        if writer is None:
            log(f"note: {module} is not available yet; skipping the {key} corpus")
            continue
        t0 = time.perf_counter()
        info = writer(out / key, songs, np.random.default_rng([seed, 100 + sub]), preset) or {}
        files, size = _dir_size(out / key)
        report[key] = dict(info, path=str(out / key), files=files, bytes=size,
                           seconds=time.perf_counter() - t0)
    report["seconds"] = time.perf_counter() - t_start
    return report


def format_report(report: dict[str, Any]) -> str:
    """Corpus sizes as a few lines (what ``cli.py synth`` prints)."""
    lines = []
    for key in ("aistpp", "dd100", "dcm"):
        if key not in report:
            continue
        r = report[key]
        extra = []
        for name in ("songs", "sequences", "pairs", "dances"):
            if name in r:
                extra.append(f"{r[name]} {name}")
        if "motion_hours" in r:
            extra.append(f"{r['motion_hours']:.3f} h of motion")
        lines.append(f"{key:<7} {r['files']:>5} files {r['bytes'] / 1e6:8.1f} MB  {', '.join(extra)}"
                     f"  ({r['seconds']:.1f} s)  {r['path']}")
    lines.append(f"total {report['seconds']:.1f} s")
    return "\n".join(lines)


__all__ = ["SynthPreset", "PRESETS", "get_preset", "synth_corpus", "plan_corpus", "build_song", "build_sequence",
           "dancer_style", "format_report", "write_wav", "SongPlan", "SequencePlan"]
