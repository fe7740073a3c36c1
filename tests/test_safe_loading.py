"""One safe reader for every file the project loads: no code runs from a teacher, a student or a run folder.

Every payload here is harmless: unpickling it would create a marker folder, and each test checks that the
marker never appears.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import sys
import zipfile

import numpy as np
import pytest
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from sb3_distill import PPD, load_teacher
from sb3_distill.common.safe_loading import DamagedFileError, UnsafePickleError, load_model
from sb3_distill.runs.checkpoints import MANIFEST, STUDENT, checkpoints, read_checkpoint


class MarkerPayload:
    """Unpickling this runs ``os.mkdir(marker)``: the marker's existence shows that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def serialized(payload: bytes) -> dict:
    """A ``data`` entry as SB3 writes a pickled attribute."""
    return {":type:": "<class 'function'>", ":serialized:": base64.b64encode(payload).decode()}


def rewrite_zip(path, replacements: dict) -> None:
    """Replace entries of the zip at ``path``: name -> new bytes, or a function of the old bytes."""
    with zipfile.ZipFile(path) as source:
        entries = [(item, source.read(item.filename)) for item in source.infolist()]
    with zipfile.ZipFile(path, "w") as target:
        for item, content in entries:
            replacement = replacements.get(item.filename, content)
            target.writestr(item, replacement(content) if callable(replacement) else replacement)


def with_data_entry(key: str, value) -> dict:
    def change(content: bytes) -> bytes:
        data = json.loads(content)
        data[key] = value
        return json.dumps(data).encode()

    return {"data": change}


def flip_a_byte(path, member: str) -> None:
    """Flip one byte in the middle of ``member``'s stored bytes (the zip's directory stays intact)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    content = bytearray(open(path, "rb").read())
    name_length, extra_length = struct.unpack("<HH", content[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    content[start + info.compress_size // 2] ^= 0xFF
    open(path, "wb").write(bytes(content))


def reseal(folder) -> None:
    """Update a checkpoint's manifest to its files' new sizes and hashes, so that it counts as intact."""
    manifest_path = os.path.join(folder, MANIFEST)
    manifest = json.load(open(manifest_path))
    for name in manifest["files"]:
        content = open(os.path.join(folder, name), "rb").read()
        manifest["files"][name] = {"bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}
    json.dump(manifest, open(manifest_path, "w"))
    assert read_checkpoint(str(folder)) is not None


@pytest.fixture(scope="module")
def teacher_zip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("teacher")
    PPO("MlpPolicy", "CartPole-v1", seed=0, policy_kwargs={"net_arch": [8]}).save(folder / "teacher.zip")
    return folder / "teacher.zip"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A real run folder of the bundled CartPole teacher (a few seconds)."""
    from sb3_distill.experiment import DistillConfig, distill

    run = tmp_path_factory.mktemp("finished") / "run"
    distill(DistillConfig(steps=1024, n_envs=4, checkpoint_every=512, eval_episodes=1), str(run), verbose=0)
    return run


@pytest.fixture
def interrupted_run(finished_run, tmp_path):
    """A copy of the run as if killed after its first checkpoint: ``(run folder, that checkpoint's folder)``."""
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    first, *later = checkpoints(str(run))
    for folder in later:
        shutil.rmtree(folder)
    for name in ("results.json", STUDENT):  # written when a run ends
        if os.path.exists(run / name):
            os.remove(run / name)
    assert read_checkpoint(first) is not None
    return run, first


def test_resume_refuses_a_checkpoint_student_with_a_payload(interrupted_run, tmp_path, capsys):
    from sb3_distill import experiment
    from sb3_distill.cli.main import main

    run, checkpoint = interrupted_run
    marker = tmp_path / "marker"
    rewrite_zip(
        os.path.join(checkpoint, STUDENT), with_data_entry("lr_schedule", serialized(pickle.dumps(MarkerPayload(marker))))
    )
    reseal(checkpoint)

    with pytest.raises(UnsafePickleError, match=r"posix\.mkdir.*student\.zip \(entry 'lr_schedule'\).*trust_pickle=True"):
        experiment.resume(str(run), verbose=0)
    assert not marker.exists()

    assert main(["distill", "--resume", str(run), "--no-progress"]) == 2
    error = capsys.readouterr().err.strip()
    assert "posix.mkdir" in error and "student.zip" in error and "trust_pickle=True" in error
    assert len(error.splitlines()) == 1, error
    assert not marker.exists()


