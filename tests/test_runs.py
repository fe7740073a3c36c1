"""Runs that survive: atomic checkpoints, exact resume, SIGINT and SIGKILL, best model, NaN guard, unwritable folders."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnvWrapper, VecNormalize

from sb3_distill import PPD, envs, schedules
from sb3_distill.cli.main import main
from sb3_distill.common.training_guard import TrainingDiverged
from sb3_distill.experiment import DistillConfig, distill
from sb3_distill.runs import CheckpointError, Checkpointing, latest_checkpoint, read_checkpoint, resume, save_checkpoint
from sb3_distill.runs.checkpoints import checkpoints
from sb3_distill.teachers import bundled_teacher_path

TEACHER = bundled_teacher_path()  # PPO on CartPole-v1, 500 over 50 episodes
POSIX = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and process groups")


def _student(run_dir, env=None, distill_lambda=1.0) -> PPD:
    env = env if env is not None else envs.make("Pendulum-v1", 4, 0, normalize=True)
    student = PPD(
        "MlpPolicy", env, n_steps=64, batch_size=128, n_epochs=2, seed=0, tensorboard_log=os.path.join(run_dir, "tb")
    )
    student.set_teacher(
        os.path.join(os.path.dirname(__file__), "teachers", "sac-Pendulum-v1.zip"), distill_lambda=distill_lambda
    )
    return student


def _steps(checkpoint_folders) -> list[int]:
    return [int(os.path.basename(folder).split("-")[1]) for folder in checkpoint_folders]


# ------------------------------------------------------------------ library


def test_resume_restores_weights_optimizer_statistics_rng_and_lambda(tmp_path):
    student = _student(str(tmp_path), distill_lambda=schedules.linear(3.0, 0.5, 2048))
    checkpointing = Checkpointing(str(tmp_path), every=512)
    student.learn(1024, callback=checkpointing, tb_log_name="ppd")
    saved = checkpointing.save()
    assert saved.timesteps == student.num_timesteps == 1024 and saved.has_vecnormalize
    python_draw, numpy_draw, torch_draw = random.random(), np.random.rand(), th.rand(1).item()

    resumed = resume(str(tmp_path), envs.make("Pendulum-v1", 4, 0, normalize=True))
    assert resumed.num_timesteps == 1024
    assert resumed.current_lambda() == pytest.approx(student.current_lambda()) == pytest.approx(3.0 - 2.5 * 1024 / 2048)
    for name, tensor in student.policy.state_dict().items():
        assert th.equal(tensor, resumed.policy.state_dict()[name]), name
    moments = [state["exp_avg"] for state in student.policy.optimizer.state_dict()["state"].values()]
    resumed_moments = [state["exp_avg"] for state in resumed.policy.optimizer.state_dict()["state"].values()]
    assert moments and all(th.equal(a, b) for a, b in zip(moments, resumed_moments, strict=True))
    normalizer, resumed_normalizer = student.get_vec_normalize_env(), resumed.get_vec_normalize_env()
    assert isinstance(resumed_normalizer, VecNormalize)
    assert np.array_equal(normalizer.obs_rms.mean, resumed_normalizer.obs_rms.mean)
    assert normalizer.ret_rms.count == resumed_normalizer.ret_rms.count
    assert (random.random(), np.random.rand(), th.rand(1).item()) == (python_draw, numpy_draw, torch_draw)

    resumed.learn(2048 - resumed.num_timesteps, reset_num_timesteps=False, tb_log_name="ppd")
    assert resumed.num_timesteps == 2048
    assert os.listdir(tmp_path / "tb") == ["ppd_1"]  # TensorBoard continues the same curve


def test_a_damaged_checkpoint_is_skipped_for_the_previous_one(tmp_path):
    student = _student(str(tmp_path))
    student.learn(2048, callback=Checkpointing(str(tmp_path), every=512, keep=2))
    folders = checkpoints(str(tmp_path))
    assert _steps(folders) == [1024, 1536]  # 512, 1024 and 1536 (rollouts of 256 timesteps), the newest 2 kept
    with open(os.path.join(folders[-1], "student.zip"), "r+b") as file:  # a truncated copy
        file.truncate(100)
    with pytest.warns(UserWarning, match="Skipping the damaged or incomplete checkpoint .*step-000000001536"):
        assert latest_checkpoint(str(tmp_path)).timesteps == 1024
    with pytest.warns(UserWarning):
        assert resume(str(tmp_path), envs.make("Pendulum-v1", 4, 0, normalize=True)).num_timesteps == 1024

    os.remove(os.path.join(folders[0], "manifest.json"))  # as if killed before the manifest: no checkpoint left
    assert read_checkpoint(folders[0]) is None
    with pytest.warns(UserWarning), pytest.raises(CheckpointError, match="No usable checkpoint"):
        latest_checkpoint(str(tmp_path))


def test_leftovers_of_a_killed_save_are_cleaned(tmp_path):
    student = _student(str(tmp_path))
    student.learn(256)
    leftover = tmp_path / "checkpoints" / ".step-000000000512.tmp-999999"
    leftover.mkdir(parents=True)
    (leftover / "student.zip").write_bytes(b"half")
    save_checkpoint(student, str(tmp_path))
    assert os.listdir(tmp_path / "checkpoints") == ["step-000000000256"]


def test_pruning_keeps_the_usable_checkpoints_and_drops_damaged_ones(tmp_path):
    student = _student(str(tmp_path))
    saved = []
    for _ in range(3):
        student.learn(256, reset_num_timesteps=not saved)
        saved.append(save_checkpoint(student, str(tmp_path), keep=2))
        if len(saved) == 2:
            with open(saved[1].path("student.zip"), "r+b") as file:
                file.truncate(100)
    assert checkpoints(str(tmp_path)) == [saved[0].folder, saved[2].folder]


class VecNanReward(VecEnvWrapper):
    """Rewards turn to NaN: the advantages and PPO's loss follow."""

    def reset(self):
        return self.venv.reset()

    def step_wait(self):
        observations, rewards, dones, infos = self.venv.step_wait()
        return observations, np.full_like(rewards, np.nan), dones, infos


