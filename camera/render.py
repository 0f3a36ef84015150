"""The dance as the camera films it: a perspective stick-figure video through a camera track, with
the song, in the frame's real aspect (16:9 by default), so a user sees the shots, the cuts and what
stays in frame before opening MMD.

Each frame projects the dancer's joints and a floor grid through the track's eye, axes and vertical
fov (:meth:`data.camera.CameraTrack.frame`; the horizontal fov follows from the aspect, as in
:func:`data.camera.visibility_mask`); joints behind the camera are not drawn. Video encoding and the
song are :func:`data.render.encode_video`'s.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from data.camera import DEFAULT_ASPECT, CameraTrack, dcm_to_metres
from data.motion import floor_height
from data.render import BACKGROUND, bone_colours, check_video_args, encode_video
from data.skeleton import get_skeleton

_GRID = (0.55, 0.55, 0.52, 0.6)
_NEAR = 0.05  # metres: points closer to (or behind) the camera are not drawn


def _project(points: np.ndarray, eye: np.ndarray, right: np.ndarray, up: np.ndarray, forward: np.ndarray,
             tan_h: float, tan_v: float) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) metres -> (N, 2) image coordinates in [-1, 1] (x right, y up) and (N,) in-front flags."""
    v = points - eye
    depth = v @ forward
    ok = depth > _NEAR
    d = np.where(ok, depth, 1.0)
    return np.stack([(v @ right) / (d * tan_h), (v @ up) / (d * tan_v)], axis=-1), ok


def render_camera_view(joints: np.ndarray, skeleton: str, track: CameraTrack, out: str | os.PathLike,
                       music: str | os.PathLike | None = None, aspect: float = DEFAULT_ASPECT, height: int = 360,
                       title: str = "", progress: bool | None = None) -> Path:
    """Render ``joints`` (T, J, 3) metres, pasdeux's frame, filmed by ``track`` (one key per frame) to ``out``.

    The video has ``min(T, track frames)`` frames at the track's fps.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    out = check_video_args(out, music)
    joints = np.asarray(joints, dtype=np.float64)
    n = min(joints.shape[0], track.num_frames)
    sk = get_skeleton(skeleton)
    bones = np.array(sk.bones())  # (K, 2) parent, child
    eye, right, up, forward = track.frame()
    eye = dcm_to_metres(eye)
    H = int(height) + int(height) % 2
    W = int(round(H * aspect / 2)) * 2
    dpi = 100
    fig = Figure(figsize=(W / dpi, H / dpi), dpi=dpi, facecolor=BACKGROUND)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    px = H / 360
    grid = LineCollection([], colors=[_GRID], linewidths=0.8 * px, zorder=1)
    colours = bone_colours(sk)
    body = LineCollection([], colors=colours, linewidths=2.2 * px, zorder=3, capstyle="round")
    ax.add_collection(grid)
    ax.add_collection(body)
    caption = ax.text(-0.98, 0.95, "", fontsize=8 * px, color="#333333", va="top", family="monospace", zorder=4)
    floor = floor_height(joints, 1.0)
    centre = joints[:, 0].mean(axis=0)
    ticks = np.arange(-6.0, 6.01, 0.5)
    lines = [((centre[0] + a, floor, centre[2] - 6), (centre[0] + a, floor, centre[2] + 6)) for a in ticks]
    lines += [((centre[0] - 6, floor, centre[2] + a), (centre[0] + 6, floor, centre[2] + a)) for a in ticks]
    grid_pts = np.array(lines)  # (L, 2, 3)

    def draw(k: int) -> np.ndarray:
        tan_v = np.tan(np.radians(track.fov[k]) / 2)
        tan_h = aspect * tan_v
        frame = (eye[k], right[k], up[k], forward[k], tan_h, tan_v)
        p, ok = _project(joints[k], *frame)
        body.set_segments([p[[a, b]] for a, b in bones if ok[a] and ok[b]])
        body.set_color([c for (a, b), c in zip(bones, colours) if ok[a] and ok[b]])
        g, gok = _project(grid_pts.reshape(-1, 3), *frame)
        g, gok = g.reshape(-1, 2, 2), gok.reshape(-1, 2).all(axis=1)
        grid.set_segments(list(g[gok]))
        caption.set_text(f"{title}  frame {k + 1}/{n}  fov {track.fov[k]:.0f}°".strip())
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[:, :, :3].copy()

    return encode_video(out, (W, H), track.fps, n, draw, music=music, progress=progress)


__all__ = ["render_camera_view"]