def test_a_manifest_cannot_grant_trust_pickle_to_the_teacher_it_names(interrupted_run, tmp_path):
    """Trust comes from the caller: a run folder whose manifest says trust_pickle=True is read as any other."""
    from sb3_distill import experiment

    run, checkpoint = interrupted_run
    marker = tmp_path / "marker"
    manifest_path = os.path.join(checkpoint, MANIFEST)
    manifest = json.load(open(manifest_path))
    evil = run / "teacher.zip"
    shutil.copy(manifest["teacher"]["source"], evil)
    rewrite_zip(evil, with_data_entry("policy_kwargs", serialized(pickle.dumps(MarkerPayload(marker)))))
    manifest["teacher"].update(source=str(evil), trust_pickle=True)
    manifest["config"].update(teacher=str(evil), trust_pickle=True)
    json.dump(manifest, open(manifest_path, "w"))
    with pytest.raises(UnsafePickleError, match=r"posix\.mkdir.*run/teacher\.zip.*cannot grant itself"):
        experiment.resume(str(run), verbose=0)
    assert not marker.exists()


@pytest.mark.parametrize("key", ["lr_schedule", "policy_kwargs", "observation_space", "_last_obs", "ep_info_buffer"])
def test_load_model_refuses_a_payload_in_any_entry(interrupted_run, tmp_path, key):
    _, checkpoint = interrupted_run
    marker = tmp_path / "marker"
    student = os.path.join(checkpoint, STUDENT)
    rewrite_zip(student, with_data_entry(key, serialized(pickle.dumps(MarkerPayload(marker)))))
    with pytest.raises(UnsafePickleError, match=rf"posix\.mkdir.*student\.zip \(entry '{key}'\)"):
        load_model(PPD, student, env=make_vec_env("CartPole-v1", n_envs=4))
    assert not marker.exists()


def test_load_model_restores_what_sb3_load_restores(interrupted_run):
    _, checkpoint = interrupted_run
    student = os.path.join(checkpoint, STUDENT)
    expected = PPD.load(student, env=make_vec_env("CartPole-v1", n_envs=4))  # our own file: SB3's loader is fine here
    for trust_pickle in (False, True):
        loaded = load_model(PPD, student, env=make_vec_env("CartPole-v1", n_envs=4), trust_pickle=trust_pickle)
        assert sorted(loaded.__dict__) == sorted(expected.__dict__)
        assert loaded.num_timesteps == expected.num_timesteps == 512
        assert loaded._last_obs is None and loaded.n_envs == 4
        assert loaded.lr_schedule(0.3) == expected.lr_schedule(0.3)
        assert list(loaded.ep_info_buffer) == list(expected.ep_info_buffer)
        for name, tensor in expected.policy.state_dict().items():
            th.testing.assert_close(loaded.policy.state_dict()[name], tensor)
        moments, expected_moments = loaded.policy.optimizer.state_dict(), expected.policy.optimizer.state_dict()
        assert moments["param_groups"] == expected_moments["param_groups"]
        for index, state in expected_moments["state"].items():
            for name, value in state.items():
                th.testing.assert_close(moments["state"][index][name], value)


def test_a_module_named_in_a_teacher_pickle_is_not_imported(teacher_zip, tmp_path, monkeypatch):
    """The gadget: a pickle that only names a module (whose import has an effect) under an allowed package."""
    marker = tmp_path / "marker"
    extension = tmp_path / "numpy_extension"
    extension.mkdir()
    (extension / "sb3_distill_gadget.py").write_text(f"import os\nos.mkdir({str(marker)!r})\n\nclass Space:\n    pass\n")
    monkeypatch.setattr(np, "__path__", [*np.__path__, str(extension)])  # numpy.sb3_distill_gadget can be imported
    name = "numpy.sb3_distill_gadget"
    evil = tmp_path / "gadget.zip"
    shutil.copy(teacher_zip, evil)
    rewrite_zip(evil, with_data_entry("policy_kwargs", serialized(b"c" + name.encode() + b"\nSpace\n.")))
    try:
        with pytest.raises(UnsafePickleError, match=rf"{name}\.Space.*gadget\.zip.*'policy_kwargs'"):
            load_teacher(str(evil))
        assert name not in sys.modules
        assert not marker.exists()
    finally:
        sys.modules.pop(name, None)