class PoisonTeacher(BaseCallback):
    """Turn the teacher's outputs to NaN once ``at`` timesteps are reached."""

    def __init__(self, at: int):
        super().__init__()
        self.at = at

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.at:
            with th.no_grad():
                for parameter in self.model.teacher.policy.parameters():
                    parameter.fill_(float("nan"))
        return True


def test_nan_teacher_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    out = tmp_path / "run"
    config = DistillConfig(teacher=TEACHER, steps=8192, checkpoint_every=1024, n_envs=4, eval_episodes=2)
    with pytest.raises(TrainingDiverged) as raised:
        distill(config, str(out), callbacks=[PoisonTeacher(at=2600)])
    message = str(raised.value)
    # the rollout from 2560 to 2816 timesteps is labelled with NaN; it is refused before its update
    assert "The teacher's outputs are not finite (NaN or infinite) on the rollout ending at 2816 timesteps" in message
    assert f"The last good checkpoint is {out / 'checkpoints' / 'step-000000002048'} (2048 timesteps)" in message
    assert "--resume" in message
    assert _steps(checkpoints(str(out))) == [1024, 2048]  # nothing written after the bad update
    good = latest_checkpoint(str(out))
    assert not (out / "student.zip").exists()
    resumed = resume(str(out), envs.make("CartPole-v1", 4, 0))
    assert all(bool(th.isfinite(parameter).all()) for parameter in resumed.policy.parameters())
    assert resumed.num_timesteps == good.timesteps == 2048


def test_a_nan_loss_stops_before_the_optimizer_step(tmp_path):
    env = envs.make("CartPole-v1", 4, 0)
    student = PPD("MlpPolicy", VecNanReward(env), n_steps=64, batch_size=128, seed=0)
    student.set_teacher(TEACHER)
    before = [parameter.clone() for parameter in student.policy.parameters()]
    with pytest.raises(TrainingDiverged) as raised:
        student.learn(512)
    message = str(raised.value)
    assert message.startswith("Update 1 (at 256 timesteps) diverged: the loss is not finite.")
    assert "policy_loss=nan" in message and "distillation_loss=" in message and "distill_lambda=1" in message
    assert all(th.equal(a, b) for a, b in zip(before, student.policy.parameters(), strict=True))


def test_a_diverged_student_is_never_checkpointed(tmp_path):
    student = _student(str(tmp_path))
    with th.no_grad():
        next(student.policy.parameters()).fill_(float("inf"))
    with pytest.raises(TrainingDiverged, match=r"hold NaN or infinite values\. There is no earlier checkpoint"):
        save_checkpoint(student, str(tmp_path))
    assert checkpoints(str(tmp_path)) == []


def test_max_divergence_stops_an_exploding_distillation_term(tmp_path):
    student = _student(str(tmp_path))
    student.set_teacher(student.teacher, max_divergence=1e-6)  # any real KL is above it
    with pytest.raises(TrainingDiverged, match=r"Update 1 .* the distillation term .* exceeds max_divergence=1e-06"):
        student.learn(256)
    with pytest.raises(ValueError, match="max_divergence must be a number > 0 or None"):
        student.set_teacher(student.teacher, max_divergence=0)


# ------------------------------------------------------------------ command line


