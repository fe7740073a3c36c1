"""``sb3-distill package``: a finished run as a Hub-ready folder, checked with real components (no mocks).

One short CartPole run is distilled for the module, and packaged once through the command line; the tests
read that folder back as its users would (``PPO.load``, ``VecNormalize.load``, a YAML parser, the ONNX figures).
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
import yaml
from stable_baselines3 import PPO
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecNormalize

from sb3_distill.cli.main import main
from sb3_distill.deploy.package import PackageError, package
from sb3_distill.evaluation import evaluation_env
from sb3_distill.experiment import DistillConfig, distill

ENV = "CartPole-v1"
NAME = "ppo-CartPole-v1"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = str(tmp_path_factory.mktemp("package") / "run")
    distill(
        DistillConfig(env=ENV, method="ppd", steps=2048, n_envs=4, eval_episodes=3, normalize=True),
        out_dir=folder,
        verbose=0,
    )
    return folder


@pytest.fixture(scope="module")
def results(run_dir: str) -> dict:
    with open(os.path.join(run_dir, "results.json")) as file:
        return json.load(file)


@pytest.fixture(scope="module")
def packaged(run_dir: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The run packaged through the command line, as a user would."""
    out = str(tmp_path_factory.mktemp("package") / "hub")
    assert main(["package", run_dir, "--out", out]) == 0
    return out


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n", 2)[1])


def test_folder_has_the_zoo_layout(packaged: str) -> None:
    expected = {
        f"{NAME}.zip",
        "vec_normalize.pkl",
        "config.yml",
        "args.yml",
        "env_kwargs.yml",
        "train_eval_metrics.zip",
        "config.json",
        f"{NAME}.onnx",
        f"{NAME}.onnx.json",
        "README.md",
    }
    assert set(os.listdir(packaged)) == expected  # no temporary files left behind
    with open(os.path.join(packaged, "config.yml")) as file:
        hyperparams = yaml.safe_load(file)
    assert hyperparams["normalize"] is True and hyperparams["policy"] == "MlpPolicy"


def test_zip_and_statistics_reproduce_the_students_score(packaged: str, results: dict) -> None:
    model = PPO.load(os.path.join(packaged, f"{NAME}.zip"), device="cpu")
    env = VecNormalize.load(os.path.join(packaged, "vec_normalize.pkl"), evaluation_env(ENV, results["seed"]))
    env.training, env.norm_reward = False, False
    mean, std = evaluate_policy(model, env, n_eval_episodes=results["eval_episodes"], deterministic=True)
    assert mean == pytest.approx(results["student_mean_return"], abs=1e-9)
    assert std == pytest.approx(results["student_std_return"], abs=1e-9)


def test_card_front_matter_names_the_distillation(packaged: str, results: dict) -> None:
    with open(os.path.join(packaged, "README.md"), encoding="utf-8") as file:
        card = file.read()
    metadata = _front_matter(card)
    assert metadata["library_name"] == "stable-baselines3"
    assert {ENV, "sb3-distill", "policy-distillation", "stable-baselines3"} <= set(metadata["tags"])
    model_index = metadata["model-index"][0]
    assert model_index["name"] == "PPO"
    metric = model_index["results"][0]["metrics"][0]
    assert metric["type"] == "mean_reward"
    assert metric["value"] == f"{results['student_mean_return']:.2f} +/- {results['student_std_return']:.2f}"
    assert model_index["results"][0]["dataset"]["name"] == ENV
    distillation = metadata["sb3_distill"]
    assert distillation["env"] == ENV and distillation["method"] == "ppd"
    for key in ("teacher_mean_reward", "teacher_std_reward", "student_mean_reward", "student_std_reward"):
        assert distillation[key] == results[key.replace("_reward", "_return")]
    for key in ("teacher_policy_parameters", "student_policy_parameters"):
        assert distillation[key] == results[key]
    body = card.split("---\n", 2)[2]
    assert f"{results['teacher_mean_return']:.2f} ± {results['teacher_std_return']:.2f}" in body
    assert f"{results['student_mean_return']:.2f} ± {results['student_std_return']:.2f}" in body
    assert f"{results['student_policy_parameters']:,}" in body and "parity" in body
    assert "/work/" not in card and os.path.expanduser("~") + "/" not in card  # no local folders on a public card


