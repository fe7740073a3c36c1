"""The sb3-distill command: train a teacher, distil it, and refuse bad input with a message and exit code 2."""

from __future__ import annotations

import json
import os

import pytest
from stable_baselines3.common.env_util import make_vec_env

from sb3_distill.cli.main import main


@pytest.fixture(scope="module")
def trained_teacher(tmp_path_factory):
    out = tmp_path_factory.mktemp("teacher")
    code = main(
        [
            "train-teacher",
            "--env",
            "CartPole-v1",
            "--steps",
            "2048",
            "--out",
            str(out),
            "--n-envs",
            "4",
            "--net-arch",
            "32,32",
            "--param",
            "n_steps=64",
            "batch_size=128",
            "--eval-episodes",
            "3",
            "--normalize",
        ]
    )
    assert code == 0
    return out


def test_train_teacher_writes_model_statistics_config_and_logs(trained_teacher):
    files = sorted(os.listdir(trained_teacher))
    assert {"CartPole-v1.zip", "vecnormalize.pkl", "config.json", "tb"} <= set(files)
    config = json.loads((trained_teacher / "config.json").read_text())
    assert config["env"] == "CartPole-v1" and config["normalize"] is True
    assert config["params"] == {"n_steps": 64, "batch_size": 128}
    assert config["policy_kwargs"]["net_arch"] == {"pi": [32, 32], "vf": [32, 32]}
    assert config["command"].startswith("sb3-distill train-teacher --env CartPole-v1")
    assert 8 <= config["eval_mean_return"] <= 500


def test_distill_reads_env_from_teacher_config_and_writes_results(trained_teacher, tmp_path, capsys):
    code = main(
        [
            "distill",
            "--teacher",
            str(trained_teacher / "CartPole-v1.zip"),
            "--method",
            "student-distill",
            "--student",
            "smaller",
            "--steps",
            "1000",
            "--out",
            str(tmp_path),
            "--eval-episodes",
            "2",
        ]
    )
    assert code == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["env"] == "CartPole-v1" and results["method"] == "student-distill"
    assert results["student_policy_parameters"] < results["teacher_policy_parameters"]
    assert os.path.isfile(tmp_path / "student.zip")
    events = [f for root, _, names in os.walk(tmp_path / "tb") for f in names if f.startswith("events.out.tfevents")]
    assert events, "TensorBoard logs are written in the run folder"
    table = capsys.readouterr().out
    assert "teacher" in table and "student (student-distill, smaller)" in table and "mean return" in table


