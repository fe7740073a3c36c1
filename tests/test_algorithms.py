"""Each algorithm on SB3's identity environments, for every action-space type; λ, logging, teacher labelling."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import IdentityEnvBox
from stable_baselines3.common.logger import Logger, configure

from sb3_distill import PPD, StudentDistill, Teacher, TeacherDistill
from sb3_distill.common.action_params import action_params
from tests.conftest import ALGORITHMS, IDENTITY_ENVS, identity_vec_env, mean_teacher_kl

SMALL = {
    PPD: dict(n_steps=32, batch_size=64, n_epochs=4, learning_rate=3e-3),
    StudentDistill: dict(n_steps=8, learning_rate=3e-3),
    TeacherDistill: dict(n_steps=8, learning_rate=3e-3),
}


def sample_observations(kind: str, n: int = 256) -> np.ndarray:
    env = IDENTITY_ENVS[kind]()
    env.observation_space.seed(0)
    return np.stack([env.observation_space.sample() for _ in range(n)])


@pytest.mark.parametrize("kind", sorted(IDENTITY_ENVS))
@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.__name__)
def test_distillation_reduces_teacher_kl(algorithm, kind, identity_teachers):
    """Every method, on every action-space type, pulls the student's distribution towards the teacher's."""
    model = algorithm("MlpPolicy", identity_vec_env(kind), seed=1, policy_kwargs={"net_arch": [32]}, **SMALL[algorithm])
    model.set_teacher(identity_teachers[kind])
    observations = sample_observations(kind)
    before = mean_teacher_kl(model, observations)
    model.learn(2000)
    after = mean_teacher_kl(model, observations)
    assert before > 0.05, f"the untrained student should differ from the teacher (KL {before:.4f})"
    assert after < 0.5 * before, f"{algorithm.__name__} on {kind}: KL {before:.4f} -> {after:.4f}"


@pytest.mark.parametrize("teacher_sde, student_sde", [(True, False), (False, True)])
def test_gsde_teacher_teaches_gaussian_student_and_vice_versa(teacher_sde, student_sde):
    """Means are matched exactly; the KL falls but keeps a floor, since only gSDE has a state-dependent std."""
    env = make_vec_env(lambda: IdentityEnvBox(eps=0.5), n_envs=4, seed=0)
    teacher = PPO("MlpPolicy", env, use_sde=teacher_sde, n_steps=64, batch_size=64, seed=0, policy_kwargs={"net_arch": [32]})
    teacher.learn(2000)
    student = StudentDistill(
        "MlpPolicy", env, use_sde=student_sde, seed=1, policy_kwargs={"net_arch": [32]}, **SMALL[StudentDistill]
    )
    student.set_teacher(teacher)
    observations = sample_observations("box")

    def mean_gap() -> float:
        teacher_params, _ = student.teacher.label(observations)
        with th.no_grad():
            student_params = action_params(student.policy.get_distribution(student.policy.obs_to_tensor(observations)[0]))
        return float((teacher_params[:, :1] - student_params[:, :1]).pow(2).mean())

    kl_before, gap_before = mean_teacher_kl(student, observations), mean_gap()
    student.learn(3000)
    assert mean_gap() < 0.05 * gap_before
    assert mean_teacher_kl(student, observations) < 0.75 * kl_before


def visited_observations(env, steps: int = 16) -> dict[str, np.ndarray]:
    """Observations of the states a policy visits (random actions): there the distillation term pulls the student
    to the teacher. Random draws from the observation space (random images) lie off those states, where the KL
    after training depends on the run, down to the number of torch threads."""
    batches = [env.reset()]
    for _ in range(steps - 1):
        batches.append(env.step(np.array([env.action_space.sample() for _ in range(env.num_envs)]))[0])
    return {key: np.concatenate([batch[key] for batch in batches]) for key in batches[0]}


def test_dict_observations(identity_teachers):
    from stable_baselines3.common.envs import SimpleMultiObsEnv

    # SimpleMultiObsEnv draws its states' images and vectors from NumPy's global generator, which the tests run
    # before this one (on the same xdist worker) leave in another state each time; seeded, the env is the same.
    np.random.seed(0)
    env = make_vec_env(lambda: SimpleMultiObsEnv(random_start=False), n_envs=2, seed=0)
    teacher = PPO("MultiInputPolicy", env, n_steps=32, batch_size=32, seed=0)
    teacher.learn(256)
    for algorithm in ALGORITHMS:
        student = algorithm("MultiInputPolicy", env, seed=1, **SMALL[algorithm])
        student.set_teacher(teacher)
        observations = visited_observations(student.get_env())  # as the student sees them (images channel-first)
        before = mean_teacher_kl(student, observations)
        student.learn(1024)
        # measured with seeds 0-3: PPD keeps at most 0.21 of the KL it started with, the baselines under 0.01
        assert mean_teacher_kl(student, observations) < 0.5 * before


def _logged(model, steps: int) -> dict[str, float]:
    """Train with a logger whose last dumped values are kept."""

    class KeepingLogger(Logger):
        def dump(self, step: int = 0) -> None:
            self.kept = dict(self.name_to_value)
            super().dump(step)

    model.set_logger(KeepingLogger(folder=None, output_formats=[]))
    model.learn(steps, log_interval=1)
    return model.logger.kept


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.__name__)
def test_logged_keys(algorithm, identity_teachers):
    model = algorithm("MlpPolicy", identity_vec_env("discrete"), seed=0, **SMALL[algorithm])
    model.set_teacher(identity_teachers["discrete"], distill_lambda=0.7)
    logged = _logged(model, 512)
    for key in ["train/distillation_loss", "train/teacher_kl", "train/action_agreement", "train/loss"]:
        assert key in logged, key
    assert logged["train/distillation_lambda"] == pytest.approx(0.7)
    assert 0.0 <= logged["train/action_agreement"] <= 1.0
    assert logged["train/teacher_kl"] >= 0.0
    if algorithm is PPD:
        for key in [
            "train/policy_gradient_loss",
            "train/value_loss",
            "train/approx_kl",
            "train/clip_fraction",
            "train/entropy_loss",
        ]:
            assert key in logged, key


def test_continuous_actions_log_no_action_agreement(identity_teachers):
    model = PPD("MlpPolicy", identity_vec_env("box"), seed=0, **SMALL[PPD])
    model.set_teacher(identity_teachers["box"])
    assert "train/action_agreement" not in _logged(model, 256)


def test_lambda_callable_of_timesteps(identity_teachers):
    seen = []

    def schedule(timesteps: int) -> float:
        seen.append(timesteps)
        return 2.0 if timesteps < 256 else 0.5

    model = PPD("MlpPolicy", identity_vec_env("discrete"), seed=0, **SMALL[PPD])
    model.set_teacher(identity_teachers["discrete"], distill_lambda=schedule)
    logged = _logged(model, 512)
    assert logged["train/distillation_lambda"] == pytest.approx(0.5)
    assert 128 in seen and 512 in seen  # called with the elapsed timesteps at each update


def test_lambda_zero_is_plain_ppo(identity_teachers):
    """With λ = 0 the PPD update is exactly PPO's: same seed, same data, same parameters."""
    kwargs = dict(seed=3, policy_kwargs={"net_arch": [16]}, **SMALL[PPD])
    ppd = PPD("MlpPolicy", identity_vec_env("discrete", seed=5), **kwargs)
    ppd.set_teacher(identity_teachers["discrete"], distill_lambda=0.0)
    ppd.learn(256)
    ppo = PPO("MlpPolicy", identity_vec_env("discrete", seed=5), **kwargs)
    ppo.learn(256)
    for a, b in zip(ppd.policy.parameters(), ppo.policy.parameters(), strict=True):
        assert th.allclose(a, b, atol=1e-6)