def test_config_json_holds_the_run_config(packaged: str, results: dict) -> None:
    with open(os.path.join(packaged, "config.json")) as file:
        settings = json.load(file)
    assert settings["env"] == ENV and settings["algorithm"] == "PPO"
    assert settings["distillation"]["method"] == "ppd" and settings["distillation"]["steps"] == 2048
    assert settings["distillation"]["seed"] == results["seed"]
    assert settings["config"]["n_envs"] == 4 and settings["config"]["normalize"] is True


def test_onnx_export_keeps_parity(packaged: str) -> None:
    assert os.path.getsize(os.path.join(packaged, f"{NAME}.onnx")) > 0
    with open(os.path.join(packaged, f"{NAME}.onnx.json")) as file:
        figures = json.load(file)
    assert figures["parity"]["holds"] is True and figures["parity"]["observations"] == 1000
    assert figures["path"] == f"{NAME}.onnx"  # named inside the package, not by this machine's folders
    assert set(figures["latency_ms"]) == {"exported", "sb3_predict"}


def test_non_empty_out_is_refused_without_force(run_dir: str, packaged: str, tmp_path) -> None:
    out = tmp_path / "taken"
    shutil.copytree(packaged, out)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(PackageError, match=r"not empty.*--force"):
        package(run_dir, str(out))
    result = package(run_dir, str(out), force=True, export_onnx=False)
    assert (out / "notes.txt").read_text() == "mine"  # force writes over the package's files only
    assert not (out / f"{NAME}.onnx").exists()  # a previous export is not published with this package
    assert result.files[0] == f"{NAME}.zip" and result.files[-1] == "README.md"
    assert result.repo_url is None and result.onnx is None


def test_unfinished_and_other_folders_are_refused(run_dir: str, tmp_path) -> None:
    unfinished = tmp_path / "unfinished"
    shutil.copytree(run_dir, unfinished)
    os.remove(unfinished / "results.json")
    with pytest.raises(PackageError, match=r"not finished.*--resume"):
        package(str(unfinished), str(tmp_path / "out"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "model.zip").write_bytes(b"")
    with pytest.raises(PackageError, match=r"not a distill run folder.*found: model\.zip"):
        package(str(other), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_push_without_a_token_fails_before_writing(
    run_dir: str, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    constants = pytest.importorskip("huggingface_hub.constants")
    home = tmp_path / "hf-home"
    home.mkdir()
    monkeypatch.setenv("HF_TOKEN", "")
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    # huggingface_hub reads HF_HOME when it is imported: point an already imported one at the empty home too
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    out = tmp_path / "pushed"
    assert main(["package", run_dir, "--out", str(out), "--push", "someone/ppo-CartPole-v1"]) == 2
    error = capsys.readouterr().err
    assert "huggingface-cli login" in error and "HF_TOKEN" in error and len(error.strip().splitlines()) == 1
    assert not out.exists()


def test_a_package_folder_is_a_source_of_export_and_evaluate(packaged: str, tmp_path) -> None:
    """Its config.json names the environment and how the student reads it."""
    from sb3_distill.deploy import evaluate, export, find_deployable

    for source in (packaged, os.path.join(packaged, f"{NAME}.zip")):  # the folder, or its zip
        deployable = find_deployable(source)
        assert deployable.zip_path == os.path.join(packaged, f"{NAME}.zip")
        assert deployable.env_id == "CartPole-v1" and deployable.vecnormalize_path is not None
        assert export(source, str(tmp_path / "again.onnx"), observations=200, measure_latency=False).parity.agreement == 1.0
        assert evaluate(source, episodes=2).episodes == 2