def test_best_model_is_kept_with_its_statistics(tmp_path):
    out = tmp_path / "run"
    assert (
        main(
            [
                "distill",
                "--teacher",
                os.path.join(os.path.dirname(__file__), "teachers", "sac-Pendulum-v1.zip"),
                "--env",
                "Pendulum-v1",
                "--normalize",
                "--steps",
                "4096",
                "--n-envs",
                "4",
                "--out",
                str(out),
                "--eval-every",
                "1024",
                "--eval-episodes",
                "2",
                "--student",
                "same",
                "--no-progress",
            ]
        )
        == 0
    )
    with open(out / "evaluations.csv") as file:
        rows = [line.split(",") for line in file.read().split()[1:]]
    assert [int(row[0]) for row in rows] == [1024, 2048, 3072, 4096]
    best = json.loads((out / "best_model.json").read_text())
    best_row = max(rows, key=lambda row: float(row[1]))
    assert (best["timesteps"], best["mean_return"]) == (int(best_row[0]), float(best_row[1]))
    statistics = VecNormalize.load(str(out / best["vecnormalize"]), envs.make("Pendulum-v1", 1, 0, normalize=False))
    # VecNormalize counts every observation it saw: the 4 of the first reset, then 1 per step and environment
    assert statistics.obs_rms.count == pytest.approx(4 + best["timesteps"], abs=1)
    assert PPD.load(str(out / "best_model.zip")).num_timesteps == best["timesteps"]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(next((out / "tb").iterdir())))
    events.Reload()
    assert [event.step for event in events.Scalars("eval/mean_reward")] == [1024, 2048, 3072, 4096]


def test_unwritable_output_folder_fails_before_training(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["distill", "--teacher", TEACHER, "--steps", "1024", "--out", str(blocker / "run"), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert "cannot be written to" in error and "Choose another --out" in error


@POSIX
def test_a_failing_save_leaves_no_half_written_checkpoint(tmp_path):
    """The process may write no file past 64 KiB (RLIMIT_FSIZE): the student's checkpoint zip cannot be written."""
    import resource

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    out = tmp_path / "run"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "sb3_distill.cli.main",
            "distill",
            "--teacher",
            TEACHER,
            "--steps",
            "4096",
            "--n-envs",
            "4",
            "--checkpoint-every",
            "1024",
            "--student",
            "larger",
            "--out",
            str(out),
            "--no-progress",
            "--eval-episodes",
            "2",
        ],
        capture_output=True,
        text=True,
        preexec_fn=limit_file_size,
        timeout=300,
    )
    assert finished.returncode == 2, finished.stderr
    assert "Could not write the checkpoint of step 1024" in finished.stderr and "File too large" in finished.stderr
    assert "There is no earlier checkpoint" in finished.stderr
    assert os.listdir(out / "checkpoints") == []  # neither a checkpoint nor its temporary folder


def _distill(out, *extra) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "sb3_distill.cli.main",
        "distill",
        "--teacher",
        TEACHER,
        "--student",
        "same",
        "--steps",
        "30000",
        "--seed",
        "3",
        "--out",
        str(out),
        "--checkpoint-every",
        "5000",
        "--eval-episodes",
        "20",
        "--no-progress",
        *extra,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_checkpoint(process: subprocess.Popen, out) -> None:
    deadline = time.monotonic() + 300
    while not checkpoints(str(out)) or read_checkpoint(checkpoints(str(out))[0]) is None:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoint in 5 minutes"
        time.sleep(0.05)


@POSIX
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_saves_a_checkpoint_and_says_how_to_resume(tmp_path, stop):
    out = tmp_path / "run"
    process = _distill(out)
    _wait_for_checkpoint(process, out)
    time.sleep(1.0)
    process.send_signal(stop)
    _, error = process.communicate(timeout=120)
    assert process.returncode == 128 + stop, error
    assert f"{stop.name}: stopped at" in error and f"Resume with: sb3-distill distill --resume {out}" in error
    saved = latest_checkpoint(str(out))
    assert 5120 <= saved.timesteps < 30000  # the one saved on the signal (5120: the periodic one, if no step came between)
    # it counts only the steps the weights learned from: whole rollouts of 8 envs x 64 steps, not the dropped partial one
    assert saved.timesteps % (8 * 64) == 0
    assert f"saved {saved.folder}" in error
    assert not (out / "results.json").exists()


