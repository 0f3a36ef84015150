"""Joints (and meshes) from the user's licensed SMPL / SMPL-X model files, through ``smplx``.

pasdeux cannot ship the SMPL model files. Without them the built-in rest skeletons
(:mod:`data.skeleton`) do forward kinematics; with them, :class:`BodyModel` gives the exact joints of
any body shape and the mesh vertices (for contact metrics and rendering).

The model file is read by pasdeux, never by ``pickle.load``: official SMPL ``.pkl`` files go through
the restricted unpickler (their chumpy arrays become numpy arrays), ``.npz`` files member by member.
The arrays are then handed to ``smplx``.

Where the files go (the layout ``smplx.create`` expects)::

    MODELS/smpl/SMPL_{NEUTRAL,MALE,FEMALE}.pkl     (or .npz)
    MODELS/smplx/SMPLX_{NEUTRAL,MALE,FEMALE}.npz   (or .pkl)

``MODELS`` itself, or the ``smpl``/``smplx`` folder, or the file, may be given.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from data.errors import InputError
from data.io import load_npz_any, load_pickle

MODEL_TYPES = {"smpl": ("SMPL", 24), "smplx": ("SMPLX", 55)}
_DOWNLOAD = {"smpl": "https://smpl.is.tue.mpg.de", "smplx": "https://smpl-x.is.tue.mpg.de"}


def find_model_file(model_path: str | os.PathLike, model_type: str, gender: str) -> Path:
    """Resolve a folder or file to the model file for ``model_type`` and ``gender``."""
    if model_type not in MODEL_TYPES:
        raise ValueError(f"model_type must be one of {sorted(MODEL_TYPES)}, got {model_type!r}")
    p = Path(model_path)
    if p.is_file():
        return p
    prefix = MODEL_TYPES[model_type][0]
    for folder in (p / model_type, p):
        for ext in ("npz", "pkl"):
            candidate = folder / f"{prefix}_{gender.upper()}.{ext}"
            if candidate.is_file():
                return candidate
    raise InputError(p, f"no {prefix}_{gender.upper()}.npz/.pkl model file here or in {p / model_type}",
                     f"download the {prefix} model files from {_DOWNLOAD[model_type]} (licence "
                     f"required) and place them as {p / model_type}/{prefix}_{gender.upper()}.npz")


def read_model_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an SMPL/SMPL-X model file into plain numpy arrays, without running any pickled code."""
    p = Path(path)
    if p.suffix == ".npz":
        data = load_npz_any(p)
    elif p.suffix == ".pkl":
        data = load_pickle(p)
    else:
        raise InputError(p, f"unknown model file type '{p.suffix}'", "use the official .npz or .pkl file")
    if not isinstance(data, dict):
        raise InputError(p, "model file does not hold a dict of arrays", "use the official model file")
    out = {}
    for key, value in data.items():
        if hasattr(value, "todense"):  # scipy.sparse J_regressor in the SMPL pickles
            value = np.asarray(value.todense())
        if isinstance(value, np.ndarray) and value.dtype != object:
            out[key] = value
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "kintree_table", "weights", "f"):
        if key not in out:
            raise InputError(p, f"model file lacks '{key}'", "use the official SMPL/SMPL-X model file")
    return out


