"""Runs in the RL Zoo's layout (``--log-folder``): ``logs/ppo/<Env>_<id>/`` with the Zoo's files, replayed by the
real ``rl_zoo3.enjoy``, usable as a teacher, and written at the end of a resumed run too."""

from __future__ import annotations

import contextlib
import filecmp
import io
import json
import os
import re
import signal
import subprocess
import sys

import pytest
import yaml
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecNormalize

from sb3_distill import envs
from sb3_distill.cli.main import main
from sb3_distill.evaluation import EVAL_SEED_OFFSET, evaluation_env, score
from sb3_distill.experiment import ConfigError, DistillConfig, distill, resume
from sb3_distill.experiment.zoo_layout import ZooLayout, latest_run_id, write_zoo_files, zoo_env_name
from sb3_distill.runs import RunInterrupted
from sb3_distill.teachers import bundled_teacher_path

TEACHER = bundled_teacher_path()  # PPO on CartPole-v1, 500 over 50 episodes
ENV = "CartPole-v1"
EPISODES = 5
# 4,096 steps of PPD into the smaller student with its own VecNormalize: a student clearly better than random
# (CartPole random ≈ 22) that trains in 4-5 s on 2 shared cores (25 s under heavy load). Measured (seed 0):
# 133.0 +/- 2.5 over 5 episodes with its statistics, 58.2 +/- 3.7 on raw observations. The teacher's score is
# given, not measured.
RUN = [
    "distill", "--teacher", TEACHER, "--student", "smaller", "--normalize", "--steps", "4096", "--n-envs", "4",
    "--eval-episodes", str(EPISODES), "--teacher-score", "500,0", "--no-progress",
]  # fmt: skip


