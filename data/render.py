"""Stick-figure previews: an mp4 of one or two dancers with the song, or a single PNG still.

The figure is drawn with matplotlib's Agg canvas (no pyplot, no display) as a fixed oblique view:

* Camera: perspective, :data:`AZIMUTH` degrees round to the dancers' left of straight-on and
  :data:`ELEVATION` degrees above, looking at a point 0.9 m above the floor. The scene is y up, and a
  motion in its rest orientation (SMPL faces +z) faces the viewer, its left side on the viewer's right.
* Framing: the camera target follows the dancers' mean pelvis position on the floor, smoothed with a
  Gaussian of :data:`FOLLOW_SIGMA` seconds, so travelling dances stay in view without jitter; the zoom is
  fixed for the whole video and fits every pose of every dancer (no pumping). A still frames its pose.
* Floor: a 0.5 m grid that fades with distance; each dancer casts a flattened grey shadow, and foot
  joints leave a dark spot on the floor that grows darker as the foot gets closer to it (contact reads
  at a glance).
* Dancers: dancer 1 blue, dancer 2 red; left limbs a lighter tint, right limbs a darker shade, so the
  facing direction is readable. The nearer dancer is drawn on top.
* Captions: the title top left, the dancers' names top right (under the title's line), time and frame
  number bottom left.

Two motions of different lengths: the video lasts as long as the longer one, and the shorter dancer
**holds its last pose, drawn faded**, so both stay on the floor and it is plain who has finished.

Video frame rate: ``fps`` or, by default, the highest motion fps capped at 30; each motion is sampled
at the video times by nearest frame (60 fps motions drop every other frame). Frames go to ffmpeg
(``imageio_ffmpeg.write_frames``) as H.264 yuv420p, width and height even. ``music`` is muxed as AAC
and cut to the video's length; it is checked before any frame is drawn. The output is written to a
temporary name beside the target and renamed when complete.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from data.errors import InputError, check_finite
from data.io import atomic_output
from data.motion import Motion
from data.skeleton import Skeleton, get_skeleton

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv")
MAX_DEFAULT_FPS = 30.0
AZIMUTH = 25.0
"""Degrees the camera sits round towards +x (the rest body's left) from straight in front (+z)."""
ELEVATION = 12.0
"""Degrees the camera looks down."""
DISTANCE = 7.0
"""Metres from camera to target: a mild perspective."""
FOLLOW_SIGMA = 0.5
"""Seconds: Gaussian smoothing of the camera target path."""
TARGET_HEIGHT = 0.9
"""Metres above the floor the camera looks at (about a dancer's middle)."""
GRID_SPACING = 0.5
"""Metres between floor grid lines."""

# (base, left tint, right shade) per dancer.
DANCER_COLOURS = (
    ("#1f5fa8", "#6fa3e0", "#123d6e"),  # dancer 1 (leader): blue
    ("#c8452c", "#ee9078", "#7f2412"),  # dancer 2 (follower): red
)
BACKGROUND = "#f6f5f1"
_GRID = np.array([0.55, 0.55, 0.52])
_SHADOW = (0.25, 0.25, 0.25, 0.18)
_FADED_ALPHA = 0.35  # a dancer whose motion has ended


# --------------------------------------------------------------------------------------------------
# Media checks
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MediaInfo:
    """What ``ffmpeg -i`` reports about a media file."""

    duration: float | None
    """Seconds, or ``None`` when ffmpeg did not say."""
    video: bool
    audio: bool
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None


def probe_media(path: str | os.PathLike) -> MediaInfo:
    """Streams, size, frame rate and duration of ``path``, read from ffmpeg's header report.

    Only the header is read (no decoding), so this takes milliseconds. Nothing found means every
    field is empty / ``False``.
    """
    import imageio_ffmpeg

    proc = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                          capture_output=True, text=True, errors="replace")
    err = proc.stderr  # ffmpeg exits 1 here ("no output file"); the report is what we want
    duration = None
    m = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", err)
    if m:
        duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    width = height = fps = vcodec = acodec = None
    vm = re.search(r"Stream #\S+.*?: Video: (\w+).*?, (\d{2,5})x(\d{2,5})", err)
    if vm:
        vcodec, width, height = vm.group(1), int(vm.group(2)), int(vm.group(3))
        fm = re.search(r"Stream #\S+.*?: Video: .*?, ([\d.]+) fps", err)
        fps = float(fm.group(1)) if fm else None
    am = re.search(r"Stream #\S+.*?: Audio: (\w+)", err)
    if am:
        acodec = am.group(1)
    return MediaInfo(duration=duration, video=vm is not None, audio=am is not None, width=width,
                     height=height, fps=fps, video_codec=vcodec, audio_codec=acodec)