def test_numpy_f2py_main_is_not_run(teacher_zip, tmp_path, monkeypatch):
    """The case of the report: naming ``numpy.f2py.__main__`` ran numpy's f2py tool."""
    monkeypatch.setattr(sys, "argv", ["f2py"])  # were it run: print its usage and exit, nothing else
    monkeypatch.delitem(sys.modules, "numpy.f2py.__main__", raising=False)
    evil = tmp_path / "f2py.zip"
    shutil.copy(teacher_zip, evil)
    rewrite_zip(evil, with_data_entry("policy_kwargs", serialized(b"cnumpy.f2py.__main__\nmain\n.")))
    with pytest.raises(UnsafePickleError, match=r"numpy\.f2py\.__main__\.main.*f2py\.zip"):
        load_teacher(str(evil))
    assert "numpy.f2py.__main__" not in sys.modules


def torch_payload(marker) -> bytes:
    buffer = io.BytesIO()
    th.save({"weight": MarkerPayload(marker)}, buffer)
    return buffer.getvalue()


def assert_pth_refused(error: pytest.ExceptionInfo, archive: str, member: str) -> None:
    message = str(error.value)
    assert archive in message and repr(member) in message
    assert "holds more than tensors" in message and "trust_pickle=True" in message
    assert "weights_only" not in message, "must not suggest the one option that would run the payload"
    assert len(message.splitlines()) == 1, message


def test_a_pth_payload_is_refused_without_suggesting_weights_only_false(teacher_zip, interrupted_run, tmp_path):
    marker = tmp_path / "marker"
    evil = tmp_path / "teacher.zip"
    shutil.copy(teacher_zip, evil)
    rewrite_zip(evil, {"policy.pth": torch_payload(marker)})
    with pytest.raises(UnsafePickleError) as error:
        load_teacher(str(evil))
    assert_pth_refused(error, str(evil), "policy.pth")

    _, checkpoint = interrupted_run
    student = os.path.join(checkpoint, STUDENT)
    rewrite_zip(student, {"policy.optimizer.pth": torch_payload(marker)})
    with pytest.raises(UnsafePickleError) as error:
        load_model(PPD, student)
    assert_pth_refused(error, student, "policy.optimizer.pth")
    assert not marker.exists()


@pytest.mark.parametrize("member", ["data", "policy.pth"])
def test_a_byte_flipped_zip_is_named_in_one_line(teacher_zip, interrupted_run, tmp_path, member):
    damaged = tmp_path / "teacher.zip"
    shutil.copy(teacher_zip, damaged)
    flip_a_byte(damaged, member)
    with pytest.raises(DamagedFileError, match=rf"{member!r} of .*teacher\.zip.*damaged") as error:
        load_teacher(str(damaged))
    assert len(str(error.value).splitlines()) == 1

    _, checkpoint = interrupted_run
    student = os.path.join(checkpoint, STUDENT)
    flip_a_byte(student, member)
    with pytest.raises(DamagedFileError, match=rf"{member!r} of .*student\.zip.*damaged") as error:
        load_model(PPD, student)
    assert len(str(error.value).splitlines()) == 1


def test_a_damaged_checkpoint_student_is_named_on_resume(interrupted_run):
    """A student.zip damaged together with its manifest (so the checkpoint looks intact)."""
    from sb3_distill import experiment

    run, checkpoint = interrupted_run
    flip_a_byte(os.path.join(checkpoint, STUDENT), "policy.pth")
    reseal(checkpoint)
    with pytest.raises(DamagedFileError, match=r"'policy\.pth' of .*step-\d+/student\.zip.*damaged"):
        experiment.resume(str(run), verbose=0)


def test_a_truncated_zip_is_named(teacher_zip, tmp_path):
    truncated = tmp_path / "teacher.zip"
    content = teacher_zip.read_bytes()
    truncated.write_bytes(content[: len(content) // 2])
    with pytest.raises(DamagedFileError, match=r"teacher\.zip.*not a zip archive, or it is damaged or truncated"):
        load_teacher(str(truncated))
    with pytest.raises(DamagedFileError, match=r"teacher\.zip.*truncated"):
        load_model(PPO, truncated)
