"""Synthetic dance-camera tracks in MMD camera parameters (the DCM part of the synthetic corpus).

A track is a sequence of **shots**. Cuts fall on downbeats (not on every one: a shot lasts one to
four bars, shorter when the music is loud, and a section change always cuts). Within a shot the
camera does one of four things:

* ``orbit``  -- circles the dancer: the yaw sweeps 35-130 degrees in world space, eased in and out;
* ``dolly``  -- pushes in or pulls out: the distance eases between 1.25x and 0.85x of the framing;
* ``track``  -- follows the dancer: yaw locked to the dancer's (smoothed) facing, a slow drift on top;
* ``static`` -- a fixed camera on the shot's mean dancer position, wide enough for the whole travel.

Framing is tied to section energy: quiet sections get long lenses (small fov) and wide shots (about
2.5 m of height framed at the dancer), loud ones wide lenses from closer (about 1.6 m framed: the feet
may leave the frame, the pelvis does not) and shorter shots. The fov is an integer number of
degrees, as MMD stores it. The interest point follows the dancer's smoothed upper-body centre
(waist to chest) across the floor; its height puts the head a little below the top of the frame (a
wide shot centres the whole body, a close one the chest).

Units and frames: the dancer's joints are DCM's 60 MMD bones **in DCM units** (MMD units in saba's
right-handed frame, what :func:`data.datasets.dcm.read_motion_json` returns and
:func:`data.datasets.dcm.write_motion_json` takes). The camera is a :class:`data.camera.CameraTrack`
of raw VMD values: distance negative (as MMD stores it), interest point in MMD's left-handed frame
(z negated), Euler angles in radians (unwrapped), fov in integer degrees. The geometry (eye and axes)
is :func:`data.camera.camera_frame`, the same convention DCM uses: with ``rz = 0`` the eye sits at
the interest point plus ``|d| (cos rx sin ry, -sin rx, cos rx cos ry)``, so ``ry`` is the camera's
azimuth around the dancer (``ry`` equal to the dancer's heading puts the camera in front) and a
negative ``rx`` raises the camera above the interest point.

Every shot is checked with DanceCamera3D's frustum test (:func:`data.camera.visibility_mask`, the
reference's square frustum): a shot that loses the pelvis (bone 0, 下半身) is re-framed wider, so
the pelvis-in-view share is close to 1 by construction and is measured, not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d

from data.camera import CameraTrack, dcm_to_metres, metres_to_dcm, metres_to_mmd, visibility_mask
from data.datasets.dcm import DCM_FPS

SHOT_KINDS = ("orbit", "dolly", "track", "static")
PELVIS_BONE = 0  # 下半身
_HEAD_BONE = 4  # 頭
_CENTRE_BONES = (0, 2)  # 下半身 (waist) and 上半身2 (chest): the interest point is between them
_LEFT_RIGHT_PAIRS = ((8, 12), (18, 40))  # (左足, 右足) hips and (左腕, 右腕) shoulders: the body's x axis
_MIN_SHOT_S = 1.0  # no shot shorter than this, whatever the bar length
_MAX_REFRAMES = 5  # widen a shot at most this many times to keep the pelvis in view
_WIDEN = 1.3


@dataclass
class CameraTruth:
    """A synthetic camera track and its ground truth (cuts and shot kinds)."""

    track: CameraTrack
    """Per-frame MMD camera (raw VMD values, see the module docstring)."""
    cut_frames: np.ndarray
    """(S-1,) int: the first frame of every shot but the first; each is a downbeat frame."""
    shot_bounds: np.ndarray
    """(S, 2) int: ``[start, stop)`` frames of each shot."""
    shot_kinds: list[str]
    """(S,) one of :data:`SHOT_KINDS` per shot."""
    downbeat_frames: np.ndarray
    """All downbeat frames inside the track (cuts are a subset)."""
    fps: float = DCM_FPS
    extras: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return self.track.num_frames

    def shot_index(self) -> np.ndarray:
        """(T,) index of the shot each frame belongs to."""
        idx = np.zeros(self.num_frames, dtype=np.int64)
        for s, (a, b) in enumerate(self.shot_bounds):
            idx[a:b] = s
        return idx

    def to_json(self) -> dict[str, Any]:
        """Ground-truth sidecar content (frames at :attr:`fps`)."""
        return {
            "fps": self.fps,
            "num_frames": self.num_frames,
            "cut_frames": [int(c) for c in self.cut_frames],
            "downbeat_frames": [int(c) for c in self.downbeat_frames],
            "shots": [{"start": int(a), "stop": int(b), "kind": k, "fov": int(round(self.track.fov[a]))}
                      for (a, b), k in zip(self.shot_bounds, self.shot_kinds)],
            **self.extras,
        }


# --------------------------------------------------------------------------------------------------
# Visibility (DanceCamera3D's frustum test, from data.camera)
# --------------------------------------------------------------------------------------------------
def bone_visibility(track: CameraTrack, joints_dcm: np.ndarray, aspect: float | None = None) -> np.ndarray:
    """(T, 60) bool: each bone inside the camera's frustum (``aspect=None``: DCM's square test).

    ``joints_dcm`` (T, 60, 3) in DCM units; the track's eye is in the same frame and unit.
    """
    n = min(track.num_frames, len(joints_dcm))
    eye, right, up, forward = track.frame()
    return visibility_mask(np.asarray(joints_dcm, dtype=np.float64)[:n], eye[:n], right[:n], up[:n],
                           forward[:n], track.fov[:n], aspect=aspect)


def pelvis_in_view_share(track: CameraTrack, joints_dcm: np.ndarray, aspect: float | None = None) -> float:
    """Share of frames whose pelvis (bone 0, 下半身) is inside the frustum."""
    return float(bone_visibility(track, joints_dcm, aspect)[:, PELVIS_BONE].mean())


# --------------------------------------------------------------------------------------------------
# The dancer, as the camera sees it
# --------------------------------------------------------------------------------------------------
@dataclass
class _Dancer:
    """The dancer as the camera follows it (metres, pasdeux frame; smoothed where it says so)."""

    centre_raw: np.ndarray
    """(T, 3) the upper-body centre (waist to chest), per frame."""
    centre: np.ndarray
    """(T, 3) the same, smoothed over ~0.25 s."""
    heading: np.ndarray
    """(T,) yaw of the body's forward axis (``atan2(f_x, f_z)``: 0 faces +z), smoothed, unwrapped."""
    head_y: np.ndarray
    """(T,) height of the head bone (頭), smoothed."""
    pelvis_y: np.ndarray
    """(T,) height of the pelvis bone (下半身), smoothed."""


