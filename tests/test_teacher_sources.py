"""load_teacher: zips, RL Zoo run folders, Hub ids from the local cache, and safe loading."""

from __future__ import annotations

import base64
import json
import os
import pickle
import shutil
import time
import zipfile

import numpy as np
import pytest
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from sb3_distill import PPD, load_teacher
from sb3_distill.common.safe_loading import UnsafePickleError

OBSERVATIONS = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)


@pytest.fixture(scope="module")
def cartpole_model(tmp_path_factory):
    """A small PPO teacher and statistics with a non-trivial mean, saved once."""
    folder = tmp_path_factory.mktemp("model")
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=64, seed=0, policy_kwargs={"net_arch": [16]})
    model.learn(128)
    model.save(folder / "model.zip")
    stats = VecNormalize(make_vec_env("CartPole-v1"), training=False, norm_reward=False)
    stats.obs_rms.mean = np.array([1.0, -1.0, 0.5, 0.0])
    stats.obs_rms.var = np.array([4.0, 1.0, 0.25, 9.0])
    stats.save(str(folder / "stats.pkl"))
    return model, folder / "model.zip", folder / "stats.pkl"


def labels(teacher) -> np.ndarray:
    return teacher.label(OBSERVATIONS)[0].numpy()


def test_zip_gives_the_same_teacher_as_the_model(cartpole_model):
    model, path, _ = cartpole_model
    np.testing.assert_allclose(labels(load_teacher(str(path))), labels(load_teacher(model)), atol=1e-6)
    assert load_teacher(str(path)).source == str(path)


@pytest.mark.parametrize("algorithm", [PPO, A2C], ids=lambda a: a.__name__)
def test_actor_critic_algorithms_detected_from_the_zip(algorithm, tmp_path):
    """The algorithm is not asked for: the zip's policy class says how to rebuild the teacher."""
    model = algorithm("MlpPolicy", "Pendulum-v1", use_sde=True, seed=0)
    model.save(tmp_path / "teacher.zip")
    teacher = load_teacher(str(tmp_path / "teacher.zip"))
    observations = np.random.default_rng(1).normal(size=(8, 3)).astype(np.float32)
    np.testing.assert_allclose(teacher.label(observations)[0], load_teacher(model).label(observations)[0], atol=1e-6)


def make_zoo_run(root, model_path, stats_path, with_final=True, with_best=True):
    """The layout rl_zoo3.train writes: logs/ppo/CartPole-v1_1/{CartPole-v1.zip, best_model.zip, CartPole-v1/...}."""
    run = root / "logs" / "ppo" / "CartPole-v1_1"
    (run / "CartPole-v1").mkdir(parents=True)
    if with_final:
        shutil.copy(model_path, run / "CartPole-v1.zip")
    if with_best:
        best = PPO("MlpPolicy", "CartPole-v1", seed=5, policy_kwargs={"net_arch": [16]})
        best.save(run / "best_model.zip")
    shutil.copy(stats_path, run / "CartPole-v1" / "vecnormalize.pkl")
    (run / "CartPole-v1" / "config.yml").write_text("!!python/object/apply:collections.OrderedDict\n- []\n")
    (run / "CartPole-v1" / "args.yml").write_text("!!python/object/apply:collections.OrderedDict\n- []\n")
    return run


def test_zoo_run_folder_final_and_best_with_statistics(cartpole_model, tmp_path):
    model, path, stats = cartpole_model
    run = make_zoo_run(tmp_path, path, stats)
    teacher = load_teacher(str(run))
    assert teacher.source.endswith("CartPole-v1_1/CartPole-v1.zip")
    assert teacher.obs_normalizer is not None and not teacher.obs_normalizer.is_identity
    expected = load_teacher(model, teacher_vecnormalize=str(stats))
    np.testing.assert_allclose(labels(teacher), labels(expected), atol=1e-6)
    best = load_teacher(str(run), best=True)
    assert best.source.endswith("best_model.zip")
    assert not np.allclose(labels(best), labels(teacher))
    assert not best.obs_normalizer.is_identity  # the run's statistics serve its best model too


def test_zoo_folder_without_model_is_named(cartpole_model, tmp_path):
    _, path, stats = cartpole_model
    run = make_zoo_run(tmp_path, path, stats, with_final=False)
    with pytest.raises(FileNotFoundError, match=r"CartPole-v1_1.*has no CartPole-v1.zip.*best_model.zip.*best=True"):
        load_teacher(str(run))
    empty = tmp_path / "logs" / "ppo" / "Acrobot-v1_2"
    empty.mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"Acrobot-v1_2.*has no Acrobot-v1.zip \(zips there: none\)"):
        load_teacher(str(empty))


