"""The run API: configs that check themselves, runs started, killed and resumed from Python alone, and the
grid and the CLI giving the same run folder for the same settings."""

from __future__ import annotations

import csv
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from sb3_distill import PPD
from sb3_distill.bench import run_grid
from sb3_distill.cli.main import main
from sb3_distill.experiment import (
    METHODS,
    ConfigError,
    CorruptionConfig,
    DistillConfig,
    TeacherConfig,
    resume,
    run_config,
)
from sb3_distill.runs import latest_checkpoint, read_checkpoint
from sb3_distill.runs.checkpoints import checkpoints
from sb3_distill.teachers import bundled_teacher_path

TEACHER = bundled_teacher_path()  # PPO on CartPole-v1, 500 over 50 episodes
PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "sb3_distill"


# ------------------------------------------------------------------ configs


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"steps": 0}, "steps must be positive, got 0"),
        ({"n_envs": -2}, "n_envs must be positive, got -2"),
        ({"steps": 1.5}, r"steps must be an integer, got 1.5 \(float\)"),
        ({"eval_every": -1}, r"eval_every must be 0 \(off\) or positive, got -1"),
        ({"method": "bc"}, r"method must be one of \['ppd', 'student-distill', 'teacher-distill', 'ppo'\], got 'bc'"),
        ({"student": "tiny"}, "student must be one of"),
        ({"kl_mode": "sideways"}, "kl_mode must be 'forward' or 'reverse', got 'sideways'"),
        ({"distill_lambda": -1.0}, r"distill_lambda must be a finite number >= 0, got -1\.0"),
        ({"distill_lambda": "lin:3:oops:10"}, "Cannot read λ 'lin:3:oops:10'"),
        ({"method": "ppo", "distill_lambda": 1.0}, "method 'ppo' fixes λ = 0.0"),
        ({"preset": "fast"}, r"preset must be one of \['paper'\], got 'fast'"),
        ({"teacher_score": (500.0, -1.0)}, "teacher_score must have a finite mean and a std >= 0"),
        ({"max_divergence": 0}, "max_divergence must be a number > 0 or None"),
        ({"params": {"n steps": 4}}, "params must be a mapping of algorithm argument names"),
    ],
)
def test_a_distill_config_refuses_bad_settings_on_construction(settings, message):
    with pytest.raises(ValueError, match=message):
        DistillConfig(**settings)


def test_teacher_and_corruption_configs_check_themselves():
    with pytest.raises(ConfigError, match="steps must be positive, got 0"):
        TeacherConfig(env="CartPole-v1", steps=0)
    with pytest.raises(ConfigError, match=r"net_arch must be positive layer widths such as \(64, 64\), got \(64, 0\)"):
        TeacherConfig(env="CartPole-v1", steps=10, net_arch=(64, 0))
    with pytest.raises(ConfigError, match=r"sigma must be a finite number >= 0, got -0\.1"):
        CorruptionConfig(teacher=TEACHER, sigma=-0.1)


def test_a_config_round_trips_through_its_dict_and_json():
    config = DistillConfig(
        teacher=TEACHER, method="student-distill", distill_lambda="lin:3:0.5:1e5", params={"n_steps": 8}, teacher_score=(1, 0)
    )
    assert DistillConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert config.teacher_score == (1.0, 0.0) and DistillConfig(distill_lambda="2").distill_lambda == 2.0
    assert DistillConfig(method="ppo").distill_lambda == 0.0 and DistillConfig().distill_lambda == 1.0
    with pytest.raises(ConfigError, match=r"Unknown distillation settings \['lambda'\]"):
        DistillConfig.from_dict({"lambda": 2.0})


def test_the_registry_gives_each_method_its_algorithm_defaults_and_presets():
    assert METHODS["ppo"].algorithm is METHODS["ppd"].algorithm is PPD
    assert METHODS["ppd"].params(None)["n_epochs"] == 10 and METHODS["ppd"].params("paper")["n_epochs"] == 4
    assert DistillConfig(preset="paper", params={"n_epochs": 3}).algorithm_params()["n_epochs"] == 3  # params win


def test_nothing_outside_the_cli_imports_the_cli():
    """The library never depends on its command line: the CLI imports the library, not the reverse."""
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{number}"
        for path in PACKAGE.rglob("*.py")
        if PACKAGE / "cli" not in path.parents
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "sb3_distill.cli" in line or "from sb3_distill import cli" in line
    ]
    assert offenders == []


