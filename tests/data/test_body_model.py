"""The smplx path (user-supplied model files) against the built-in rest-skeleton FK.

The tests write small model files in smplx's own format themselves: the real mesh sizes (6890 /
10475 vertices, which smplx's extra-joint selectors index into), the rest joints of the shipped
skeleton as the template's regressed joints, and no shape or pose blend shapes. smplx's joints must
then equal pasdeux's FK to float32 precision.
"""

import pickle

import numpy as np
import pytest

from data.body_model import BodyModel, find_model_file
from data.errors import InputError
from data.fk import forward_kinematics_np
from data.skeleton import get_skeleton


def write_model_file(path, skeleton_name: str, num_vertices: int, pose_basis: int,
                     shape_dim: int, extra: dict | None = None, fmt: str = "npz") -> None:
    sk = get_skeleton(skeleton_name)
    J = sk.num_joints
    rng = np.random.default_rng(0)
    v_template = rng.normal(scale=0.3, size=(num_vertices, 3))
    v_template[:J] = sk.rest_joints()  # the first J vertices sit on the joints...
    J_regressor = np.zeros((J, num_vertices))
    J_regressor[np.arange(J), np.arange(J)] = 1.0  # ...and the regressor picks exactly them
    weights = np.zeros((num_vertices, J))
    weights[np.arange(num_vertices), np.minimum(np.arange(num_vertices), J - 1)] = 1.0
    kintree = np.array([[2**32 - 1] + list(sk.parents[1:]), list(range(J))], dtype=np.int64)
    arrays = dict(
        v_template=v_template, J_regressor=J_regressor, weights=weights, kintree_table=kintree,
        shapedirs=np.zeros((num_vertices, 3, shape_dim)), posedirs=np.zeros((num_vertices, 3, pose_basis)),
        f=np.array([[0, 1, 2], [1, 2, 3]], dtype=np.int64), **(extra or {}))
    if fmt == "npz":
        np.savez(path, **arrays)
    else:
        with open(path, "wb") as fh:
            pickle.dump(arrays, fh, protocol=2)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    (root / "smpl").mkdir()
    (root / "smplx").mkdir()
    write_model_file(root / "smpl" / "SMPL_NEUTRAL.pkl", "smpl24", 6890, 23 * 9, 10, fmt="pkl")
    hands = dict(hands_componentsl=np.eye(45), hands_componentsr=np.eye(45),
                 hands_meanl=np.zeros(45), hands_meanr=np.zeros(45),
                 lmk_faces_idx=np.zeros(51, dtype=np.int64), lmk_bary_coords=np.full((51, 3), 1 / 3),
                 joint2num=np.array({"pelvis": 0}, dtype=object))  # object members must be tolerated
    write_model_file(root / "smplx" / "SMPLX_NEUTRAL.npz", "smplx55", 10475, 54 * 9, 20, extra=hands)
    return root


@pytest.mark.parametrize("model_type,skeleton", [("smpl", "smpl24"), ("smplx", "smplx55")])
def test_smplx_joints_match_builtin_fk(models, model_type, skeleton):
    sk = get_skeleton(skeleton)
    rng = np.random.default_rng(1)
    rotations = rng.normal(scale=0.5, size=(6, sk.num_joints, 3))
    translation = rng.normal(scale=0.5, size=(6, 3))
    body = BodyModel(models, model_type=model_type)
    joints_smplx = body.joints(rotations, translation)
    joints_fk = forward_kinematics_np(sk, rotations, translation)
    assert joints_smplx.shape == (6, sk.num_joints, 3)
    assert np.abs(joints_smplx - joints_fk).max() < 1e-5


def test_vertices_follow_their_joint(models):
    # Every vertex is skinned rigidly to one joint here, so a vertex that sits on a joint in the
    # template stays on that joint after posing.
    sk = get_skeleton("smpl24")
    body = BodyModel(models / "smpl", model_type="smpl")
    rotations = np.random.default_rng(2).normal(scale=0.4, size=(3, 24, 3))
    joints, vertices = body(rotations, np.zeros((3, 3)))
    assert vertices.shape == (3, 6890, 3)
    assert np.abs(vertices[:, :24] - joints).max() < 1e-5
    assert body.faces.shape == (2, 3)
    assert sk.num_joints == joints.shape[1]


def test_missing_model_file_names_the_fix(tmp_path):
    with pytest.raises(InputError, match=r"SMPLX_FEMALE.*smpl-x.is.tue.mpg.de"):
        find_model_file(tmp_path, "smplx", "female")


def test_model_pickle_that_runs_code_is_refused(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps({"v_template": Evil()}))
    with pytest.raises(InputError, match="refusing to load global"):
        BodyModel(path, model_type="smpl")
    assert not marker.exists()
