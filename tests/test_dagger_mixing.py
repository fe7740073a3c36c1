"""DAgger's β in student-distill (``teacher_action_prob``): each environment executes the teacher's action with
probability β, and the teacher labels each state as it acts.

The teacher knows IdentityEnv's answer (its Q is 10 for the right action and 0 for the others, so that
softmax(Q / 0.01) picks it with probability 1 - 3e-434), so an executed action equal to the observation is
the teacher's, or a lucky guess of the student's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import IdentityEnv

from sb3_distill import StudentDistill, TeacherDistill, load_teacher, schedules
from sb3_distill.experiment import DistillConfig, distill

N = 4  # IdentityEnv's states and actions
N_ENVS = 4


def knowing_teacher() -> DQN:
    model = DQN("MlpPolicy", IdentityEnv(N), policy_kwargs={"net_arch": []}, device="cpu")
    for q_net in (model.q_net, model.q_net_target):
        with th.no_grad():
            q_net.q_net[0].weight.copy_(10 * th.eye(N))
            q_net.q_net[0].bias.zero_()
    return model


def student(teacher_action_prob, n_steps: int = 32, seed: int = 0, **kwargs) -> StudentDistill:
    env = make_vec_env(lambda: IdentityEnv(N), N_ENVS, seed=seed)
    return StudentDistill(
        "MlpPolicy", env, teacher=knowing_teacher(), n_steps=n_steps, seed=seed, device="cpu",
        teacher_action_prob=teacher_action_prob, **kwargs,
    )  # fmt: skip


def right(model: StudentDistill) -> np.ndarray:
    """Whether each executed action of the last rollout was the right one (the observation)."""
    buffer = model.rollout_buffer
    return buffer.actions.reshape(-1) == buffer.observations.reshape(-1)


def test_beta_one_executes_the_teachers_actions_and_labels_them_as_it_acts():
    model = student(1.0)
    model.learn(3 * 32 * N_ENVS)
    assert right(model).all()  # 128 actions: an untrained student would get a quarter of them right
    teacher = load_teacher(model.teacher)
    observations = model.rollout_buffer.observations.reshape(-1).astype(np.int64)
    expected, _ = teacher.label(observations)
    np.testing.assert_allclose(model.rollout_buffer.teacher_params, expected.numpy(), atol=1e-6)
    assert model._executed_by_teacher == [32 * N_ENVS, 32 * N_ENVS]


def test_beta_zero_is_student_distill_number_for_number():
    mixed = student(0.0)
    mixed.learn(2 * 32 * N_ENVS)  # each model seeds the global generators when it is built: build, then learn
    env = make_vec_env(lambda: IdentityEnv(N), N_ENVS, seed=0)
    reference = StudentDistill("MlpPolicy", env, teacher=knowing_teacher(), n_steps=32, seed=0, device="cpu")
    reference.learn(2 * 32 * N_ENVS)
    for ours, theirs in zip(mixed.policy.parameters(), reference.policy.parameters(), strict=True):
        assert th.equal(ours, theirs)


def test_beta_one_half_hands_about_half_the_steps_to_the_teacher():
    model = student(0.5, n_steps=256)
    model.learn(256 * N_ENVS)
    by_teacher, steps = model._executed_by_teacher
    assert steps == 1024
    # Binomial(1024, 0.5): 4 standard deviations are 0.0625
    assert abs(by_teacher / steps - 0.5) < 0.0625, by_teacher
    # the student guesses right a quarter of the time where the teacher does not act: 0.5 + 0.5 / 4 in all
    assert abs(right(model).mean() - 0.625) < 0.08, right(model).mean()


def test_a_schedule_of_beta_goes_from_the_teacher_to_the_student():
    model = student("lin:1:0:2048")
    assert isinstance(model.teacher_action_prob, schedules.Linear)
    model.learn(32 * N_ENVS)  # the first rollout, at β from 1 to 0.94: the teacher acts almost everywhere
    assert right(model).mean() > 0.9
    model.learn(2048, reset_num_timesteps=False)  # β has reached 0: the student alone acts
    assert model.current_teacher_action_prob() == 0.0 and model._executed_by_teacher[0] == 0
    assert right(model).mean() < 0.9  # an untrained-for-long student is not yet always right


def test_bad_betas_are_refused_before_training():
    with pytest.raises(ValueError, match=r"expected a number in \[0, 1\], got 1.5"):
        student(1.5)
    with pytest.raises(ValueError, match="'ratio' is a schedule of λ"):
        student("ratio")
    with pytest.raises(ValueError, match=r"got 2.0 from linear\(2.0, 0.0, 10\)"):
        student(schedules.linear(2.0, 0.0, 10))
    with pytest.raises(ValueError, match="teacher-distill executes the teacher's action at every step"):
        TeacherDistill("MlpPolicy", IdentityEnv(N), teacher=knowing_teacher(), teacher_action_prob=0.5)
    with pytest.raises(ValueError, match="squashed gSDE student"):
        StudentDistill(
            "MlpPolicy", "Pendulum-v1", use_sde=True, policy_kwargs={"squash_output": True}, teacher_action_prob=0.5
        )
    model = student(lambda timesteps: 2.0)
    with pytest.raises(ValueError, match=r"expected a number in \[0, 1\], got 2.0 from the schedule"):
        model.learn(32 * N_ENVS)


def test_the_student_saves_without_beta_and_loads_as_ppo(tmp_path):
    model = student(schedules.linear(1.0, 0.0, 1000))
    model.learn(32 * N_ENVS)
    model.save(tmp_path / "student.zip")
    assert isinstance(PPO.load(tmp_path / "student.zip", device="cpu"), PPO)
    assert StudentDistill.load(tmp_path / "student.zip", device="cpu").teacher_action_prob == 0.0


def test_the_run_api_takes_beta_from_params(tmp_path):
    result = distill(
        DistillConfig(
            method="student-distill", steps=1024, n_envs=2, eval_episodes=2, params={"teacher_action_prob": "lin:1:0:1024"}
        ),
        str(tmp_path / "run"),
        verbose=0,
    )
    assert result.record["params"]["teacher_action_prob"] == "lin:1:0:1024"
    assert result.timesteps >= 1024


def test_a_dagger_student_learns_the_bundled_teacher(tmp_path):
    """The bundled CartPole-v1 teacher (500) into the smaller student, β from 1 to 0 over the first half of
    20k steps. Measured: 500.0 over 20 episodes (477.6 with β = 0, the same run otherwise)."""
    config = DistillConfig(
        method="student-distill", student="smaller", steps=20_000, params={"teacher_action_prob": "lin:1:0:10000"}
    )
    result = distill(config, str(tmp_path / "run"), verbose=0)
    assert result.student_score.mean >= 0.9 * result.teacher_score.mean, (result.student_score, result.teacher_score)


def test_a_recurrent_student_mixes_the_teachers_actions_in_too():
    from sb3_distill.recurrent import RecurrentStudentDistill, RecurrentTeacherDistill

    env = make_vec_env(lambda: IdentityEnv(N), N_ENVS, seed=0)
    kwargs = {
        "teacher": knowing_teacher(),
        "n_steps": 32,
        "seed": 0,
        "device": "cpu",
        "policy_kwargs": {"lstm_hidden_size": 8},
    }
    model = RecurrentStudentDistill("MlpLstmPolicy", env, teacher_action_prob=1.0, **kwargs)
    model.learn(2 * 32 * N_ENVS)
    assert right(model).all() and model._executed_by_teacher == [32 * N_ENVS, 32 * N_ENVS]
    model = RecurrentStudentDistill("MlpLstmPolicy", env, teacher_action_prob=0.0, **kwargs)
    model.learn(2 * 32 * N_ENVS)
    assert right(model).mean() < 0.6  # the untrained LSTM student acts: about a quarter right
    with pytest.raises(ValueError, match="teacher-distill executes the teacher's action at every step"):
        RecurrentTeacherDistill("MlpLstmPolicy", env, teacher_action_prob=0.5, **kwargs)