def test_teacher_labels_each_transition_once_and_student_actor_runs_once_per_minibatch(identity_teachers, monkeypatch):
    labelled = []
    original_label = Teacher.label

    def counting_label(self, obs, with_values=False):
        labelled.append(len(obs))
        return original_label(self, obs, with_values)

    monkeypatch.setattr(Teacher, "label", counting_label)
    n_envs, n_steps, batch_size, n_epochs, iterations = 4, 32, 32, 5, 3
    model = PPD(
        "MlpPolicy",
        identity_vec_env("discrete", n_envs=n_envs),
        n_steps=n_steps,
        batch_size=batch_size,
        n_epochs=n_epochs,
        seed=0,
    )
    model.set_teacher(identity_teachers["discrete"])
    actor_calls = []
    model.policy.action_net.register_forward_hook(lambda *_: actor_calls.append(1))
    model.learn(n_envs * n_steps * iterations)
    assert sum(labelled) == model.num_timesteps == n_envs * n_steps * iterations
    minibatches = n_epochs * (n_envs * n_steps // batch_size) * iterations
    actions_sampled = n_steps * iterations  # one batched actor pass per collection step
    assert len(actor_calls) == minibatches + actions_sampled


def test_tensorboard_and_progress_bar(tmp_path, identity_teachers):
    model = PPD("MlpPolicy", identity_vec_env("discrete"), tensorboard_log=str(tmp_path), seed=0, **SMALL[PPD])
    model.set_teacher(identity_teachers["discrete"])
    model.learn(256, progress_bar=True)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dirs = list(tmp_path.iterdir())
    assert [d.name for d in run_dirs] == ["PPD_1"]
    events = EventAccumulator(str(run_dirs[0]))
    events.Reload()
    tags = events.Tags()["scalars"]
    for tag in ["train/distillation_loss", "train/distillation_lambda", "train/teacher_kl", "train/action_agreement"]:
        assert tag in tags, tags


def test_configure_logger_csv(tmp_path, identity_teachers):
    model = StudentDistill("MlpPolicy", identity_vec_env("discrete"), seed=0, **SMALL[StudentDistill])
    model.set_teacher(identity_teachers["discrete"])
    model.set_logger(configure(str(tmp_path), ["csv"]))
    model.learn(256, log_interval=1)
    header = (tmp_path / "progress.csv").read_text().splitlines()[0].split(",")
    assert "train/teacher_kl" in header and "train/value_loss" in header


def test_teacher_distill_rollouts_are_the_teachers():
    """In teacher-distill the teacher acts: an untrained student's rollouts already score like the teacher."""
    from sb3_distill.teachers import bundled_teacher_path

    returns = {}
    for algorithm in (StudentDistill, TeacherDistill):
        model = algorithm("MlpPolicy", make_vec_env("CartPole-v1", n_envs=8, seed=0), n_steps=5, learning_rate=0.0, seed=0)
        model.set_teacher(bundled_teacher_path())
        model.learn(4000)
        returns[algorithm] = np.mean([info["r"] for info in model.ep_info_buffer])
    assert returns[TeacherDistill] >= 200, returns  # the stochastic teacher; an untrained policy scores ~20
    assert returns[StudentDistill] < 60, returns
