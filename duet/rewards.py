"""Per-token rewards of the duet follower, as small functions of the decoded pair.

Arrays are numpy, ``(B, T, ...)`` over ``T = N * f`` frames for ``N`` token steps of ``f`` frames, and
every function returns ``(B, N)`` float64 (the conventions of :mod:`gpt.rewards`, whose foot-skating
and beat terms are reused):

* :func:`travel_reward` -- Duolando's lower-body term: the root velocity the lower body's tokens decode
  to (the tokenizer's root head: what the legs say the body does) against the velocity the follower's
  pelvis actually travels (the leader's plus the decoded offset's); minus their mismatch in m/s beyond
  a tolerance (Duolando rewards +1 under 0.9 m/s and minus the mismatch in cm/frame above, unbounded);
* :func:`distance_reward` -- the pelvis-to-pelvis distance kept in a plausible band: minus how far (m)
  it is outside ``[near, far]``;
* :func:`echo_reward` -- beat echo: :func:`gpt.rewards.beat_reward` with the leader's kinematic beats in
  place of the music's (a token holding a leader beat but no follower beat scores -1, others +1);
* foot skating: :func:`gpt.rewards.skating_reward` on the follower.
"""

from __future__ import annotations

import numpy as np

from gpt.rewards import beat_reward, per_token
from metrics.beat import bailando_motion_beats


def travel_reward(decoded_root_vel: np.ndarray, root: np.ndarray, fps: float, frames_per_token: int,
                  tolerance: float = 0.3) -> np.ndarray:
    """``decoded_root_vel`` ``(B, T, 3)`` metres per frame (the lower-body tokens' root head), ``root``
    ``(B, T, 3)`` the follower's pelvis: minus the mean mismatch above ``tolerance`` m/s per token."""
    actual = np.diff(root, axis=1) * fps  # (B, T-1, 3) m/s, the step t -> t + 1
    mismatch = np.linalg.norm(decoded_root_vel[:, :-1] * fps - actual, axis=-1)  # (B, T-1)
    return -per_token(np.maximum(mismatch - tolerance, 0.0), frames_per_token, "mean")


def distance_reward(leader_root: np.ndarray, follower_root: np.ndarray, frames_per_token: int,
                    near: float = 0.4, far: float = 2.0) -> np.ndarray:
    """Minus the mean horizontal distance (m) outside ``[near, far]`` between the two pelvises per token."""
    gap = follower_root - leader_root
    d = np.linalg.norm(gap[..., [0, 2]], axis=-1)  # (B, T)
    return -per_token(np.maximum(near - d, 0.0) + np.maximum(d - far, 0.0), frames_per_token, "mean")


def echo_reward(follower_joints: np.ndarray, leader_joints: np.ndarray, frames_per_token: int) -> np.ndarray:
    """Beat echo per token: the follower's kinematic beats where the leader has one."""
    B, T = leader_joints.shape[:2]
    leader_beats = np.zeros((B, T), dtype=bool)
    for b in range(B):
        leader_beats[b, bailando_motion_beats(leader_joints[b])] = True
    return beat_reward(follower_joints, leader_beats, frames_per_token)


__all__ = ["travel_reward", "distance_reward", "echo_reward"]