@pytest.mark.parametrize(
    "argv, message",
    [
        (["distill", "--teacher", "/nonexistent/teacher.zip", "--env", "CartPole-v1"], "/nonexistent/teacher.zip"),
        (["distill", "--steps", "0"], "--steps must be positive"),
        (["distill", "--env", "NoSuchEnv-v0", "--steps", "10"], "'NoSuchEnv-v0'"),
        (["distill", "--param", "gamma"], "key=value"),
        (["train-teacher", "--env", "CartPole-v1", "--steps", "10", "--out", "/proc/forbidden"], "cannot be written"),
        (["train-teacher", "--env", "CartPole-v1", "--steps", "10", "--out", "x", "--net-arch", "a,b"], "--net-arch"),
    ],
)
def test_bad_input_exits_2_with_message(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_env_mismatch_with_teacher_is_refused(trained_teacher, tmp_path, capsys):
    code = main(
        [
            "distill",
            "--teacher",
            str(trained_teacher / "CartPole-v1.zip"),
            "--env",
            "Acrobot-v1",
            "--steps",
            "100",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "teacher Discrete(2), student Discrete(3)" in capsys.readouterr().err


def test_distill_with_student_normalization(trained_teacher, tmp_path):
    """The student gets its own VecNormalize; its statistics are saved and used, frozen, for evaluation."""
    code = main(
        [
            "distill",
            "--teacher",
            str(trained_teacher / "CartPole-v1.zip"),
            "--normalize",
            "--steps",
            "1024",
            "--out",
            str(tmp_path),
            "--eval-episodes",
            "2",
            "--no-progress",
        ]
    )
    assert code == 0
    from stable_baselines3.common.vec_env import VecNormalize

    from sb3_distill.experiment import METHODS

    statistics = VecNormalize.load(str(tmp_path / "vecnormalize.pkl"), make_vec_env("CartPole-v1"))
    rollout = METHODS["ppd"].defaults["n_steps"] * 8
    steps = -(-1024 // rollout) * rollout  # whole rollouts
    assert statistics.obs_rms.count == pytest.approx(steps + 8, abs=1)  # every observation seen, plus the resets
    assert json.loads((tmp_path / "results.json").read_text())["student_policy_parameters"] > 0


def test_distill_from_zoo_folder_reads_env_from_folder_name(trained_teacher, tmp_path):
    import shutil

    run = tmp_path / "logs" / "ppo" / "CartPole-v1_1"
    (run / "CartPole-v1").mkdir(parents=True)
    shutil.copy(trained_teacher / "CartPole-v1.zip", run / "CartPole-v1.zip")
    shutil.copy(trained_teacher / "vecnormalize.pkl", run / "CartPole-v1" / "vecnormalize.pkl")
    code = main(
        [
            "distill",
            "--teacher",
            str(run),
            "--steps",
            "512",
            "--out",
            str(tmp_path / "out"),
            "--eval-episodes",
            "2",
            "--no-progress",
        ]
    )
    assert code == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["env"] == "CartPole-v1" and results["teacher"].endswith("CartPole-v1_1/CartPole-v1.zip")


def test_info_prints_the_papers_sizes(capsys):
    """MuJoCo HalfCheetah: the paper's 2x256 teacher, (128, 64) smaller and 2x512 larger students."""
    pytest.importorskip("mujoco")
    assert main(["info", "--env", "HalfCheetah-v5"]) == 0
    out = capsys.readouterr().out
    assert "suite mujoco" in out and "deterministic, 50 episodes" in out
    # policy MLP with 17 inputs, 6 actions and a 6-wide log-std
    teacher = 17 * 256 + 256 + 256 * 256 + 256 + 256 * 6 + 6 + 6
    larger = 17 * 512 + 512 + 512 * 512 + 512 + 512 * 6 + 6 + 6
    assert f"{teacher:,}" in out and f"{larger:,}" in out and f"{larger / teacher:.2f}" in out


def test_info_for_an_image_suite(capsys):
    pytest.importorskip("minatar")
    assert main(["info", "--env", "MinAtar/Breakout-v1", "--student", "smaller"]) == 0
    out = capsys.readouterr().out
    assert "suite minatar" in out and "MinAtarCNN" in out and "0.25" in out


def test_namespaced_env_ids_get_a_teacher_file_beside_its_config(tmp_path):
    """MinAtar/Breakout-v1 and ALE/... ids contain a slash: the teacher must not land in a subfolder,
    away from its config.json, or distill could not read the environment from it."""
    pytest.importorskip("minatar")
    teacher = tmp_path / "teacher"
    assert (
        main(
            [
                "train-teacher",
                "--env",
                "MinAtar/Breakout-v1",
                "--steps",
                "64",
                "--out",
                str(teacher),
                "--n-envs",
                "1",
                "--eval-episodes",
                "1",
                "--no-progress",
                "--param",
                "n_steps=64",
                "batch_size=64",
                "n_epochs=1",
            ]
        )
        == 0
    )
    assert (teacher / "MinAtar-Breakout-v1.zip").is_file() and (teacher / "config.json").is_file()
    assert (
        main(
            [
                "distill",
                "--teacher",
                str(teacher / "MinAtar-Breakout-v1.zip"),
                "--steps",
                "128",
                "--n-envs",
                "1",
                "--out",
                str(tmp_path / "student"),
                "--eval-episodes",
                "1",
                "--no-progress",
                "--param",
                "n_steps=64",
                "batch_size=64",
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "student" / "results.json").read_text())["env"] == "MinAtar/Breakout-v1"
