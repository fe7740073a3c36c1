"""Run folders that hold (issue 15): a finished run is never retrained, one process owns a folder, stored
paths resolve from anywhere, and a refused run fails before any training and leaves no folder behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
import torch as th

from sb3_distill import PPD
from sb3_distill.cli.main import main
from sb3_distill.experiment import DistillConfig, distill, resume
from sb3_distill.experiment.run_folder import RunFolder, RunFolderBusy
from sb3_distill.runs import latest_checkpoint
from sb3_distill.teachers import bundled_teacher_path

TEACHER = bundled_teacher_path()
SMALL = dict(steps=1024, n_envs=4, checkpoint_every=512, eval_episodes=1)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "run"
    distill(DistillConfig(teacher=TEACHER, **SMALL), str(out), verbose=0)
    return out


def _stamps(folder) -> dict[str, int]:
    return {name: (folder / name).stat().st_mtime_ns for name in ("student.zip", "results.json")}


def test_resuming_a_finished_run_says_so_and_changes_nothing(finished, capsys):
    before = _stamps(finished)
    result = resume(str(finished))
    assert f"{finished} finished already (1024 of 1024 timesteps); nothing changed" in capsys.readouterr().out
    assert result.timesteps == 1024 and not result.resumed
    assert main(["distill", "--resume", str(finished), "--no-progress"]) == 0
    assert "finished already" in capsys.readouterr().out
    assert _stamps(finished) == before


@pytest.mark.parametrize(
    ("options", "refused"),
    [
        (["--steps", "50000"], "--steps (the run has steps=1024)"),
        (["--seed", "3"], "--seed (the run has seed=0)"),
        (["--param", "n_epochs=2"], "--param (the run has params={})"),
        (["--out", "elsewhere"], "--out elsewhere (the run's folder is "),
    ],
)
def test_resume_refuses_options_that_would_change_the_run(finished, capsys, options, refused):
    before = _stamps(finished)
    assert main(["distill", "--resume", str(finished), *options]) == 2
    error = capsys.readouterr().err
    assert f"--resume continues {finished} with the settings it was started with; {refused}" in error
    assert "would change them. Drop those options, or start a new run in another --out." in error
    assert _stamps(finished) == before


def test_resume_takes_options_that_repeat_the_run(finished, capsys):
    assert main(["distill", "--resume", str(finished), "--steps", "1024", "--teacher", TEACHER, "--no-progress"]) == 0
    assert "finished already" in capsys.readouterr().out


def test_a_run_folder_belongs_to_one_process_at_a_time(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from sb3_distill.experiment.run_folder import RunFolder; "
         "folder = RunFolder(sys.argv[1]); print('held', flush=True); time.sleep(60)", str(out)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(RunFolderBusy, match=rf"{out} is in use by process {holder.pid}: a run folder belongs to one run"):
            distill(DistillConfig(teacher=TEACHER, **SMALL), str(out), verbose=0)
        assert main(["distill", "--teacher", TEACHER, "--steps", "1024", "--out", str(out), "--no-progress"]) == 2
        assert os.listdir(out) == [".lock"]  # the second run touched nothing
    finally:
        holder.kill()
        holder.wait()
    # a killed owner leaves no stale lock
    deadline = time.monotonic() + 10
    while True:
        try:
            RunFolder(str(out)).release()
            break
        except RunFolderBusy:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_a_run_resumes_from_another_working_directory(tmp_path, monkeypatch):
    (tmp_path / "teachers").mkdir()
    shutil.copy(TEACHER, tmp_path / "teachers" / "CartPole-v1.zip")
    monkeypatch.chdir(tmp_path)
    distill(DistillConfig(teacher="teachers/CartPole-v1.zip", env="CartPole-v1", **SMALL), "run", verbose=0)
    stored = latest_checkpoint(str(tmp_path / "run")).manifest
    assert stored["config"]["teacher"] == str(tmp_path / "teachers" / "CartPole-v1.zip")
    os.remove(tmp_path / "run" / "results.json")  # as if killed before the end
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = resume(str(tmp_path / "run"), verbose=0)
    assert result.resumed and result.timesteps == 1024


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("batch_size=0", "--param: ProximalPolicyDistillation refused its arguments {'batch_size': 0}"),
        ("n_epoch=3", "--param: unknown argument 'n_epoch' of ppd (ProximalPolicyDistillation); did you mean 'n_epochs'?"),
        ("n_steps=abc", "--param: n_steps expects a number, got 'abc'."),
        ("learning_rate=lin_x", "--param: learning_rate expects a number or an RL Zoo schedule such as lin_3e-4, got 'lin_x'"),
        ("seed=3", "--param: seed is not an algorithm argument a run takes: the run's seed"),
    ],
)
def test_bad_algorithm_arguments_fail_in_one_line_before_training_and_leave_no_folder(tmp_path, capsys, param, message):
    out = tmp_path / "run"
    assert main(["distill", "--teacher", TEACHER, "--param", param, "--out", str(out), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1
    assert "teacher mean return" not in capsys.readouterr().out
    assert not out.exists()


def test_zoo_schedules_and_policy_kwargs_reach_the_student(tmp_path):
    out = tmp_path / "run"
    result = distill(
        DistillConfig(teacher=TEACHER, params={"learning_rate": "lin_1e-3", "policy_kwargs": {"net_arch": [16]}}, **SMALL),
        str(out),
        verbose=0,
    )
    assert result.record["student_net_arch"] == [16]  # on top of the size preset's network
    student = PPD.load(str(out / "student.zip"))
    assert student.lr_schedule(1.0) == pytest.approx(1e-3) and student.lr_schedule(0.25) == pytest.approx(2.5e-4)
    assert json.loads((out / "results.json").read_text())["config"]["params"]["learning_rate"] == "lin_1e-3"


def _nan_teacher(tmp_path) -> str:
    from stable_baselines3 import PPO

    model = PPO.load(TEACHER)
    with th.no_grad():
        next(model.policy.parameters()).fill_(float("nan"))
    path = str(tmp_path / "nan-teacher.zip")
    model.save(path)
    return path


def test_a_nan_teacher_is_refused_before_it_is_evaluated(tmp_path, capsys):
    teacher = _nan_teacher(tmp_path)
    assert main(["distill", "--teacher", teacher, "--env", "CartPole-v1", "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert "The teacher's weights ['mlp_extractor.policy_net.0.weight'] hold NaN or infinite values" in error
    assert not (tmp_path / "run").exists()


def test_a_teacher_that_turns_nan_while_acting_stops_teacher_distill_with_the_guard(tmp_path):
    from stable_baselines3.common.callbacks import BaseCallback

    from sb3_distill.common.training_guard import TrainingDiverged

    class PoisonTeacher(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps >= 100:
                with th.no_grad():
                    for parameter in self.model.teacher.policy.parameters():
                        parameter.fill_(float("nan"))
            return True

    config = DistillConfig(teacher=TEACHER, method="teacher-distill", **SMALL)
    with pytest.raises(TrainingDiverged, match=r"The teacher's outputs are not finite \(NaN or infinite\)"):
        distill(config, str(tmp_path / "run"), callbacks=[PoisonTeacher()], verbose=0)


class _NeedsAMissingPackage:
    def __init__(self, **kwargs):
        import gymnasium as gym

        raise gym.error.DependencyNotInstalled('Box2D is not installed, run `pip install "gymnasium[box2d]"`')


def test_an_environment_whose_package_is_missing_gives_one_line(capsys):
    import gymnasium as gym

    if "NeedsAMissingPackage-v0" not in gym.registry:
        gym.register("NeedsAMissingPackage-v0", entry_point=_NeedsAMissingPackage)
    assert main(["info", "--env", "NeedsAMissingPackage-v0"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("sb3-distill info: error: NeedsAMissingPackage-v0 cannot be made here: Box2D is not installed")
    assert len(error.strip().splitlines()) == 1


def test_conventions_version_help_defaults_device_and_tensorboard_folder(tmp_path, capsys):
    from sb3_distill import __version__

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.strip() == f"sb3-distill {__version__}"
    assert (
        main([]) == 0
        and "{train-teacher,distill,corrupt,bench,report,export,evaluate,package,info}" in capsys.readouterr().out
    )
    with pytest.raises(SystemExit):
        main(["distill", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "environment steps of distillation (default: 50000)" in text and "(default: 0)" in text
    out, tb = tmp_path / "run", tmp_path / "tensorboard"
    command = ["distill", "--teacher", TEACHER, "--steps", "1000", "--n-envs", "4", "--eval-episodes", "1", "--out", str(out)]
    assert main([*command, "--device", "cpu", "--tensorboard-log", str(tb)]) == 0
    assert any(name.startswith("events.out.tfevents") for _, _, names in os.walk(tb) for name in names)
    assert not (out / "tb").exists()
    # the progress bar stops at the run's total, although the last rollout of 256 steps ends at 1024
    progress = capsys.readouterr().err
    assert "1000/1000" in progress and "1024/1000" not in progress


def test_corrupt_does_not_overwrite_the_record_of_the_teacher_beside_it(tmp_path, capsys):
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    shutil.copy(TEACHER, teacher / "CartPole-v1.zip")
    record = {"env": "CartPole-v1", "eval_mean_return": 500.0}
    (teacher / "config.json").write_text(json.dumps(record))
    command = ["corrupt", "--teacher", str(teacher / "CartPole-v1.zip"), "--eval-episodes", "1"]
    assert main([*command, "--out", str(teacher / "noisy.zip")]) == 2
    assert "describes another teacher" in capsys.readouterr().err
    assert json.loads((teacher / "config.json").read_text()) == record and not (teacher / "noisy.zip").exists()
    assert main([*command, "--out", str(tmp_path / "noisy" / "noisy.zip")]) == 0
    again = main([*command, "--out", str(tmp_path / "noisy" / "noisy.zip"), "--sigma", "0.1"])  # its own record: replaced
    assert again == 0 and json.loads((tmp_path / "noisy" / "config.json").read_text())["sigma"] == 0.1


def test_a_zoo_schedule_survives_a_safe_resume(tmp_path):
    out = tmp_path / "run"
    distill(DistillConfig(teacher=TEACHER, params={"learning_rate": "lin_1e-3"}, **SMALL), str(out), verbose=0)
    os.remove(out / "results.json")
    result = resume(str(out), verbose=0)  # the checkpoint's student (with its LinearSchedule) through the allow-list
    assert result.resumed and result.timesteps == 1024


def test_a_folder_train_teacher_wrote_can_be_given_as_the_teacher(tmp_path, capsys):
    folder = tmp_path / "teacher"
    assert main(["train-teacher", "--env", "CartPole-v1", "--steps", "256", "--n-envs", "2", "--eval-episodes", "1",
                 "--out", str(folder), "--no-progress"]) == 0  # fmt: skip
    out = tmp_path / "run"
    assert main(["distill", "--teacher", str(folder), "--steps", "256", "--n-envs", "2", "--eval-episodes", "1",
                 "--out", str(out), "--no-progress"]) == 0  # fmt: skip
    results = json.loads((out / "results.json").read_text())
    assert results["env"] == "CartPole-v1" and results["teacher"] == str(folder / "CartPole-v1.zip")


def test_a_failing_final_save_names_the_last_good_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    (out / "student.zip").mkdir(parents=True)  # the final student cannot be written there
    command = ["distill", "--teacher", TEACHER, "--steps", "1024", "--n-envs", "4", "--checkpoint-every", "512"]
    assert main([*command, "--eval-episodes", "1", "--out", str(out), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert f"Could not save the final student in {out}" in error
    assert f"The last good checkpoint is {out / 'checkpoints' / 'step-000000000512'} (512 timesteps)" in error
    assert len(error.strip().splitlines()) == 1


def test_a_hub_teacher_without_the_hub_extra_gives_one_line_and_no_folder(tmp_path, capsys, monkeypatch):
    # None in sys.modules is how Python marks a package as absent: importing it raises ImportError
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    out = tmp_path / "run"
    assert main(["distill", "--teacher", "hf://sb3/ppo-CartPole-v1", "--out", str(out), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert "Hub teachers need huggingface_hub: pip install 'sb3-distill[hub]'" in error
    assert len(error.strip().splitlines()) == 1
    assert not out.exists()