def _follow_dancer(joints_m: np.ndarray, fps: float) -> _Dancer:
    """What the camera needs of the dancer's (T, 60, 3) bones in metres.

    The heading comes from the hips and shoulders; it is smoothed as a unit vector, not as an angle,
    so a quick spin averages out instead of dragging the camera round with it.
    """
    smooth = lambda x, s: gaussian_filter1d(x, sigma=s * fps, axis=0, mode="nearest")  # noqa: E731
    centre = joints_m[:, list(_CENTRE_BONES)].mean(axis=1)  # (T, 3)
    lateral = sum(joints_m[:, l] - joints_m[:, r] for l, r in _LEFT_RIGHT_PAIRS)  # body +x, (T, 3)
    forward = np.cross(lateral, np.array([0.0, 1.0, 0.0]))  # x cross y = z: the body's forward
    forward[:, 1] = 0.0
    forward /= np.linalg.norm(forward, axis=1, keepdims=True) + 1e-9
    forward = smooth(forward, 0.75)
    return _Dancer(centre_raw=centre, centre=smooth(centre, 0.25),
                   heading=np.unwrap(np.arctan2(forward[:, 0], forward[:, 2])),
                   head_y=smooth(joints_m[:, _HEAD_BONE, 1], 0.25), pelvis_y=smooth(joints_m[:, PELVIS_BONE, 1], 0.25))


def _energy(truth, frames: np.ndarray, fps: float) -> np.ndarray:
    """Section energy at ``frames`` clipped to [0, 1]."""
    return np.clip(np.asarray(truth.energy_at(np.asarray(frames, dtype=np.float64) / fps), dtype=np.float64), 0, 1)


# --------------------------------------------------------------------------------------------------
# Shots
# --------------------------------------------------------------------------------------------------
def downbeat_frames(truth, num_frames: int, fps: float) -> np.ndarray:
    """Downbeat frames ``round(t * fps)`` inside ``[0, num_frames)``, sorted and unique."""
    f = np.unique(np.round(np.asarray(truth.downbeat_times, dtype=np.float64) * fps).astype(np.int64))
    return f[(f >= 0) & (f < num_frames)]