@POSIX
def test_sigkill_then_resume_finishes_like_an_uninterrupted_run(tmp_path):
    """Kill after the first checkpoint, resume, and compare with a run of the same seed that was never stopped.

    Comparison: both students are evaluated on the same 20 deterministic episodes (seed 10003). Their mean
    returns must agree within 3 standard errors of the difference plus 5% of the teacher's return (the
    resumed run starts fresh episodes at the checkpoint, so its later rollouts differ).
    """
    killed = tmp_path / "killed"
    process = _distill(killed)
    _wait_for_checkpoint(process, killed)
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
    checkpoint = latest_checkpoint(str(killed))
    assert checkpoint.timesteps < 30000 and not (killed / "results.json").exists()

    resumed = subprocess.run(
        [sys.executable, "-m", "sb3_distill.cli.main", "distill", "--resume", str(killed), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {killed} from {checkpoint.folder} ({checkpoint.timesteps} of 30000 timesteps)" in resumed.stdout
    uninterrupted = tmp_path / "uninterrupted"
    process = _distill(uninterrupted)
    assert process.wait(timeout=300) == 0, process.communicate()

    first = json.loads((killed / "results.json").read_text())
    second = json.loads((uninterrupted / "results.json").read_text())
    assert first["resumed"] and not second["resumed"]
    assert first["timesteps"] == second["timesteps"] >= 30000
    assert PPD.load(str(killed / "student.zip")).num_timesteps == first["timesteps"]
    standard_error = np.sqrt((first["student_std_return"] ** 2 + second["student_std_return"] ** 2) / 20)
    gap = abs(first["student_mean_return"] - second["student_mean_return"])
    print(
        f"killed at {checkpoint.timesteps} and resumed: "
        f"{first['student_mean_return']:.1f} +/- {first['student_std_return']:.1f}; "
        f"uninterrupted: {second['student_mean_return']:.1f} +/- {second['student_std_return']:.1f}; "
        f"teacher {second['teacher_mean_return']:.1f}"
    )
    assert gap <= 3 * standard_error + 0.05 * second["teacher_mean_return"], (first, second)
    assert first["student_mean_return"] >= 0.8 * first["teacher_mean_return"]  # both actually learned
    shutil.rmtree(tmp_path)


def test_a_new_run_in_a_used_folder_does_not_take_the_earlier_checkpoints(tmp_path, capsys):
    out = str(tmp_path / "run")
    common = ["distill", "--teacher", TEACHER, "--out", out, "--n-envs", "4", "--no-progress", "--eval-episodes", "1"]
    assert main([*common, "--steps", "4096", "--checkpoint-every", "1024"]) == 0
    assert _steps(checkpoints(out)) == [2048, 3072]
    assert main([*common, "--steps", "2048", "--checkpoint-every", "512"]) == 0
    assert "held checkpoints of an earlier run; they were removed" in capsys.readouterr().out
    assert _steps(checkpoints(out)) == [1024, 1536]  # PPD rollouts of 64 x 4 timesteps


def test_resume_gives_options_newer_than_the_run_their_defaults(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert (
        main(
            [
                "distill",
                "--teacher",
                TEACHER,
                "--out",
                out,
                "--n-envs",
                "4",
                "--no-progress",
                "--eval-episodes",
                "1",
                "--steps",
                "2048",
                "--checkpoint-every",
                "1024",
            ]
        )
        == 0
    )
    checkpoint = latest_checkpoint(out)
    assert checkpoint.timesteps == 1024
    manifest = dict(checkpoint.manifest)
    # the manifest as written before configs, and before --max-divergence and --teacher-score existed:
    # argparse's namespace of distill, less the entries the command line dropped
    manifest["command"] = {
        "command": "distill", "teacher": TEACHER, "best": False, "trust_pickle": False, "env": None, "method": "ppd",
        "student": "larger", "steps": 2048, "seed": 0, "out": out, "n_envs": 4, "distill_lambda": "1.0",
        "kl_mode": "forward", "distill_loss": None, "jsd_beta": 0.5, "temperature": 0.01, "normalize": None,
        "preset": None, "param": None, "eval_episodes": 1, "no_progress": True, "checkpoint_every": 1024,
        "keep_checkpoints": 2, "eval_every": 0, "eval_every_episodes": None,
    }  # fmt: skip
    del manifest["config"]
    with open(checkpoint.path("manifest.json"), "w") as file:  # as written before these options existed
        json.dump(manifest, file)
    os.remove(os.path.join(out, "results.json"))
    assert main(["distill", "--resume", out, "--no-progress"]) == 0
    assert f"resuming {out} from {checkpoint.folder} (1024 of 2048 timesteps)" in capsys.readouterr().out
    assert json.loads(open(os.path.join(out, "results.json")).read())["resumed"]


@pytest.mark.parametrize("text", ["500", "500,-1", "nan,0", "a,b"])
def test_a_malformed_teacher_score_is_refused_before_anything_runs(tmp_path, capsys, text):
    assert main(["distill", "--teacher", TEACHER, "--teacher-score", text, "--out", str(tmp_path / "run")]) == 2
    assert "--teacher-score expects" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
