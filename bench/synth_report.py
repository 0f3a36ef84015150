"""What the synthetic corpus is worth, measured: time, sizes, readers, beats, BAS, genre classifiers.

    python bench/synth_report.py [--preset quick] [--seed 0] [--out DIR] [--json FILE]

1. Runs ``python cli.py synth --out DIR --preset P --seed N --quiet`` in a subprocess and reports its
   wall time (the whole CLI: start-up, AIST++, DD100 and DCM) and the corpus sizes it prints.
2. Readers: :class:`data.datasets.aistpp.AISTPPReader` lists the splits; every ``motions/*.pkl`` is
   loaded with ``load_aistpp_motion`` (ignored ones included), every wav with soundfile, every sidecar
   json. Each sequence is rebuilt in memory from the plan and the max |FK(pkl) - generator joints| is
   reported.
3. Beats: librosa's default beat tracker on every song's wav as written, F-measure at +-70 ms against
   the ground-truth beats (all beats, and mir_eval's convention of ignoring the first 5 s).
4. BAS (Bailando, music-beat-centric, sigma = 3 frames at 60 fps, motion beats = minima of the
   sigma-5-smoothed mean joint speed: ``metrics.beat.bailando_bas``) of every non-ignored dance
   against its own song's beats and, as a control, against the next song's beats (another genre).
5. Genre from music: ``bailando438`` features per song pooled over time (mean and std), logistic
   regression trained on the train-split songs, accuracy on the test (and val) songs vs chance; once
   on channels 0-52 (MFCC, delta MFCC, chroma, onset) and once on all 438 (the tempogram, 384 of them,
   encodes tempo, and a held-out song's tempo is one its genre's training songs lack).
   Genre from motion: pooled kinematics per dance (``metrics.corpus_checks.motion_features``), same
   protocol on the dances of the held-out songs. "Listening" vs "deaf": on the test dances' beats,
   the most frequent training move of the genre the audio classifier predicts vs the most frequent
   training move overall, and whether the true move is in the guessed genre's vocabulary.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from data.datasets.aistpp import AISTPPReader, load_aistpp_motion  # noqa: E402
from data.synth.corpus import build_sequence, build_song, get_preset, plan_corpus  # noqa: E402
from data.synth.music import SongTruth  # noqa: E402
from data.synth.solo import move_label, vocabulary  # noqa: E402
from metrics.corpus_checks import (MIR_EVAL_MIN_BEAT_TIME, TIMBRE_CHANNELS, LogisticRegression,  # noqa: E402
                                   bas_own_and_control, beat_f_measure, librosa_beats, motion_features,
                                   music_song_features)


def run_cli(out: Path, preset: str, seed: int) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "synth", "--out", str(out), "--preset", preset,
                           "--seed", str(seed), "--quiet"], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"synth failed ({proc.returncode}):\n{proc.stderr}")
    return wall, proc.stdout + proc.stderr


def section(title: str) -> None:
    print(f"\n== {title}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="corpus folder (default: a temporary one)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as json")
    args = ap.parse_args(argv)
    results: dict = {"preset": args.preset, "seed": args.seed}
    tmp = None
    if args.out is None:
        tmp = tempfile.TemporaryDirectory(prefix="pasdeux-synth-")
        out = Path(tmp.name)
    else:
        out = args.out

    # 1. time and sizes -------------------------------------------------------------------------
    section(f"synth --preset {args.preset} --seed {args.seed}")
    wall, text = run_cli(out, args.preset, args.seed)
    print(text.rstrip())
    print(f"wall time of `cli.py synth` (subprocess, start-up included): {wall:.1f} s")
    results["synth_wall_s"] = wall

    # 2. readers and FK ------------------------------------------------------------------------
    section("readers (AIST++ layout) and FK")
    root = out / "aistpp"
    ds = AISTPPReader(root)
    splits = {s: ds.sequences(s) for s in ("train", "val", "test")}
    print("AISTPPReader sequences:", {s: len(v) for s, v in splits.items()}, f"all={len(ds)}",
          f"ignored={sorted(ds.ignored)}")
    import soundfile as sf

    preset = get_preset(args.preset)
    song_plans, seq_plans = plan_corpus(preset, args.seed)
    songs: dict[str, tuple[np.ndarray, SongTruth]] = {}
    for sp in song_plans:
        audio, sr = sf.read(str(root / "all_musics" / f"{sp.music_id}.wav"), dtype="float32")
        truth = SongTruth.from_json((root / "groundtruth" / "music" / f"{sp.music_id}.json").read_text())
        songs[sp.music_id] = (audio, truth)
    gts = {q.name: json.loads((root / "groundtruth" / "motions" / f"{q.name}.json").read_text())
           for q in seq_plans}
    t0 = time.perf_counter()
    motions = {}
    max_err = 0.0
    for q in seq_plans:
        motion = load_aistpp_motion(root / "motions" / f"{q.name}.pkl")
        motions[q.name] = motion
        _, truth = build_song(q.song, preset)
        dance = build_sequence(q, truth, args.seed)
        max_err = max(max_err, float(np.abs(motion.joints - dance.joints).max()))
    n_pkl = len(list((root / "motions").glob("*.pkl")))
    print(f"loaded {n_pkl} pkl, {len(songs)} wav, {len(songs) + len(gts) + 1} json sidecars; rebuilt every "
          f"sequence in memory ({time.perf_counter() - t0:.1f} s)")
    print(f"max |FK(pkl joints) - generator joints| over {len(seq_plans)} sequences: {max_err:.2e} m")
    results.update(readers_loaded_pkl=n_pkl, fk_max_error_m=max_err)

    # 3. beat tracking -------------------------------------------------------------------------
    section("librosa beat tracking vs ground-truth beats (F-measure, +-70 ms)")
    f_all, f_trim, tempi = [], [], []
    for mid, (audio, truth) in songs.items():
        est, tempo = librosa_beats(audio, truth.sr)
        f_all.append(beat_f_measure(truth.beat_times, est))
        f_trim.append(beat_f_measure(truth.beat_times, est, min_time=MIR_EVAL_MIN_BEAT_TIME))
        tempi.append(abs(tempo - truth.bpm) / truth.bpm < 0.04)
    print(f"{len(f_all)} songs: all beats mean {np.mean(f_all):.3f} min {np.min(f_all):.3f}; "
          f"beats after 5 s (mir_eval) mean {np.mean(f_trim):.3f} min {np.min(f_trim):.3f}; "
          f"tempo within 4 %: {int(np.sum(tempi))}/{len(tempi)}")
    results.update(beat_f_mean=float(np.mean(f_all)), beat_f_min=float(np.min(f_all)),
                   beat_f_trim_mean=float(np.mean(f_trim)), beat_f_trim_min=float(np.min(f_trim)))

    # 4. BAS -----------------------------------------------------------------------------------
    section("BAS (Bailando, music-beat-centric, sigma 3 frames at 60 fps)")
    ids = list(songs)
    own, ctl = [], []
    by_sit: dict[str, list[float]] = {"BM": [], "FM": []}
    for q in seq_plans:
        if q.ignored:
            continue
        other = ids[(ids.index(q.song.music_id) + 1) % len(ids)]
        o, c = bas_own_and_control(motions[q.name].joints, 60.0, songs[q.song.music_id][1].beat_times,
                                   songs[other][1].beat_times)
        own.append(o)
        ctl.append(c)
        by_sit[q.situation].append(o)
    print(f"{len(own)} dances: own music {np.mean(own):.3f} (min {np.min(own):.3f}), another song's beats "
          f"{np.mean(ctl):.3f}; own/control {np.mean(own) / np.mean(ctl):.2f}x; own > control in "
          f"{int(np.sum(np.array(own) > np.array(ctl)))}/{len(own)}")
    print(f"own by situation: sBM {np.mean(by_sit['BM']):.3f}, sFM {np.mean(by_sit['FM']):.3f}")
    results.update(bas_own=float(np.mean(own)), bas_control=float(np.mean(ctl)))

    # 5. genre classifiers ---------------------------------------------------------------------
    section("genre classifiers (logistic regression; train-split songs -> held-out songs)")
    t0 = time.perf_counter()
    full = {mid: music_song_features(a, t.sr, channels=None) for mid, (a, t) in songs.items()}  # (876,)
    n438 = next(iter(full.values())).size // 2
    timbre = {mid: np.concatenate([f[:n438][TIMBRE_CHANNELS], f[n438:][TIMBRE_CHANNELS]]) for mid, f in full.items()}
    split_of = {sp.music_id: sp.split for sp in song_plans}
    genre_of = {sp.music_id: sp.genre for sp in song_plans}
    genres = sorted(set(genre_of.values()))
    chance = 1.0 / len(genres)
    tr = [m for m in ids if split_of[m] == "train"]
    print(f"features: bailando438 per song, mean and std over time ({time.perf_counter() - t0:.1f} s); "
          f"trained on the {len(tr)} train-split songs; chance {chance:.3f}")
    classifiers = {}
    for fname, feats in (("channels 0-52 (MFCC, dMFCC, chroma, onset)", timbre), ("all 438 channels", full)):
        clf = LogisticRegression().fit(np.stack([feats[m] for m in tr]), np.array([genre_of[m] for m in tr]))
        classifiers[fname] = (clf, feats)
        accs = []
        for split in ("test", "val"):
            ms = [m for m in ids if split_of[m] == split]
            pred = clf.predict(np.stack([feats[m] for m in ms]))
            accs.append(float(np.mean(pred == np.array([genre_of[m] for m in ms]))))
            results[f"music_genre_acc_{split}" + ("" if feats is timbre else "_all438")] = accs[-1]
        print(f"music -> genre, {fname}: test songs {accs[0]:.3f}, val songs {accs[1]:.3f} "
              f"({len(ms)} songs each)")
    print("  (the tempogram is 384 of the 438 channels and encodes tempo; a held-out song has a tempo its "
          "genre's training songs lack, so tempo alone misleads)")
    clf, feats = classifiers["channels 0-52 (MFCC, dMFCC, chroma, onset)"]
    results["chance"] = chance

    dances = [q for q in seq_plans if not q.ignored]
    mfe = {q.name: motion_features(motions[q.name].joints, 60.0) for q in dances}
    dtr = [q for q in dances if q.song.split == "train"]
    mclf = LogisticRegression().fit(np.stack([mfe[q.name] for q in dtr]), np.array([q.song.genre for q in dtr]))
    for split in ("test", "val"):
        qs = [q for q in dances if q.song.split == split]
        pred = mclf.predict(np.stack([mfe[q.name] for q in qs]))
        acc = float(np.mean(pred == np.array([q.song.genre for q in qs])))
        print(f"motion -> genre, {split} dances: accuracy {acc:.3f} on {len(qs)} dances of held-out songs "
              f"(chance {chance:.3f}); trained on {len(dtr)} dances")
        results[f"motion_genre_acc_{split}"] = acc

    # listening vs deaf move prediction
    train_labels = [lab for q in dtr for lab in gts[q.name]["move_labels"] if lab]
    deaf_guess = Counter(train_labels).most_common(1)[0][0]
    per_genre = {g: Counter(lab for q in dtr if q.song.genre == g for lab in gts[q.name]["move_labels"] if lab)
                 .most_common(1)[0][0] for g in genres}
    test_q = [q for q in dances if q.song.split == "test"]
    song_pred = {m: p for m, p in zip([q.song.music_id for q in test_q],
                                      clf.predict(np.stack([feats[q.song.music_id] for q in test_q])))}
    common_genre = Counter(q.song.genre for q in dtr).most_common(1)[0][0]
    deaf_vocab = {move_label(common_genre, m) for m in vocabulary(common_genre)}
    deaf_hits = listen_hits = vocab_hits = deaf_vocab_hits = total = 0
    for q in test_q:
        g_hat = song_pred[q.song.music_id]
        vocab = {move_label(g_hat, m) for m in vocabulary(g_hat)}
        for lab in gts[q.name]["move_labels"]:
            if not lab:
                continue
            total += 1
            deaf_hits += lab == deaf_guess
            listen_hits += lab == per_genre[g_hat]
            vocab_hits += lab in vocab
            deaf_vocab_hits += lab in deaf_vocab
    print(f"move per beat on the {total} beats of test dances, deaf (no audio) vs listening (genre from the "
          f"audio classifier):")
    print(f"  most frequent training move: deaf {deaf_hits / total:.3f}, listening {listen_hits / total:.3f}")
    print(f"  true move inside the guessed genre's vocabulary: deaf {deaf_vocab_hits / total:.3f}, "
          f"listening {vocab_hits / total:.3f}")
    results.update(move_acc_deaf=deaf_hits / total, move_acc_listening=listen_hits / total,
                   move_in_vocab_deaf=deaf_vocab_hits / total, move_in_vocab_listening=vocab_hits / total)

    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