class BodyModel(torch.nn.Module):
    """SMPL (24 joints) or SMPL-X (55 joints) from model files, in pasdeux's joint conventions.

    Args:
        model_path: the models folder, the ``smpl``/``smplx`` folder, or the model file.
        model_type: ``smpl`` or ``smplx``.
        gender: ``neutral``, ``male`` or ``female``.
        num_betas: shape coefficients used.
    """

    def __init__(self, model_path: str | os.PathLike, model_type: str = "smpl",
                 gender: str = "neutral", num_betas: int = 10) -> None:
        super().__init__()
        import smplx

        self.model_type = model_type
        self.num_joints = MODEL_TYPES[model_type][1]
        self.model_file = find_model_file(model_path, model_type, gender)
        arrays = read_model_file(self.model_file)
        if arrays["J_regressor"].shape[0] < self.num_joints:
            raise InputError(self.model_file, f"J_regressor has {arrays['J_regressor'].shape[0]} "
                             f"joints, a {model_type} model has {self.num_joints}",
                             f"pass the {MODEL_TYPES[model_type][0]} model file")
        if model_type == "smpl":
            self.body = smplx.SMPL(model_path=str(self.model_file.parent), gender=gender,
                                   num_betas=num_betas, data_struct=smplx.utils.Struct(**arrays))
        else:
            # smplx.SMPLX always loads from a path (with pickle allowed); give it a file holding only
            # the plain arrays we already validated, so nothing pickled is ever read by it.
            with tempfile.TemporaryDirectory() as tmp:
                clean = Path(tmp) / f"SMPLX_{gender.upper()}.npz"
                np.savez(clean, **arrays)
                self.body = smplx.SMPLX(model_path=str(clean), gender=gender, num_betas=num_betas,
                                        use_pca=False, flat_hand_mean=True, ext="npz")
        self.num_betas = num_betas
        self.body.requires_grad_(False)

    @property
    def faces(self) -> np.ndarray:
        return np.asarray(self.body.faces, dtype=np.int64)

    def _pose_kwargs(self, rotations: torch.Tensor, translation: torch.Tensor,
                     betas: torch.Tensor | None) -> dict:
        B = rotations.shape[0]
        dtype = self.body.shapedirs.dtype
        rot = rotations.reshape(B, self.num_joints, 3).to(dtype)
        if betas is None:
            betas = torch.zeros(B, self.num_betas, dtype=dtype)
        betas = torch.as_tensor(betas, dtype=dtype).reshape(-1, betas.shape[-1])[:, : self.num_betas]
        betas = betas.expand(B, -1)
        kw = dict(global_orient=rot[:, 0], transl=translation.to(dtype), betas=betas)
        if self.model_type == "smpl":
            kw["body_pose"] = rot[:, 1:24].reshape(B, 69)
        else:
            kw.update(body_pose=rot[:, 1:22].reshape(B, 63), jaw_pose=rot[:, 22], leye_pose=rot[:, 23],
                      reye_pose=rot[:, 24], left_hand_pose=rot[:, 25:40].reshape(B, 45),
                      right_hand_pose=rot[:, 40:55].reshape(B, 45),
                      expression=torch.zeros(B, self.body.num_expression_coeffs, dtype=dtype))
        return kw

    @torch.no_grad()
    def forward(self, rotations, translation, betas=None) -> tuple[np.ndarray, np.ndarray]:
        """Joints and vertices.

        Args:
            rotations: (T, J, 3) local axis-angle rotations (J = 24 for SMPL, 55 for SMPL-X).
            translation: (T, 3) root translation (``transl``).
            betas: optional (num_betas,) or (T, >=num_betas) shape coefficients.

        Returns:
            joints (T, J, 3) and vertices (T, V, 3), numpy, metres.
        """
        rot = torch.as_tensor(np.asarray(rotations), dtype=torch.float32)
        trans = torch.as_tensor(np.asarray(translation), dtype=torch.float32)
        if rot.ndim != 3 or rot.shape[1:] != (self.num_joints, 3) or trans.shape != (rot.shape[0], 3):
            raise ValueError(f"expected rotations (T, {self.num_joints}, 3) and translation (T, 3), "
                             f"got {tuple(rot.shape)} and {tuple(trans.shape)}")
        b = None if betas is None else torch.as_tensor(np.asarray(betas), dtype=torch.float32)
        out = self.body(**self._pose_kwargs(rot, trans, b), return_verts=True)
        return out.joints[:, : self.num_joints].numpy(), out.vertices.numpy()

    def joints(self, rotations, translation, betas=None) -> np.ndarray:
        """(T, J, 3) joint positions; see :meth:`forward`."""
        return self.forward(rotations, translation, betas)[0]


GENDERS = ("neutral", "female", "male")


class BodyModels:
    """Body models of one type, one per gender, read from one folder when first needed: the model for
    a motion is its ``extras["gender"]``'s (DD100 files carry it; Duolando's preprocessing uses the
    gendered models), the neutral one for a motion without a gender. A gender whose file is missing
    is an error naming the file, not a silent neutral.

    Args:
        model_path: the folder (``<path>/<type>/SMPLX_<GENDER>.npz`` or ``<path>/SMPLX_<GENDER>.npz``).
        model_type: ``smpl`` or ``smplx``.
    """

    def __init__(self, model_path: str | os.PathLike, model_type: str = "smplx") -> None:
        self.model_path, self.model_type = Path(model_path), model_type
        self._models: dict[str, BodyModel] = {}
        if not any(self._has(g) for g in GENDERS):  # fail now, naming the neutral file, not mid-run
            find_model_file(self.model_path, model_type, "neutral")

    def _has(self, gender: str) -> bool:
        try:
            find_model_file(self.model_path, self.model_type, gender)
            return True
        except InputError:
            return False

    def get(self, gender: str | None) -> BodyModel:
        g = (gender or "neutral").lower()
        if g not in GENDERS:
            raise InputError(None, f"unknown body-model gender {gender!r}", f"use one of {', '.join(GENDERS)}")
        if g not in self._models:
            self._models[g] = BodyModel(self.model_path, self.model_type, gender=g)
        return self._models[g]

    def for_motion(self, motion) -> BodyModel:
        return self.get(motion.extras.get("gender"))

    def joints(self, motion) -> np.ndarray:
        """``(T, J, 3)`` joints of a motion with rotations: its gender's model, its betas (mean shape
        without)."""
        if motion.rotations is None:
            raise ValueError(f"{motion.name or 'motion'}: body-model joints need joint rotations")
        return self.for_motion(motion).joints(motion.rotations, motion.root, motion.extras.get("betas"))