def check_audio(path: str | os.PathLike) -> float:
    """Duration in seconds of a readable, non-empty audio file; :class:`InputError` otherwise.

    soundfile (libsndfile: wav, flac, ogg, mp3, aiff, ...) is asked first; a format it cannot open
    (m4a, aac) is accepted when ffmpeg finds an audio stream in it, since ffmpeg does the muxing.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "music file not found", "check the path")
    import soundfile

    try:
        info = soundfile.info(str(p))
    except (RuntimeError, soundfile.LibsndfileError, OSError) as e:
        media = probe_media(p)
        if media.audio and (media.duration or 0) > 0:
            return float(media.duration)
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(p, f"not a readable audio file ({reason})",
                         "give a wav, flac, ogg or mp3 file") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise InputError(p, "audio file holds no samples", "give a song with sound in it")
    return info.frames / info.samplerate


# --------------------------------------------------------------------------------------------------
# Sampling motions at video times
# --------------------------------------------------------------------------------------------------
def video_frame_count(motions: Sequence[Motion], fps: float) -> int:
    """Frames a video at ``fps`` needs to show the longest motion."""
    # The 1e-9 keeps exact multiples (120 frames at 60 fps -> 60 at 30) from rounding up.
    return max(1, max(int(np.ceil(m.num_frames * fps / m.fps - 1e-9)) for m in motions))


def _sample(motion: Motion, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, J, 3) joints at ``times`` (nearest frame; last frame held) and (N,) bool 'has ended'."""
    pos = times * motion.fps  # fractional frame index, (N,)
    idx = np.minimum(np.floor(pos + 0.5).astype(np.int64), motion.num_frames - 1)
    ended = pos > motion.num_frames - 0.5
    return motion.joints[idx], ended