# ------------------------------------------------------------------ runs from Python


_START = """
import sys
from sb3_distill.experiment import DistillConfig, distill
config = DistillConfig(teacher=sys.argv[1], student="same", steps=6144, seed=1, n_envs=4,
                       checkpoint_every=1024, eval_every=1024, eval_every_episodes=2, eval_episodes=5)
distill(config, sys.argv[2], verbose=0)
"""


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_a_run_is_started_killed_and_resumed_from_python_alone(tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-c", _START, TEACHER, str(out)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    # wait for the second checkpoint, so that the run has evaluations before and after the last one
    while len([folder for folder in checkpoints(str(out)) if read_checkpoint(folder) is not None]) < 2:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no second checkpoint in 5 minutes"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    checkpoint = latest_checkpoint(str(out))
    assert 2048 <= checkpoint.timesteps < 6144 and not (out / "results.json").exists()
    assert run_config(checkpoint).steps == 6144  # the manifest holds the config itself

    result = resume(str(out), verbose=0)

    assert result.resumed and result.timesteps == 6144 == PPD.load(result.student_path).num_timesteps
    assert result.config == DistillConfig(
        teacher=TEACHER, env="CartPole-v1", student="same", steps=6144, seed=1, n_envs=4,
        checkpoint_every=1024, eval_every=1024, eval_every_episodes=2, eval_episodes=5,
    )  # fmt: skip
    with open(out / "evaluations.csv") as file:
        steps = [int(row["timesteps"]) for row in csv.DictReader(file)]
    # one evaluation every 1024 steps, none lost or repeated across the kill
    assert steps == list(range(1024, 6144 + 1, 1024))
    assert (out / "best_model.zip").exists()
    saved = json.loads((out / "results.json").read_text())
    assert saved["resumed"] and saved["timesteps"] == 6144
    assert saved["config"] == json.loads(json.dumps(result.config.to_dict()))
    assert saved["teacher_mean_return"] == checkpoint.manifest["teacher_score"]["mean"]  # not evaluated again


# ------------------------------------------------------------------ the grid and the CLI


VOLATILE = ("command", "periodic_evaluation_seconds")


def test_the_grid_and_the_cli_give_the_same_run_folder(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        textwrap.dedent(
            f"""\
            seeds: [0]
            methods: [ppd]
            students: [smaller]
            envs:
              CartPole-v1:
                teacher: {TEACHER}
                distill_steps: 1024
                eval_episodes: 2
                n_envs: 2
                curve_points: 2
                curve_episodes: 1
                params: {{ppd: {{n_epochs: 2}}}}
            """
        )
    )
    counts = run_grid(str(spec), str(tmp_path / "grid"), verbose=0)
    assert counts == {"done": 2, "skipped": 0, "failed": 0}  # the teacher job (a source) and the run
    by_grid = tmp_path / "grid" / "runs" / "CartPole-v1" / "original" / "ppd-smaller-s0"
    by_cli = tmp_path / "cli"
    command = [
        "distill", "--teacher", TEACHER, "--env", "CartPole-v1", "--method", "ppd", "--student", "smaller",
        "--steps", "1024", "--seed", "0", "--n-envs", "2", "--eval-episodes", "2", "--eval-every", "512",
        "--eval-every-episodes", "1", "--param", "n_epochs=2", "--out", str(by_cli), "--no-progress",
    ]  # fmt: skip
    assert main(command) == 0

    def manifest(folder: pathlib.Path) -> dict:
        return {key: value for key, value in latest_checkpoint(str(folder)).manifest.items() if key != "files"}

    assert manifest(by_grid) == manifest(by_cli)
    assert latest_checkpoint(str(by_grid)).manifest["config"]["params"] == {"n_epochs": 2}
    grid_results, cli_results = (json.loads((folder / "results.json").read_text()) for folder in (by_grid, by_cli))
    assert {key: value for key, value in grid_results.items() if key not in VOLATILE} == {
        key: value for key, value in cli_results.items() if key not in VOLATILE
    }
    assert (by_grid / "evaluations.csv").read_text() == (by_cli / "evaluations.csv").read_text()
    assert cli_results["command"].startswith("sb3-distill distill --teacher") and grid_results["command"] is None