def fill_hub_cache(cache, repo_id: str, files: dict[str, bytes]) -> None:
    """Lay files out as huggingface_hub's cache does: blobs by hash, a snapshot of links, refs/main."""
    import hashlib

    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name, content in files.items():
        blob = repo / "blobs" / hashlib.sha256(content).hexdigest()
        blob.write_bytes(content)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / name)


def test_hub_id_from_the_local_cache(cartpole_model, tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    from huggingface_hub import constants

    model, path, stats = cartpole_model
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    fill_hub_cache(
        tmp_path / "hub",
        "sb3/ppo-CartPole-v1",
        {
            "ppo-CartPole-v1.zip": path.read_bytes(),
            "vec_normalize.pkl": stats.read_bytes(),
            "config.yml": b"{}",
        },
    )
    teacher = load_teacher("hf://sb3/ppo-CartPole-v1")
    assert teacher.source == "hf://sb3/ppo-CartPole-v1"
    np.testing.assert_allclose(labels(teacher), labels(load_teacher(model, teacher_vecnormalize=str(stats))), atol=1e-6)
    student = PPD(
        "MlpPolicy", make_vec_env("CartPole-v1", n_envs=2), n_steps=32, batch_size=64, teacher="hf://sb3/ppo-CartPole-v1"
    )
    assert student.teacher_source == "hf://sb3/ppo-CartPole-v1"


def test_hub_id_without_cache_fails_fast_with_advice(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    start = time.monotonic()
    with pytest.raises(
        FileNotFoundError, match=r"hf://someone/ppo-Nothing-v0 is not in the Hub cache.*hf download someone/ppo-Nothing-v0"
    ):
        load_teacher("hf://someone/ppo-Nothing-v0")
    assert time.monotonic() - start < 60, "no network must not mean a hang"
    with pytest.raises(ValueError, match="hf://ORG/REPO"):
        load_teacher("hf://just-a-name")


class _Payload:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_zip_with_a_code_payload_is_refused_and_nothing_runs(cartpole_model, tmp_path):
    _, path, _ = cartpole_model
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(evil, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "data":
                data = json.loads(content)
                data["policy_kwargs"] = {
                    ":type:": "<class 'dict'>",
                    ":serialized:": base64.b64encode(pickle.dumps(_Payload(str(marker)))).decode(),
                }
                content = json.dumps(data).encode()
            target.writestr(item, content)
    with pytest.raises(
        UnsafePickleError, match=r"posix\.system.*evil\.zip.*'policy_kwargs'.*trust_pickle=True.*--trust-pickle"
    ):
        load_teacher(str(evil))
    with pytest.raises(UnsafePickleError):
        PPD("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2), teacher=str(evil))
    assert not marker.exists()


def test_statistics_file_with_a_payload_is_refused(cartpole_model, tmp_path):
    _, path, _ = cartpole_model
    marker = tmp_path / "pwned"
    (tmp_path / "vecnormalize.pkl").write_bytes(pickle.dumps(_Payload(str(marker))))
    shutil.copy(path, tmp_path / "teacher.zip")
    with pytest.raises(UnsafePickleError, match=r"posix\.system.*vecnormalize\.pkl"):
        load_teacher(str(tmp_path / "teacher.zip"))
    assert not marker.exists()


def test_custom_class_defined_by_value_needs_trust(tmp_path):
    """A policy class cloudpickled by value (defined in a script) is outside the allow-list; trust_pickle loads it."""
    import cloudpickle
    from stable_baselines3.common.policies import ActorCriticPolicy

    model = PPO("MlpPolicy", "CartPole-v1", seed=0, policy_kwargs={"net_arch": [8]})
    model.save(tmp_path / "teacher.zip")
    local_class = type("ScriptPolicy", (ActorCriticPolicy,), {"__module__": "__main__"})
    with zipfile.ZipFile(tmp_path / "teacher.zip") as source, zipfile.ZipFile(tmp_path / "custom.zip", "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "data":
                data = json.loads(content)
                data["policy_class"][":serialized:"] = base64.b64encode(cloudpickle.dumps(local_class)).decode()
                content = json.dumps(data).encode()
            target.writestr(item, content)
    with pytest.raises(UnsafePickleError, match="trust_pickle"):
        load_teacher(str(tmp_path / "custom.zip"))
    trusted = load_teacher(str(tmp_path / "custom.zip"), trust_pickle=True)
    assert type(trusted.policy).__name__ == "ScriptPolicy"


def test_env_spaces_checked_at_load(cartpole_model):
    _, path, _ = cartpole_model
    load_teacher(str(path), env=make_vec_env("CartPole-v1"))
    with pytest.raises(ValueError, match=r"teacher Discrete\(2\), student Discrete\(3\)"):
        load_teacher(str(path), env=make_vec_env("Acrobot-v1"))