# --------------------------------------------------------------------------------------------------
# The scene
# --------------------------------------------------------------------------------------------------
def _basis(azimuth: float, elevation: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera right, up and forward unit vectors (world), forward pointing from camera to target."""
    a, e = np.radians(azimuth), np.radians(elevation)
    to_camera = np.array([np.sin(a) * np.cos(e), np.sin(e), np.cos(a) * np.cos(e)])
    forward = -to_camera
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return right, up, forward


def _gaussian_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Smooth (N, C) along N with a Gaussian of ``sigma`` samples, edges held (no pull to zero)."""
    if sigma < 0.5 or len(x) < 2:
        return x
    r = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.concatenate([np.repeat(x[:1], r, 0), x, np.repeat(x[-1:], r, 0)])  # (N + 2r, C)
    return np.stack([np.convolve(padded[:, c], k, mode="valid") for c in range(x.shape[1])], axis=1)


def _side(name: str) -> int:
    """+1 left, -1 right, 0 centre, from a joint name (SMPL / SMPL-X English, MMD Japanese)."""
    n = name.lower()
    if n.startswith(("left", "l_")) or name.startswith("左") or n.endswith(("_l", ".l")):
        return 1
    if n.startswith(("right", "r_")) or name.startswith("右") or n.endswith(("_r", ".r")):
        return -1
    return 0


def bone_colours(sk: Skeleton, dancer: int = 0) -> list[str]:
    """One colour per bone of ``sk.bones()``: the dancer's base colour, lighter on the left side and
    darker on the right (by the child joint's name)."""
    base, left, right = DANCER_COLOURS[dancer % len(DANCER_COLOURS)]
    side = [_side(sk.joint_names[c]) for _, c in sk.bones()]
    return [left if s > 0 else right if s < 0 else base for s in side]


def _foot_joints(sk: Skeleton) -> list[int]:
    """Joints within 12 cm of the lowest rest joint: ankles, feet, toes on any skeleton."""
    rest_y = sk.rest_joints()[:, 1]
    return [int(j) for j in np.flatnonzero(rest_y < rest_y.min() + 0.12)]


def _head_joint(sk: Skeleton) -> int:
    for name in ("head", "頭"):  # SMPL / SMPL-X, MMD
        if name in sk.joint_names:
            return sk.index(name)
    return int(np.argmax(sk.rest_joints()[:, 1]))


class _Scene:
    """Everything needed to draw the frames of one or two dancers at given times."""

    def __init__(self, motions: Sequence[Motion], times: np.ndarray, size: int, title: str,
                 fps: float | None = None, frame_numbers: np.ndarray | None = None,
                 frame_total: int | None = None) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.collections import LineCollection
        from matplotlib.figure import Figure

        self.motions = list(motions)
        self.times = times  # (N,)
        self.n = len(times)
        # The caption counts frames 1-based: video frames by default, motion frames for a still.
        self.frame_numbers = np.arange(self.n) if frame_numbers is None else frame_numbers
        self.frame_total = self.n if frame_total is None else frame_total
        self.fps = fps
        self.H = int(size) + int(size) % 2
        self.W = int(round(self.H * 4 / 3 / 2)) * 2  # 4:3, even (yuv420p needs even sizes)
        self.skeletons = [get_skeleton(m.skeleton) for m in self.motions]
        sampled = [_sample(m, times) for m in self.motions]
        self.joints = [s[0] for s in sampled]  # per dancer (N, J, 3)
        self.ended = [s[1] for s in sampled]  # per dancer (N,)
        self.right, self.up, self.forward = _basis(AZIMUTH, ELEVATION)

        # Floor: the level feet reach, robust to a glitchy frame dipping below it.
        lows = np.concatenate([j[:, :, 1].min(axis=1) for j in self.joints])  # (D * N,)
        self.floor = float(np.percentile(lows, 1))
        # Camera target: dancers' mean pelvis on the floor plane, smoothed over time.
        centre = np.mean([j[:, 0, :] for j in self.joints], axis=0)  # (N, 3)
        centre[:, 1] = self.floor + TARGET_HEIGHT
        sigma = FOLLOW_SIGMA * (fps if fps else 1.0) if self.n > 1 else 0.0
        self.target = _gaussian_smooth(centre, sigma)  # (N, 3)
        self._fit_view()

        # Figure: axes fill the canvas in projected metres; equal aspect by construction of limits.
        dpi = 100
        self.fig = Figure(figsize=(self.W / dpi, self.H / dpi), dpi=dpi, facecolor=BACKGROUND)
        self.canvas = FigureCanvasAgg(self.fig)
        ax = self.fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        ax.set_xlim(*self.xlim)
        ax.set_ylim(*self.ylim)
        ax.set_facecolor(BACKGROUND)
        self.ax = ax
        px = self.H / 512  # line widths and fonts scale with the video height
        self.grid = LineCollection([], linewidths=0.8 * px, zorder=1, capstyle="butt")
        ax.add_collection(self.grid)
        self.shadows, self.bodies, self.heads, self.feet = [], [], [], []
        for d, sk in enumerate(self.skeletons):
            base = DANCER_COLOURS[d % len(DANCER_COLOURS)][0]
            bones = sk.bones()
            colours = bone_colours(sk, d)
            # Finger and face bones are short: thinner lines keep hands from turning into blobs.
            lengths = np.linalg.norm(sk.offsets[[c for _, c in bones]], axis=1)
            widths = np.where(lengths < 0.06, 1.2, 3.2) * px
            shadow = LineCollection([], colors=[_SHADOW], linewidths=widths * 1.6, zorder=2,
                                    capstyle="round")
            body = LineCollection([], colors=colours, linewidths=widths, zorder=4 + d,
                                  capstyle="round")
            (head,) = ax.plot([], [], "o", color=base, markersize=9 * px, zorder=4 + d,
                              markeredgecolor="white", markeredgewidth=0.8 * px)
            feet = ax.scatter([], [], s=[], c=[], zorder=3, linewidths=0)
            ax.add_collection(shadow)
            ax.add_collection(body)
            self.shadows.append(shadow)
            self.bodies.append(body)
            self.heads.append(head)
            self.feet.append(feet)
        self.bone_index = [np.array(sk.bones()) for sk in self.skeletons]  # per dancer (B, 2)
        self.foot_index = [_foot_joints(sk) for sk in self.skeletons]
        self.head_index = [_head_joint(sk) for sk in self.skeletons]

        font = max(6.0, 11 * px)
        self.fig.text(0.02, 0.975, title, ha="left", va="top", fontsize=font * 1.15,
                      fontweight="bold", color="#222222")
        names_top = 0.975 - (0.06 if title else 0.0)  # under the title line: a long title would run into them
        for d, m in enumerate(self.motions):
            name = m.name or f"dancer {d + 1}"
            self.fig.text(0.98, names_top - d * 0.055, name, ha="right", va="top", fontsize=font,
                          color=DANCER_COLOURS[d % len(DANCER_COLOURS)][0], fontweight="bold")
        self.caption = self.fig.text(0.02, 0.02, "", ha="left", va="bottom", fontsize=font,
                                     color="#444444", family="monospace")

    # -- geometry ----------------------------------------------------------------------------------
    def _project(self, points: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(..., 3) world points -> (..., 2) image-plane metres (at target depth) and (...,) depth.

        ``target`` broadcasts against ``points[..., :]`` (e.g. (N, 1, 3) for (N, J, 3) points).
        """
        cam = target - DISTANCE * self.forward
        rel = points - cam
        depth = rel @ self.forward
        safe = np.maximum(depth, 1e-3)
        uv = np.stack([rel @ self.right, rel @ self.up], axis=-1) * (DISTANCE / safe)[..., None]
        return uv, depth

    def _fit_view(self) -> None:
        """Fixed axis limits (projected metres) holding every pose and shadow, at the canvas aspect."""
        uvs = []
        for j in self.joints:
            flat = j.copy()
            flat[..., 1] = self.floor
            for pts in (j, flat):
                uv, _ = self._project(pts, self.target[:, None, :])  # (N, J, 2)
                uvs.append(uv.reshape(-1, 2))
        uv = np.concatenate(uvs)
        lo, hi = uv.min(axis=0), uv.max(axis=0)
        # Margins: 8 % round the figure, plus room at the top and bottom for the captions.
        span = np.maximum(hi - lo, [0.6, 1.0])
        half_w = max(abs(lo[0]), abs(hi[0])) + 0.08 * span[1]  # the target stays centred
        v_lo = lo[1] - 0.10 * span[1]
        v_hi = hi[1] + 0.14 * span[1]
        aspect = self.W / self.H
        if 2 * half_w / (v_hi - v_lo) < aspect:
            half_w = aspect * (v_hi - v_lo) / 2
        else:
            extra = 2 * half_w / aspect - (v_hi - v_lo)
            v_lo, v_hi = v_lo - extra / 2, v_hi + extra / 2
        self.xlim = (-half_w, half_w)
        self.ylim = (v_lo, v_hi)
        # The floor grid must reach the frame's edges: the half-width in metres, with a floor.
        self.grid_radius = max(3.0, 1.3 * half_w)

    def _grid_segments(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(S, 2, 2) projected grid segments near ``target`` and (S, 4) RGBA colours fading outwards."""
        R, s = self.grid_radius, GRID_SPACING
        cx, cz = np.round(target[[0, 2]] / s) * s
        ticks = np.arange(-R, R + 1e-9, s)  # (L,)
        a, b = np.meshgrid(ticks, ticks[:-1], indexing="ij")  # line offset, segment start (L, L-1)
        a, b = a.ravel(), b.ravel()
        # Segments along z (x fixed) and along x (z fixed), each GRID_SPACING long.
        p0 = np.concatenate([np.stack([cx + a, cz + b], -1), np.stack([cx + b, cz + a], -1)])
        p1 = np.concatenate([np.stack([cx + a, cz + b + s], -1), np.stack([cx + b + s, cz + a], -1)])
        world = np.stack([p0, p1], axis=1)  # (S, 2, 2) xz
        world3 = np.insert(world, 1, self.floor, axis=-1)  # (S, 2, 3)
        mid = world.mean(axis=1) - target[[0, 2]]  # (S, 2)
        fade = np.clip(1.0 - np.linalg.norm(mid, axis=1) / R, 0.0, 1.0) ** 1.5  # (S,)
        uv, depth = self._project(world3, target)
        keep = (depth.min(axis=1) > 0.5) & (fade > 0.01)
        colours = np.concatenate([np.tile(_GRID, (len(fade), 1)), 0.7 * fade[:, None]], axis=1)
        return uv[keep], colours[keep]

    # -- drawing -----------------------------------------------------------------------------------
    def draw(self, k: int) -> np.ndarray:
        """Frame ``k`` as an (H, W, 3) uint8 RGB image."""
        target = self.target[k]
        segs, cols = self._grid_segments(target)
        self.grid.set_segments(segs)
        self.grid.set_color(cols)
        depths = []
        for d in range(len(self.motions)):
            pose = self.joints[d][k]  # (J, 3)
            alpha = _FADED_ALPHA if self.ended[d][k] else 1.0
            uv, depth = self._project(pose, target)  # (J, 2), (J,)
            flat = pose.copy()
            flat[:, 1] = self.floor
            suv, _ = self._project(flat, target)
            bi = self.bone_index[d]
            self.bodies[d].set_segments(uv[bi])  # (B, 2, 2)
            self.bodies[d].set_alpha(alpha)
            self.shadows[d].set_segments(suv[bi])
            h = self.head_index[d]
            self.heads[d].set_data([uv[h, 0]], [uv[h, 1]])
            self.heads[d].set_alpha(alpha)
            # Foot spots: darker and larger the closer the foot is to the floor (contact).
            fi = self.foot_index[d]
            height = np.clip(pose[fi, 1] - self.floor, 0.0, None)
            contact = np.clip(1.0 - height / 0.25, 0.0, 1.0)
            self.feet[d].set_offsets(suv[fi])
            self.feet[d].set_sizes((self.H / 512) ** 2 * (20 + 60 * contact))
            self.feet[d].set_facecolors([(0.15, 0.15, 0.15, 0.08 + 0.35 * c) for c in contact])
            depths.append(depth[0])
        # The dancer nearer the camera is drawn on top.
        for rank, d in enumerate(np.argsort(depths)[::-1]):
            self.bodies[d].set_zorder(4 + rank)
            self.heads[d].set_zorder(4.5 + rank)
        t = self.times[k]
        counter = f"frame {int(self.frame_numbers[k]) + 1}/{self.frame_total}"
        self.caption.set_text(f"{int(t // 60)}:{t % 60:05.2f}  {counter}")
        self.canvas.draw()
        rgba = np.asarray(self.canvas.buffer_rgba())  # (H, W, 4)
        if rgba.shape[:2] != (self.H, self.W):
            raise RuntimeError(f"canvas is {rgba.shape[1]}x{rgba.shape[0]}, expected {self.W}x{self.H}")
        return np.ascontiguousarray(rgba[:, :, :3])

    def close(self) -> None:
        self.fig.clear()


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------
def _check_motions(motions: Sequence[Motion]) -> list[Motion]:
    motions = list(motions) if not isinstance(motions, Motion) else [motions]
    if not 1 <= len(motions) <= 2:
        raise InputError(None, f"render takes one or two motions, got {len(motions)}",
                         "pass a solo dance, or a leader and a follower")
    for m in motions:
        if m.num_frames == 0:
            raise InputError(m.name or None, "motion has no frames", "give a motion with frames")
        check_finite(m.joints, m.name or None, "joints")
    return motions


def render_video(motions: Sequence[Motion] | Motion, out: str | os.PathLike,
                 music: str | os.PathLike | None = None, fps: float | None = None, size: int = 512,
                 title: str = "", progress: bool | None = None) -> Path:
    """Render a stick-figure video of one or two dancers to ``out`` (.mp4, .mov or .mkv).

    Args:
        motions: one motion, or two (dancer 1 blue, dancer 2 red), of any shipped skeleton.
        out: the video file; written atomically.
        music: an audio file muxed in as AAC and cut to the video length; checked before rendering.
        fps: video frame rate; default the highest motion fps, capped at 30.
        size: video height in pixels (width is 4/3 of it; both rounded to even).
        title: caption drawn at the top left.
        progress: show a tqdm bar; ``None`` shows it only on a terminal.

    Returns:
        ``out`` as a :class:`Path`.
    """
    motions = _check_motions(motions)
    if not size >= 64:
        raise InputError(None, f"video size {size} px is too small", "use --size 64 or more")
    if fps is None:
        fps = min(max(m.fps for m in motions), MAX_DEFAULT_FPS)
    if not (np.isfinite(fps) and fps > 0):
        raise InputError(None, f"video fps {fps} is not a positive number", "use e.g. --fps 30")
    out = check_video_args(out, music)  # before drawing a single frame

    n = video_frame_count(motions, fps)
    times = np.arange(n) / fps  # (N,) seconds
    scene = _Scene(motions, times, size, title, fps=fps)
    try:
        return encode_video(out, (scene.W, scene.H), fps, n, scene.draw, music=music, progress=progress)
    finally:
        scene.close()


def check_video_args(out: str | os.PathLike, music: str | os.PathLike | None) -> Path:
    """The checks every renderer makes before drawing a frame: a video suffix, a readable song."""
    out = Path(out)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(out, f"cannot write a video with suffix '{out.suffix}'",
                         f"name the output {out.stem}.mp4")
    if music is not None:
        check_audio(music)
    return out


def encode_video(out: str | os.PathLike, size: tuple[int, int], fps: float, num_frames: int,
                 draw: Callable[[int], np.ndarray], music: str | os.PathLike | None = None,
                 progress: bool | None = None) -> Path:
    """Encode ``draw(k)`` ((H, W, 3) uint8 frames, k = 0 .. num_frames - 1) as an H.264 video at
    ``fps``, the song muxed in as AAC and cut to the video, written atomically and checked.

    Args:
        size: (width, height), both even.
        progress: show a tqdm bar; ``None`` shows it only on a terminal.
    """
    import imageio_ffmpeg
    from tqdm import tqdm

    out = Path(out)
    duration = num_frames / fps
    with atomic_output(out) as tmp:
        # veryfast: flat stick figures encode faster than with x264's default preset at about
        # the same file size; "-t" cuts the song to the video.
        output_params = ["-preset", "veryfast", "-t", f"{duration:.6f}", "-movflags", "+faststart"]
        writer = imageio_ffmpeg.write_frames(
            str(tmp), tuple(size), fps=fps, pix_fmt_out="yuv420p", quality=6,
            macro_block_size=2, ffmpeg_log_level="error", output_params=output_params,
            audio_path=None if music is None else str(music),
            audio_codec=None if music is None else "aac")
        writer.send(None)
        try:
            for k in tqdm(range(num_frames), desc=f"render {out.name}", unit="frame", disable=(
                    None if progress is None else not progress), leave=False):
                writer.send(draw(k))
        finally:
            writer.close()  # waits for ffmpeg to finish the file (or clean up after an error)
        # write_frames does not report ffmpeg's exit status: check the result instead.
        info = probe_media(tmp)
        if not info.video or (music is not None and not info.audio):
            raise RuntimeError(f"ffmpeg did not write a complete video to {out} "
                               f"(video stream: {info.video}, audio stream: {info.audio})")
    return out


def render_still(motions: Sequence[Motion] | Motion, out: str | os.PathLike, frame: int = 0,
                 size: int = 512, title: str = "") -> Path:
    """Render one frame as a PNG: frame ``frame`` of the first motion, the second at the same time.

    The view and drawing are the video's; the framing fits this pose alone. Written atomically.
    """
    from matplotlib.image import imsave

    motions = _check_motions(motions)
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise InputError(out, f"cannot write a still with suffix '{out.suffix}'",
                         f"name the output {out.stem}.png")
    first = motions[0]
    if not -first.num_frames <= frame < first.num_frames:
        raise InputError(None, f"frame {frame} is outside the motion's {first.num_frames} frames",
                         f"pick a frame in 0..{first.num_frames - 1}")
    frame %= first.num_frames
    times = np.array([frame / first.fps])
    scene = _Scene(motions, times, size, title, frame_numbers=np.array([frame]),
                   frame_total=first.num_frames)
    try:
        image = scene.draw(0)
    finally:
        scene.close()
    with atomic_output(out) as tmp:
        imsave(tmp, image, format="png")
    return out