def plan_shots(truth, num_frames: int, rng: np.random.Generator, fps: float = DCM_FPS) -> np.ndarray:
    """``(S, 2)`` shot bounds: cuts on downbeats every 1-4 bars (shorter when loud), always at a section change.

    No shot is shorter than :data:`_MIN_SHOT_S`; a too-short last shot is merged into the one before.
    """
    cand = downbeat_frames(truth, num_frames, fps)
    min_len = int(round(_MIN_SHOT_S * fps))
    cand = cand[(cand >= min_len) & (cand <= num_frames - min_len)]
    section_cuts = set()
    for start, _end, *_ in truth.sections:
        f = int(round(float(start) * fps))
        if f in set(cand.tolist()):
            section_cuts.add(f)
    starts = [0]
    while True:
        s = starts[-1]
        after = cand[cand >= s + min_len]
        if len(after) == 0:
            break
        e = float(_energy(truth, np.array([s]), fps)[0])
        # loud -> 1-2 bars, quiet -> 2-4 bars
        p = (1 - e) * np.array([0.0, 0.3, 0.3, 0.4]) + e * np.array([0.3, 0.45, 0.15, 0.1])
        bars = int(rng.choice(4, p=p / p.sum())) + 1
        cut = int(after[min(bars, len(after)) - 1])
        # a section change inside the shot cuts there instead
        inside = [c for c in section_cuts if s + min_len <= c < cut]
        if inside:
            cut = min(inside)
        starts.append(cut)
    bounds = np.array([starts, starts[1:] + [num_frames]], dtype=np.int64).T
    return bounds


def _ease(u: np.ndarray) -> np.ndarray:
    """Smoothstep: zero speed at both ends of a move."""
    return u * u * (3.0 - 2.0 * u)


@dataclass
class _ShotDraw:
    """The random choices of one shot, drawn once so re-framing a shot only changes its width."""

    kind: str
    fov: int
    height_m: float
    azimuth: float
    elevation: float
    roll: float
    sweep: float
    dolly: tuple[float, float]
    drift: float


def _draw_shot(rng: np.random.Generator, energy: float, prev: _ShotDraw | None) -> _ShotDraw:
    p_kind = (1 - energy) * np.array([0.2, 0.3, 0.2, 0.3]) + energy * np.array([0.4, 0.2, 0.3, 0.1])
    kind = str(rng.choice(SHOT_KINDS, p=p_kind / p_kind.sum()))
    if prev is not None and kind == prev.kind and rng.random() < 0.6:  # variety between neighbours
        kind = str(rng.choice([k for k in SHOT_KINDS if k != kind]))
    fov = int(np.clip(round(rng.normal(24.0 + 22.0 * energy, 3.0)), 15, 60))
    height = float((2.8 - 1.3 * energy) * rng.uniform(0.9, 1.1))  # quiet: whole body and floor; loud: closer
    # azimuth relative to the dancer's facing: front, three-quarter, side, rarely behind; a new
    # shot moves the viewpoint by at least ~25 degrees (no jump cut to nearly the same view)
    options = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 1.5, -1.5, np.pi])
    weights = np.array([3.0, 2.0, 2.0, 1.5, 1.5, 0.7, 0.7, 0.2])
    if prev is not None:
        weights = np.where(np.abs(options - prev.azimuth) < 0.45, 0.0, weights)
    azimuth = float(rng.choice(options, p=weights / weights.sum()) + rng.normal(0.0, 0.08))
    elevation = float(rng.uniform(-0.05, 0.3))
    roll = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.04, 0.1)) if energy > 0.6 and rng.random() < 0.25 else 0.0
    sweep = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 1.6) * (0.6 + 0.6 * energy))
    dolly = (1.25, 0.85) if rng.random() < 0.6 else (0.85, 1.25)  # push-in is the commoner move
    drift = float(rng.uniform(-0.3, 0.3))
    return _ShotDraw(kind, fov, height, azimuth, elevation, roll, sweep, dolly, drift)


