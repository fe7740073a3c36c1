"""``sb3-distill evaluate``: a run folder's evaluation reproduces its results.json, videos hold their episodes'
frames, recurrent students carry their state, and the errors name what to do."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_distill.cli.main import main
from sb3_distill.deploy import Deployable
from sb3_distill.deploy.evaluate import evaluate, video_env
from sb3_distill.evaluation import evaluation_env
from sb3_distill.experiment import DistillConfig, distill

TEACHER_FOLDER = os.path.join(os.path.dirname(__file__), os.pardir, "sb3_distill", "teachers", "CartPole-v1")
TEACHER_ZIP = os.path.join(TEACHER_FOLDER, "CartPole-v1.zip")


def needs_rendering() -> None:
    pytest.importorskip("imageio_ffmpeg", reason="videos need the video extra: pip install 'sb3-distill[video]'")
    pytest.importorskip("pygame", reason="CartPole renders frames with pygame: pip install 'gymnasium[classic-control]'")


def video_frames(path: str) -> int:
    import imageio.v3 as iio

    return sum(1 for _ in iio.imiter(path, plugin="FFMPEG"))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> str:
    """A finished distillation run of seed 3 behind a VecNormalize, its final student evaluated on 3 episodes."""
    out = str(tmp_path_factory.mktemp("evaluate") / "run")
    config = DistillConfig(env="CartPole-v1", method="ppd", steps=2048, n_envs=4, eval_episodes=3, normalize=True, seed=3)
    distill(config, out_dir=out, verbose=0)
    return out


def test_run_folder_reproduces_results(run_dir):
    with open(os.path.join(run_dir, "results.json")) as file:
        record = json.load(file)
    assert os.path.isfile(os.path.join(run_dir, "vecnormalize.pkl"))  # the student reads normalised observations

    result = evaluate(run_dir, episodes=record["eval_episodes"])

    assert result.seed == record["seed"]
    assert result.deterministic == record["eval_deterministic"]
    assert result.mean == record["student_mean_return"]  # exactly: same environment, statistics and weights
    assert result.std == record["student_std_return"]
    assert len(result.episode_returns) == len(result.episode_lengths) == 3
    assert result.mean == float(np.mean(result.episode_returns))
    assert result.source == os.path.join(run_dir, "student.zip")
    assert result.videos == ()
    assert not os.path.exists(os.path.join(run_dir, "evaluation.json"))  # returned, not written


def test_cli_prints_the_mean(run_dir, capsys):
    with open(os.path.join(run_dir, "results.json")) as file:
        mean = json.load(file)["student_mean_return"]

    assert main(["evaluate", run_dir, "--episodes", "3"]) == 0

    out = capsys.readouterr().out
    assert f"{mean:.2f} ±" in out
    assert "CartPole-v1" in out and "student.zip" in out


def test_video_frames_are_the_episode_and_its_reset(tmp_path, capsys):
    needs_rendering()
    videos = tmp_path / "videos"

    assert main(["evaluate", TEACHER_FOLDER, "--episodes", "1", "--video", str(videos)]) == 0

    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("video")]
    assert len(lines) == 1
    path = lines[0].split(maxsplit=1)[1]
    assert os.path.isfile(path) and os.path.dirname(path) == str(videos)
    assert os.listdir(videos) == [os.path.basename(path)]  # no temporary file left
    # the same episode without rendering: recording changes nothing the agent meets
    played = evaluate(TEACHER_FOLDER, episodes=1)
    assert video_frames(path) == played.episode_lengths[0] + 1  # the frame after reset, then one per step


def test_only_the_first_episodes_are_recorded(tmp_path):
    needs_rendering()
    result = evaluate(TEACHER_ZIP, episodes=2, seed=3, env="CartPole-v1", video_dir=str(tmp_path), video_episodes=1)

    assert len(result.videos) == 1 and len(result.episode_lengths) == 2
    assert os.listdir(tmp_path) == [os.path.basename(result.videos[0])]
    assert video_frames(result.videos[0]) == result.episode_lengths[0] + 1
    with pytest.raises(ValueError, match="video_episodes must be between 1 and episodes"):
        evaluate(TEACHER_ZIP, episodes=1, env="CartPole-v1", video_dir=str(tmp_path), video_episodes=2)


def test_an_episode_cut_short_leaves_no_file(tmp_path):
    needs_rendering()
    path = str(tmp_path / "episode.mp4")
    env, recorder = video_env(Deployable(TEACHER_ZIP, None, "CartPole-v1"), 0, [path])
    env.reset()
    for _ in range(3):
        env.step(np.array([0]))
    env.close()

    assert recorder.written == []
    assert os.listdir(tmp_path) == []


def test_recurrent_student_carries_its_state(tmp_path):
    model = RecurrentPPO(
        "MlpLstmPolicy", "CartPole-v1", n_steps=32, seed=0, device="cpu", policy_kwargs={"lstm_hidden_size": 8}
    )
    path = str(tmp_path / "recurrent.zip")
    model.save(path)

    result = evaluate(path, episodes=3, seed=5, env="CartPole-v1")

    returns, lengths = evaluate_policy(model, evaluation_env("CartPole-v1", 5), 3, return_episode_rewards=True)
    assert result.episode_returns == tuple(returns)
    assert result.episode_lengths == tuple(lengths)


def test_zip_without_env_names_the_option(tmp_path, capsys):
    bare = shutil.copy(TEACHER_ZIP, tmp_path / "agent.zip")  # no config.json beside it

    assert main(["evaluate", str(bare), "--episodes", "1"]) == 2

    assert "--env" in capsys.readouterr().err


def test_missing_folder(tmp_path, capsys):
    missing = str(tmp_path / "no-such-run")
    with pytest.raises(FileNotFoundError, match="no-such-run"):
        evaluate(missing)
    assert main(["evaluate", missing]) == 2
    assert "no-such-run" in capsys.readouterr().err


def test_video_of_a_suite_without_rendering(tmp_path, capsys):
    with pytest.raises(ValueError, match="atari suite"):
        video_env(Deployable(TEACHER_ZIP, None, "PongNoFrameskip-v4"), 0, [str(tmp_path / "pong.mp4")])
    pytest.importorskip("minatar")
    bare = shutil.copy(TEACHER_ZIP, tmp_path / "agent.zip")
    # refused before the policy is built (its spaces would not fit MinAtar's)
    arguments = ["evaluate", str(bare), "--env", "MinAtar/Breakout-v1", "--video", str(tmp_path / "v")]
    assert main(arguments) == 2
    err = capsys.readouterr().err
    assert "minatar suite" in err and "without --video" in err
    assert os.listdir(tmp_path) == ["agent.zip"]
