"""Presets: ``preset="paper"`` fills in what the caller leaves out, and nothing the caller gives."""

from __future__ import annotations

import json

import pytest
from stable_baselines3.common.env_util import make_vec_env

from sb3_distill import PPD, StudentDistill, TeacherDistill
from sb3_distill.cli.main import main
from sb3_distill.common.presets import PAPER_ONLINE, PAPER_PPD, accepts_presets
from sb3_distill.teachers import bundled_teacher_path


@pytest.fixture
def env():
    return make_vec_env("CartPole-v1", n_envs=8, seed=0)


def _settings(model, names):
    return {name: getattr(model, name) for name in names}


HYPERPARAMETERS = (
    "n_steps",
    "batch_size",
    "n_epochs",
    "gamma",
    "gae_lambda",
    "ent_coef",
    "vf_coef",
    "max_grad_norm",
    "distill_lambda",
    "kl_mode",
)


def test_the_paper_preset_sets_appendix_a3(env):
    model = PPD("MlpPolicy", env, preset="paper")
    assert _settings(model, HYPERPARAMETERS) == {name: PAPER_PPD[name] for name in HYPERPARAMETERS}
    assert model.learning_rate == 3e-4 and model.clip_range(1.0) == 0.2 and model.preset == "paper"
    for cls in (StudentDistill, TeacherDistill):
        online = cls("MlpPolicy", env, preset="paper")
        assert (
            (online.n_steps, online.learning_rate, online.ent_coef)
            == (5, 3e-4, 0.0)
            == tuple(PAPER_ONLINE[name] for name in ("n_steps", "learning_rate", "ent_coef"))
        )


def test_without_a_preset_the_defaults_are_ppos(env):
    model = PPD("MlpPolicy", env)
    assert (model.n_steps, model.batch_size, model.n_epochs, model.gamma, model.gae_lambda) == (2048, 64, 10, 0.99, 0.95)
    assert model.preset is None


def test_arguments_given_win_over_the_preset_even_at_their_default_value(env):
    # n_epochs=10 is PPO's default: given explicitly, it must still win over the preset's 4
    model = PPD("MlpPolicy", env, 1e-3, preset="paper", n_epochs=10, distill_lambda=2.0)
    assert (model.learning_rate, model.n_epochs, model.distill_lambda) == (1e-3, 10, 2.0)
    assert (model.n_steps, model.gamma) == (64, 0.999)  # the rest from the preset


def test_an_unknown_preset_names_the_known_ones(env):
    with pytest.raises(ValueError, match=r"Unknown preset 'fast'; expected one of \['paper'\]"):
        PPD("MlpPolicy", env, preset="fast")


def test_the_preset_survives_save_and_load(env, tmp_path):
    PPD("MlpPolicy", env, preset="paper").save(tmp_path / "student.zip")
    loaded = PPD.load(tmp_path / "student.zip")
    assert loaded.preset == "paper" and (loaded.n_steps, loaded.batch_size, loaded.n_epochs) == (64, 512, 4)


def test_a_preset_naming_an_argument_the_class_lacks_is_refused_at_definition():
    with pytest.raises(TypeError, match=r"name arguments it does not take: \['n_epoch'\]"):

        @accepts_presets({"typo": {"n_epoch": 4}})
        def __init__(self, n_epochs: int = 10, preset: str | None = None) -> None:
            pass


def test_cli_preset_with_an_override(tmp_path):
    out = tmp_path / "run"
    assert (
        main(
            [
                "distill",
                "--teacher",
                bundled_teacher_path(),
                "--preset",
                "paper",
                "--param",
                "n_epochs=10",
                "--steps",
                "1024",
                "--out",
                str(out),
                "--eval-episodes",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    assert results["preset"] == "paper"
    assert results["params"] == {
        **{key: value for key, value in PAPER_PPD.items() if key not in ("distill_lambda", "kl_mode")},
        "n_epochs": 10,
    }
    student = PPD.load(out / "student.zip")
    assert (student.batch_size, student.n_epochs, student.preset) == (512, 10, "paper")


def test_the_default_ppd_takes_at_least_as_many_optimizer_steps_per_sample_as_student_distill(env):
    """Issue 6: with the paper's 4 epochs, PPD's distillation term got one optimizer step per 64 samples,
    student-distill one per 40, and PPD fell behind early on MuJoCo. The tools' default must not."""
    from stable_baselines3 import PPO

    from sb3_distill.experiment import method_params

    teacher = PPO.load(bundled_teacher_path())
    steps_per_sample = {}
    for method, cls in (("ppd", PPD), ("student-distill", StudentDistill)):
        model = cls("MlpPolicy", env, seed=0, **method_params(method, None))
        model.set_teacher(teacher)
        calls = []
        step = model.policy.optimizer.step
        model.policy.optimizer.step = lambda *args, calls=calls, step=step, **kwargs: (calls.append(1), step(*args, **kwargs))[
            1
        ]
        model.learn(total_timesteps=1024)
        steps_per_sample[method] = len(calls) / model.num_timesteps
    assert steps_per_sample["ppd"] >= steps_per_sample["student-distill"] > 0
    paper = method_params("ppd", "paper")
    assert (
        paper["n_epochs"] * -(-paper["n_steps"] * 8 // paper["batch_size"]) / (paper["n_steps"] * 8)
        < steps_per_sample["student-distill"]
    )  # the paper's setting is the one that fell behind