def _render_shot(draw: _ShotDraw, widen: float, a: int, b: int, dancer: _Dancer
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame ``distance (n,)`` metres, ``interest (n, 3)`` metres (pasdeux frame), ``rotation (n, 3)``,
    ``fov (n,)`` for frames ``[a, b)``."""
    n = b - a
    u = _ease(np.linspace(0.0, 1.0, n)) if n > 1 else np.zeros(1)
    half_h = 0.5 * draw.height_m * widen
    interest = dancer.centre[a:b].copy()
    if draw.kind == "static":
        # a locked-off camera on the shot's mean position, framed to hold the dancer's whole travel
        interest = np.broadcast_to(dancer.centre[a:b].mean(axis=0), (n, 3)).copy()
        excursion = np.linalg.norm((dancer.centre_raw[a:b] - interest)[:, [0, 2]], axis=1).max()
        half_h = max(half_h, excursion + 0.6 * widen)
    # height: the head sits 15 % of the frame below its top edge (wide shots centre the whole body,
    # close ones the chest), and the pelvis never nearer than 10 % to the top or bottom edge
    y = dancer.head_y[a:b] - 0.7 * half_h
    y = np.clip(y, dancer.pelvis_y[a:b] - 0.8 * half_h, dancer.pelvis_y[a:b] + 0.8 * half_h)
    interest[:, 1] = y.mean() if draw.kind == "static" else y
    tan = np.tan(np.radians(draw.fov) / 2.0)
    dist = np.full(n, half_h / tan)
    yaw0 = dancer.heading[a] + draw.azimuth
    if draw.kind == "orbit":
        yaw = yaw0 + draw.sweep * u
    elif draw.kind == "dolly":
        k0, k1 = draw.dolly
        dist = dist * (k0 + (k1 - k0) * u)
        yaw = np.full(n, yaw0)
    elif draw.kind == "track":
        yaw = dancer.heading[a:b] + draw.azimuth + draw.drift * u
    else:  # static
        yaw = np.full(n, yaw0)
    rotation = np.stack([np.full(n, -draw.elevation), yaw, np.full(n, draw.roll)], axis=1)
    return dist, interest, rotation, np.full(n, float(draw.fov))


def generate_camera(truth, joints: np.ndarray, rng: np.random.Generator, fps: float = DCM_FPS) -> CameraTruth:
    """A camera track for a dance to the song ``truth`` (a ``SongTruth``).

    Args:
        truth: the song's ground truth (``downbeat_times``, ``sections``, ``energy_at``).
        joints: ``(T, 60, 3)`` the dancer's MMD bone positions **in DCM units** (MMD units, saba's frame).
        rng: the random source (the track is a pure function of it and the inputs).
        fps: frame rate of ``joints`` and of the track (DCM: 30).

    Returns:
        a :class:`CameraTruth` whose ``track`` has ``T`` frames.
    """
    joints_dcm = np.asarray(joints, dtype=np.float64)
    if joints_dcm.ndim != 3 or joints_dcm.shape[1:] != (60, 3) or len(joints_dcm) < 2:
        raise ValueError(f"expected (T, 60, 3) MMD bone positions with T >= 2, got {joints_dcm.shape}")
    T = len(joints_dcm)
    joints_m = dcm_to_metres(joints_dcm)
    dancer = _follow_dancer(joints_m, fps)
    bounds = plan_shots(truth, T, rng, fps)

    dist = np.zeros(T)
    interest = np.zeros((T, 3))
    rotation = np.zeros((T, 3))
    fov = np.zeros(T)
    kinds: list[str] = []
    widen_used: list[float] = []
    prev: _ShotDraw | None = None
    for a, b in bounds:
        e = float(_energy(truth, np.arange(a, b), fps).mean())
        draw = _draw_shot(rng, e, prev)
        widen = 1.0
        for _ in range(_MAX_REFRAMES + 1):
            d, p, r, f = _render_shot(draw, widen, a, b, dancer)
            shot = CameraTrack(distance=-metres_to_dcm(d), interest=metres_to_mmd(p), rotation=r, fov=f, fps=fps)
            if pelvis_in_view_share(shot, joints_dcm[a:b]) == 1.0:
                break
            widen *= _WIDEN  # the pelvis left the frame: frame wider and try again
        dist[a:b], interest[a:b], rotation[a:b], fov[a:b] = shot.distance, shot.interest, shot.rotation, shot.fov
        kinds.append(draw.kind)
        widen_used.append(widen)
        prev = draw
    track = CameraTrack(distance=dist, interest=interest, rotation=rotation, fov=fov, fps=fps)
    return CameraTruth(track=track, cut_frames=bounds[1:, 0].copy(), shot_bounds=bounds, shot_kinds=kinds,
                       downbeat_frames=downbeat_frames(truth, T, fps), fps=fps,
                       extras={"reframed_shots": int(sum(w > 1.0 for w in widen_used))})