def _quiet_main(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def zoo_run(tmp_path_factory):
    """One finished ``--log-folder`` run: (log folder, run folder, what the command printed)."""
    logs = tmp_path_factory.mktemp("zoo") / "logs"
    code, printed = _quiet_main([*RUN, "--log-folder", str(logs)])
    assert code == 0, printed
    return logs, logs / "ppo" / f"{ENV}_1", printed


def test_a_run_goes_to_the_zoo_layout_with_the_zoo_files(zoo_run):
    logs, run, printed = zoo_run
    assert sorted(os.listdir(logs / "ppo")) == [f"{ENV}_1"]
    assert f"run folder (RL Zoo layout): {run}" in printed
    assert f"python -m rl_zoo3.enjoy --algo ppo --env {ENV} -f {logs} --exp-id 1" in printed
    # our own files stay as they are, the Zoo's come beside them
    assert {"student.zip", "vecnormalize.pkl", "results.json", "checkpoints", f"{ENV}.zip", ENV} <= set(os.listdir(run))
    assert filecmp.cmp(run / "student.zip", run / f"{ENV}.zip", shallow=False)
    assert filecmp.cmp(run / "vecnormalize.pkl", run / ENV / "vecnormalize.pkl", shallow=False)
    config = yaml.safe_load((run / ENV / "config.yml").read_text())
    assert config["normalize"] is True and config["policy"] == "MlpPolicy"
    assert config["n_timesteps"] == 4096 and config["n_envs"] == 4 and config["n_steps"] == 64
    assert config["policy_kwargs"] == "dict(activation_fn=nn.Tanh, net_arch=dict(pi=[30, 30], vf=[30, 30]))"
    args = yaml.safe_load((run / ENV / "args.yml").read_text())
    assert args["env"] == ENV and args["env_kwargs"] is None and args["algo"] == "ppo" and args["seed"] == 0
    assert (run / ENV / "command.txt").read_text().startswith("sb3-distill distill --teacher")
    results = json.loads((run / "results.json").read_text())
    assert results["zoo_layout"] == {"log_folder": str(logs), "algo": "ppo", "env_name": ENV}
    # the saved statistics are what enjoy loads: VecNormalize.load, then training and reward normalisation off
    loaded = VecNormalize.load(str(run / ENV / "vecnormalize.pkl"), evaluation_env(ENV, 0))
    assert loaded.norm_obs and loaded.obs_rms.count > 4096


def test_the_next_run_takes_the_zoo_next_id_and_a_resumed_run_writes_the_zoo_files(zoo_run):
    logs, _, _ = zoo_run

    class StopOnce(BaseCallback):  # Ctrl-C half-way, as a user would
        def _on_step(self) -> bool:
            if self.num_timesteps == 512:
                signal.raise_signal(signal.SIGINT)
            return True

    config = DistillConfig(
        teacher=TEACHER, steps=1024, n_envs=4, checkpoint_every=256, eval_episodes=1, teacher_score=(500, 0)
    )
    with pytest.raises(RunInterrupted):
        distill(config, callbacks=[StopOnce()], verbose=0, zoo_log_folder=str(logs))
    run = logs / "ppo" / f"{ENV}_2"
    assert not (run / f"{ENV}.zip").exists() and not (run / ENV).exists()  # an unfinished run is no Zoo model
    result = resume(str(run), verbose=0)
    assert result.resumed and result.timesteps >= 1024  # the steps the stop dropped are taken again
    assert filecmp.cmp(run / "student.zip", run / f"{ENV}.zip", shallow=False)
    config_yml = yaml.safe_load((run / ENV / "config.yml").read_text())
    assert config_yml["normalize"] is False and not (run / ENV / "vecnormalize.pkl").exists()  # this one has none
    assert yaml.safe_load((run / ENV / "args.yml").read_text())["env"] == ENV
    assert result.record["zoo_layout"]["log_folder"] == str(logs)


def test_enjoy_replays_the_student_with_its_statistics(zoo_run):
    """The real ``rl_zoo3.enjoy`` on the folder gives, episode by episode, the returns of our own evaluation of
    the student with its VecNormalize: it is seeded as our evaluation is (``--seed`` = seed + EVAL_SEED_OFFSET,
    one environment that resets itself), acts deterministically and normalises with the same statistics, so
    the episodes are the same ones and the returns agree exactly (any tolerance would hide a difference). On
    raw observations the student scores far lower (measured: 58.2 against 133.0), so agreement shows that
    enjoy applied the statistics."""
    pytest.importorskip("rl_zoo3")
    logs, run, _ = zoo_run
    seed = 0 + EVAL_SEED_OFFSET
    command = [
        sys.executable, "-m", "rl_zoo3.enjoy", "--algo", "ppo", "--env", ENV, "-f", str(logs), "--exp-id", "1",
        "-n", "1500", "--no-render", "--deterministic", "--seed", str(seed), "--device", "cpu", "--num-threads", "1",
    ]  # fmt: skip
    enjoyed = subprocess.run(command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert enjoyed.returncode == 0, enjoyed.stderr
    assert f"Loading {logs}/ppo/{ENV}_1/{ENV}.zip" in enjoyed.stdout and "Loading running average" in enjoyed.stdout
    returns = [float(value) for value in re.findall(r"^Episode Reward: (\S+)$", enjoyed.stdout, re.MULTILINE)]
    assert len(returns) >= EPISODES, enjoyed.stdout

    student = PPO.load(str(run / f"{ENV}.zip"), device="cpu")
    stats = VecNormalize.load(str(run / ENV / "vecnormalize.pkl"), evaluation_env(ENV, 0))
    ours, _ = evaluate_policy(
        student, envs.frozen_copy(evaluation_env(ENV, 0), stats), len(returns), deterministic=True, return_episode_rewards=True
    )
    assert returns == ours
    normalized = score(student, envs.frozen_copy(evaluation_env(ENV, 0), stats), EPISODES)
    recorded = json.loads((run / "results.json").read_text())
    assert normalized.mean == recorded["student_mean_return"] == pytest.approx(sum(returns[:EPISODES]) / EPISODES)
    assert normalized.mean > 60  # clearly better than random (≈ 22)
    raw = score(student, evaluation_env(ENV, 0), EPISODES)
    assert abs(raw.mean - normalized.mean) > 25, (raw, normalized)


def _enjoy(logs, algo: str, seed: int) -> list[float]:
    """The episode returns of the real ``rl_zoo3.enjoy`` on run 1 of ``logs/algo``, seeded as our evaluation."""
    command = [
        sys.executable, "-m", "rl_zoo3.enjoy", "--algo", algo, "--env", ENV, "-f", str(logs), "--exp-id", "1",
        "-n", "2600", "--no-render", "--deterministic", "--seed", str(seed + EVAL_SEED_OFFSET), "--device", "cpu",
        "--num-threads", "1",
    ]  # fmt: skip
    enjoyed = subprocess.run(command, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert enjoyed.returncode == 0, enjoyed.stderr
    return [float(value) for value in re.findall(r"^Episode Reward: (\S+)$", enjoyed.stdout, re.MULTILINE)]


@pytest.mark.parametrize(
    ("memory", "algo", "policy"),
    [(["--frame-stack", "3"], "ppo", "MlpPolicy"), (["--recurrent"], "ppo_lstm", "MlpLstmPolicy")],
    ids=["frame-stack", "recurrent"],
)
def test_enjoy_replays_a_student_with_memory(tmp_path, memory, algo, policy):
    """A frame-stacked student's config.yml names its stack, and a recurrent student (a RecurrentPPO) goes to
    the Zoo's ``ppo_lstm/``: the real enjoy replays each one's evaluation episodes with the returns the run
    recorded. Unstacked observations would not fit the frame-stacked student (its input is 3 times as long),
    and ``--algo ppo`` does not carry an LSTM state from step to step."""
    pytest.importorskip("rl_zoo3")
    logs = tmp_path / "logs"
    code, printed = _quiet_main([*RUN, *memory, "--log-folder", str(logs)])
    assert code == 0, printed
    run = logs / algo / f"{ENV}_1"
    assert f"python -m rl_zoo3.enjoy --algo {algo} --env {ENV} -f {logs} --exp-id 1" in printed
    config_yml = yaml.safe_load((run / ENV / "config.yml").read_text())
    assert config_yml["policy"] == policy and config_yml.get("frame_stack") == (3 if "--frame-stack" in memory else None)
    assert json.loads((run / "results.json").read_text())["zoo_layout"]["algo"] == algo

    returns = _enjoy(logs, algo, seed=0)
    assert len(returns) >= EPISODES  # CartPole's episodes end by 500 steps
    recorded = json.loads((run / "results.json").read_text())["student_mean_return"]
    assert sum(returns[:EPISODES]) / EPISODES == pytest.approx(recorded)


@pytest.fixture(scope="module")
def zoo_stacked_agent(tmp_path_factory):
    """(log folder, run folder) of an agent the real ``rl_zoo3.train`` trained with ``frame_stack: 2``, which it
    records in a ``config.yml`` tagged as a Python ``OrderedDict``."""
    pytest.importorskip("rl_zoo3")
    logs = tmp_path_factory.mktemp("zoo_stacked") / "logs"
    command = [
        sys.executable, "-m", "rl_zoo3.train", "--algo", "ppo", "--env", ENV, "-n", "4096", "-f", str(logs),
        "--seed", "3", "--device", "cpu", "--num-threads", "1", "--eval-freq", "-1",
        "--hyperparams", "frame_stack:2", "n_envs:2",
    ]  # fmt: skip
    trained = subprocess.run(command, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert trained.returncode == 0, trained.stderr
    folder = logs / "ppo" / f"{ENV}_1"
    assert (folder / ENV / "config.yml").read_text().startswith("!!python/object/apply:collections.OrderedDict")
    return logs, folder


def test_an_agent_the_zoo_trained_with_a_frame_stack_is_evaluated_on_stacked_observations(zoo_stacked_agent):
    """``evaluate`` reads the Zoo's tagged ``config.yml`` without building objects and plays enjoy's episodes,
    return for return (unstacked, the agent's input would be half as long and it could not act at all)."""
    from sb3_distill.deploy import evaluate, find_deployable

    logs, folder = zoo_stacked_agent
    assert find_deployable(str(folder)).frame_stack == 2
    ours = evaluate(str(folder), episodes=EPISODES, seed=0)
    assert list(ours.episode_returns) == _enjoy(logs, "ppo", seed=0)[:EPISODES]


def test_the_zoo_yaml_reader_takes_the_ordered_dict_and_runs_no_code(tmp_path):
    from collections import OrderedDict

    from sb3_distill.common.yaml_files import load_zoo_yaml

    saved = OrderedDict([("frame_stack", 2), ("policy_kwargs", "dict(net_arch=[64])"), ("env_wrapper", None)])
    assert load_zoo_yaml(yaml.dump(saved)) == dict(saved)  # what rl_zoo3's _save_config writes
    marker = tmp_path / "ran"
    for text in (
        f'!!python/object/apply:os.system ["touch {marker}"]',
        f"!!python/object/apply:collections.OrderedDict\n- !!python/object/apply:os.system ['touch {marker}']\n",
    ):
        with pytest.raises(yaml.YAMLError):
            load_zoo_yaml(text)
    assert not marker.exists()


def test_a_zoo_agent_with_a_frame_stack_teaches_stacking_the_observations_itself(zoo_stacked_agent, tmp_path):
    """The teacher is given one observation per state and stacks its last 2 itself: the run scores it as
    ``evaluate`` (behind the Zoo's frame stack) does, episode for episode, and a student without a stack, which
    reads the plain observation, reaches 0.9 of it (measured: teacher 338.9, student 476.2 over 20 episodes)."""
    from sb3_distill.deploy import evaluate

    _, folder = zoo_stacked_agent
    out = tmp_path / "student"
    argv = ["distill", "--teacher", str(folder), "--method", "student-distill", "--steps", "16384", "--out", str(out)]
    code, printed = _quiet_main([*argv, "--eval-episodes", "20", "--no-progress"])
    assert code == 0, printed
    result = json.loads((out / "results.json").read_text())
    assert result["teacher_mean_return"] == evaluate(str(folder), episodes=20, seed=0).mean
    assert result["teacher_mean_return"] > 100  # 4,096 steps of the Zoo's PPO: it balances (random: about 22)
    assert result["student_mean_return"] >= 0.9 * result["teacher_mean_return"], result


def test_a_plain_zip_of_a_stacked_agent_takes_its_frame_stack_from_the_command_line(zoo_stacked_agent, tmp_path, capsys):
    """The zip alone does not say that it reads its last 2 observations: the shape error names the fix."""
    _, folder = zoo_stacked_agent
    zip_path = str(folder / f"{ENV}.zip")
    argv = ["distill", "--teacher", zip_path, "--env", ENV, "--steps", "256", "--eval-episodes", "20", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "refused")]) == 2
    assert "--teacher-frame-stack 2" in capsys.readouterr().err
    assert main([*argv, "--teacher-frame-stack", "2", "--out", str(tmp_path / "run")]) == 0
    result = json.loads((tmp_path / "run" / "results.json").read_text())
    assert result["config"]["teacher_frame_stack"] == 2
    from sb3_distill.deploy import evaluate

    assert result["teacher_mean_return"] == evaluate(str(folder), episodes=20, seed=0).mean


def test_a_corrupted_copy_of_a_stacked_agent_records_its_frame_stack(zoo_stacked_agent, tmp_path):
    """The copy's zip alone would not say that its agent reads 2 stacked observations: its config.json does,
    and the copy teaches from its folder as it scored when it was written."""
    from sb3_distill.deploy import evaluate

    _, folder = zoo_stacked_agent
    copy = tmp_path / "corrupted"
    argv = ["corrupt", "--teacher", str(folder), "--sigma", "0.05", "--out", str(copy / f"{ENV}.zip")]
    code, printed = _quiet_main([*argv, "--eval-episodes", "20"])
    assert code == 0, printed
    record = json.loads((copy / "config.json").read_text())
    assert record["frame_stack"] == 2
    assert record["original_mean_return"] == evaluate(str(folder), episodes=20, seed=0).mean
    out = tmp_path / "student"
    argv = ["distill", "--teacher", str(copy), "--steps", "256", "--eval-episodes", "20", "--out", str(out)]
    code, printed = _quiet_main([*argv, "--no-progress"])
    assert code == 0, printed
    assert json.loads((out / "results.json").read_text())["teacher_mean_return"] == record["corrupted_mean_return"]


def test_a_student_no_zoo_config_can_describe_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="stack frames on top of the Atari suite's 4"):
        distill(DistillConfig(env="ALE/Pong-v5", teacher=None, frame_stack=2), zoo_log_folder=str(tmp_path / "logs"))
    assert not (tmp_path / "logs").exists()  # refused before the run's folder is made


def test_the_zoo_folder_is_a_teacher_that_scores_as_the_student_did(zoo_run, tmp_path):
    _, run, _ = zoo_run
    out = tmp_path / "second"
    argv = ["distill", "--teacher", str(run), "--steps", "256", "--n-envs", "4", "--eval-episodes", str(EPISODES)]
    code, printed = _quiet_main([*argv, "--out", str(out), "--no-progress"])
    assert code == 0, printed
    second = json.loads((out / "results.json").read_text())
    first = json.loads((run / "results.json").read_text())
    assert second["env"] == ENV and second["teacher"] == str(run / f"{ENV}.zip")  # the Zoo model, not student.zip
    assert second["teacher_mean_return"] == first["student_mean_return"]  # same episodes, same statistics
    assert second["teacher_std_return"] == first["student_std_return"]


def test_log_folder_with_out_is_refused_and_leaves_no_folder(tmp_path, capsys):
    logs, out = tmp_path / "logs", tmp_path / "out"
    assert main([*RUN, "--log-folder", str(logs), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert len(error.strip().splitlines()) == 1
    assert error.startswith(f"sb3-distill distill: error: --log-folder {logs} and --out {out} both name the run folder")
    assert not logs.exists() and not out.exists()


def test_a_refused_run_leaves_no_zoo_folder_and_its_id_free(tmp_path, capsys):
    logs = tmp_path / "logs"
    assert main(["distill", "--teacher", TEACHER, "--param", "batch_size=0", "--log-folder", str(logs)]) == 2
    assert "batch_size" in capsys.readouterr().err
    assert os.listdir(logs / "ppo") == []


def test_resume_takes_the_run_own_log_folder_only(zoo_run, tmp_path, capsys):
    logs, run, _ = zoo_run
    assert main(["distill", "--resume", str(run), "--log-folder", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert f"--log-folder {tmp_path} (the run is in the log folder {logs})" in error
    assert main(["distill", "--resume", str(run), "--log-folder", str(logs), "--no-progress"]) == 0
    assert "finished already" in capsys.readouterr().out


def test_next_run_id_is_the_zoo_one(tmp_path):
    names = ["CartPole-v1_1", "CartPole-v1_10", "CartPole-v1_3x", "CartPole-v1_", "XCartPole-v1_12", "Pendulum-v1_40"]
    for name in names:
        (tmp_path / name).mkdir()
    (tmp_path / "CartPole-v1_99").write_text("")  # a file counts for the Zoo too (it globs names)
    assert latest_run_id(str(tmp_path), "CartPole-v1") == 99
    assert latest_run_id(str(tmp_path), "Acrobot-v1") == 0
    assert zoo_env_name("ALE/Pong-v5") == "ALE-Pong-v5" and zoo_env_name("my_module:Env-v0") == "Env-v0"
    utils = pytest.importorskip("rl_zoo3.utils")
    from huggingface_sb3 import EnvironmentName

    for env_name in ("CartPole-v1", "Acrobot-v1", "Pendulum-v1"):
        assert latest_run_id(str(tmp_path), env_name) == utils.get_latest_run_id(str(tmp_path), EnvironmentName(env_name))


def test_a_failed_copy_leaves_no_half_written_zoo_model(tmp_path, monkeypatch):
    (tmp_path / "student.zip").write_bytes(b"x" * 1000)
    layout = ZooLayout(str(tmp_path), ENV)

    def copy_half(source, destination):
        with open(destination, "wb") as file:
            file.write(b"x" * 500)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("sb3_distill.experiment.zoo_layout.shutil.copyfile", copy_half)
    with pytest.raises(OSError, match="No space left"):
        write_zoo_files(str(tmp_path), layout, str(tmp_path / "student.zip"), None, {"normalize": False}, {"env": ENV})
    assert not (tmp_path / f"{ENV}.zip").exists()
    assert [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")] == []


def test_a_zoo_folder_names_its_environment_by_its_args(tmp_path):
    from sb3_distill.common.teacher_sources import teacher_env_id

    ours = tmp_path / "ppo" / "ALE-Pong-v5_1"
    (ours / "ALE-Pong-v5").mkdir(parents=True)
    (ours / "ALE-Pong-v5" / "args.yml").write_text(yaml.safe_dump({"env": "ALE/Pong-v5", "env_kwargs": None}))
    assert teacher_env_id(str(ours)) == "ALE/Pong-v5"  # the folder's name has lost the slash
    zoo = tmp_path / "ppo" / "CartPole-v1_1"  # the Zoo's own args.yml holds Python tags: the folder's name is used
    (zoo / ENV).mkdir(parents=True)
    (zoo / ENV / "args.yml").write_text("!!python/object/apply:collections.OrderedDict\n- - - env\n    - CartPole-v1\n")
    assert teacher_env_id(str(zoo)) == ENV


def test_the_best_model_of_a_zoo_folder_teaches_with_its_own_statistics(tmp_path):
    from sb3_distill.common.teacher_sources import resolve_file_source

    run = tmp_path / f"{ENV}_1"
    (run / ENV).mkdir(parents=True)
    for name in (f"{ENV}.zip", "best_model.zip", f"{ENV}/vecnormalize.pkl"):
        (run / name).write_bytes(b"")
    assert resolve_file_source(str(run), best=True)[1] == str(run / ENV / "vecnormalize.pkl")  # the Zoo's own runs
    (run / "best_model_vecnormalize.pkl").write_bytes(b"")  # what sb3-distill's periodic evaluation keeps beside it
    assert resolve_file_source(str(run), best=True)[1] == str(run / "best_model_vecnormalize.pkl")
    assert resolve_file_source(str(run), best=False)[1] == str(run / ENV / "vecnormalize.pkl")
