"""Privileged teachers (issue 17): the teacher reads a view of each state that the student does not have.

The environment here logs every observation it emits, so that the teacher's view of each state the student
acted in is known independently of the wrappers, including the first state of an episode that SB3's
vectorised environment reset automatically inside ``step``.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv, VecFrameStack, VecNormalize

import sb3_distill
from sb3_distill import PPD, ObservationGroups, StudentDistill, TeacherDistill, TeacherObservationInInfo, load_teacher
from sb3_distill.common.teacher_views import TERMINAL_TEACHER_OBSERVATION
from sb3_distill.envs.partial import SelectObservation, SplitObservation

N_ENVS = 2
#: Episode lengths of each environment, short and unequal so that auto-resets fall inside rollouts.
LENGTHS = ((3, 5, 2), (4, 1, 6))


class Counting(gym.Env):
    """The student sees the step count ``t`` and a cue; the teacher also sees which episode it is and the goal.

    The reward is 1 for the action equal to the hidden goal (``episode % 2``), which only the privileged view
    shows. Every observation emitted is logged as ``(policy, privileged)``.
    """

    def __init__(self, lengths: tuple[int, ...], as_info: bool = False):
        self.lengths = lengths
        self.as_info = as_info
        self.episode = -1
        self.t = 0
        self.emitted: list[tuple[np.ndarray, np.ndarray]] = []
        self.acted_in: list[tuple[np.ndarray, np.ndarray]] = []  # the observation of each state an action was taken in
        policy = spaces.Box(-10, 10, (2,), np.float32)
        self.privileged_space = spaces.Box(-100, 100, (3,), np.float32)
        self.observation_space = policy if as_info else spaces.Dict({"policy": policy, "privileged": self.privileged_space})
        self.action_space = spaces.Discrete(2)

    def _obs(self):
        policy = np.array([self.t, 1.0], dtype=np.float32)
        privileged = np.array([self.t, self.episode, self.episode % 2], dtype=np.float32)
        self.emitted.append((policy, privileged))
        if self.as_info:
            return policy, {"teacher_observation": privileged}
        return {"policy": policy, "privileged": privileged}, {}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episode += 1
        self.t = 0
        return self._obs()

    def step(self, action):
        self.acted_in.append(self.emitted[-1])
        reward = float(int(action) == self.episode % 2)
        self.t += 1
        terminated = self.t >= self.lengths[self.episode % len(self.lengths)]
        obs, info = self._obs()
        return obs, reward, terminated, False, info


def counting_env(as_info: bool = False) -> DummyVecEnv:
    return DummyVecEnv([lambda lengths=lengths: Counting(lengths, as_info) for lengths in LENGTHS])


def grouped(as_info: bool = False):
    venv = counting_env(as_info)
    if as_info:
        return TeacherObservationInInfo(venv, venv.envs[0].privileged_space)
    return ObservationGroups(venv, student_keys="policy", teacher_keys="privileged")


class _View(gym.ObservationWrapper):
    """One side's view of :class:`Counting`: the deployed robot's (``policy``) or the teacher's (``privileged``)."""

    def __init__(self, env: Counting, key: str):
        super().__init__(env)
        self.key = key
        self.observation_space = env.observation_space[key]

    def observation(self, observation):
        return observation[self.key]


def privileged_teacher() -> PPO:
    """An (untrained) PPO teacher of the privileged view: its distribution differs from one view to the next."""
    return PPO(
        "MlpPolicy",
        DummyVecEnv([lambda: _View(Counting((3,)), "privileged")]),
        policy_kwargs={"net_arch": [8]},
        seed=0,
        device="cpu",
    )


def per_env(buffer, array: np.ndarray, index: int, n_steps: int) -> np.ndarray:
    """Environment ``index``'s steps of a buffer array, before or after ``get()`` flattened it env-major."""
    if buffer.generator_ready:
        return array.reshape(N_ENVS, n_steps, *array.shape[1:])[index]
    return array[:, index]


def teacher_log_probs(teacher: PPO, views: np.ndarray) -> np.ndarray:
    with th.no_grad():
        logits = teacher.policy.get_distribution(th.as_tensor(views)).distribution.logits
    return th.log_softmax(logits, dim=-1).numpy()


@pytest.mark.parametrize("as_info", [False, True], ids=["observation-groups", "info"])
def test_the_views_follow_the_same_states_across_auto_resets(as_info):
    env = grouped(as_info)
    assert env.observation_space == spaces.Box(-10, 10, (2,), np.float32)
    assert env.teacher_observation_space.shape == (3,)
    obs = env.reset()
    for _ in range(12):
        teacher = env.teacher_observations()
        for index, sub in enumerate(env.venv.envs):
            policy, privileged = sub.emitted[-1]
            np.testing.assert_array_equal(obs[index], policy)
            np.testing.assert_array_equal(teacher[index], privileged)  # the teacher's view of the same state
        obs, _, dones, infos = env.step(np.zeros(N_ENVS, dtype=int))
        for index in np.flatnonzero(dones):
            sub = env.venv.envs[index]
            final_policy, final_privileged = sub.emitted[-2]  # the step's last observation, before the reset's
            np.testing.assert_array_equal(infos[index]["terminal_observation"], final_policy)
            np.testing.assert_array_equal(infos[index][TERMINAL_TEACHER_OBSERVATION], final_privileged)
            assert sub.emitted[-1][1][0] == 0  # and the next view is the new episode's first state (t = 0)
    assert sum(sub.episode for sub in env.venv.envs) >= 4  # several auto-resets happened


@pytest.mark.parametrize("as_info", [False, True], ids=["observation-groups", "info"])
@pytest.mark.parametrize("algorithm", [PPD, StudentDistill])
def test_stored_labels_are_the_teachers_of_the_state_the_student_acted_in(algorithm, as_info):
    env = grouped(as_info)
    teacher = privileged_teacher()
    extra = {"batch_size": 16} if algorithm is PPD else {}
    model = algorithm("MlpPolicy", env, teacher=teacher, n_steps=16, seed=1, device="cpu", **extra)
    model.learn(16 * N_ENVS)
    buffer = model.rollout_buffer
    for index, sub in enumerate(env.venv.envs):
        # by hand: the teacher's distribution at the privileged view of each state the student acted in
        views = np.stack([privileged for _, privileged in sub.acted_in[-16:]])
        np.testing.assert_array_equal(buffer.teacher_observations[:, index], views)
        stored = per_env(buffer, buffer.teacher_params, index, 16)
        np.testing.assert_allclose(stored, teacher_log_probs(teacher, views), rtol=1e-5, atol=1e-6)
        students = np.stack([policy for policy, _ in sub.acted_in[-16:]])
        np.testing.assert_array_equal(per_env(buffer, buffer.observations, index, 16), students)  # the student's view only
    assert sum(sub.episode for sub in env.venv.envs) >= 4  # the rollout crossed auto-resets


def test_teacher_distill_acts_from_the_teachers_view():
    env = grouped()
    teacher = privileged_teacher()
    model = TeacherDistill("MlpPolicy", env, teacher=teacher, n_steps=8, seed=0, device="cpu")
    model.learn(8 * N_ENVS)
    # the teacher acted on the privileged views: the labels stored as it acted are its distributions there
    for index, sub in enumerate(env.venv.envs):
        views = np.stack([privileged for _, privileged in sub.acted_in[-8:]])
        stored = per_env(model.rollout_buffer, model.rollout_buffer.teacher_params, index, 8)
        np.testing.assert_allclose(stored, teacher_log_probs(teacher, views), rtol=1e-5, atol=1e-6)


def test_the_student_deploys_without_the_privileged_view(tmp_path):
    env = VecNormalize(VecFrameStack(grouped(), 2), norm_reward=False)  # the student's own wrappers on top of the view
    model = PPD("MlpPolicy", env, teacher=privileged_teacher(), n_steps=16, batch_size=32, seed=0, device="cpu")
    model.learn(64)
    assert model.observation_space.shape == (4,)  # two stacked student observations, nothing privileged
    model.save(tmp_path / "student.zip")
    loaded = PPO.load(tmp_path / "student.zip", device="cpu")
    deploy = VecFrameStack(DummyVecEnv([lambda: _View(Counting((3,)), "policy")]), 2)
    assert loaded.observation_space == deploy.observation_space
    mean, _ = evaluate_policy(loaded, deploy, n_eval_episodes=3)
    assert 0 <= mean <= 3


def test_bad_views_are_refused_with_what_was_expected():
    with pytest.raises(ValueError, match=r"keys \['state'\] are not in .* whose keys are \['policy', 'privileged'\]"):
        ObservationGroups(counting_env(), student_keys="policy", teacher_keys="state")
    with pytest.raises(ValueError, match="name a key twice"):
        ObservationGroups(counting_env(), student_keys=["policy", "policy"], teacher_keys="privileged")
    with pytest.raises(ValueError, match="needs an environment with Dict observations, got Box"):
        ObservationGroups(counting_env(as_info=True), student_keys="policy", teacher_keys="privileged")
    with pytest.raises(ValueError, match="takes a Box teacher_observation_space"):
        TeacherObservationInInfo(counting_env(as_info=True), spaces.Discrete(3))
    with pytest.raises(KeyError, match="reset info of environment 0 has no 'state'"):
        TeacherObservationInInfo(counting_env(as_info=True), spaces.Box(-1, 1, (3,)), info_key="state").reset()
    with pytest.raises(ValueError, match=r"has shape \(3,\), expected \(4,\)"):
        TeacherObservationInInfo(counting_env(as_info=True), spaces.Box(-1, 1, (4,))).reset()


def test_a_view_that_does_not_fit_the_teacher_is_refused_before_training():
    env = ObservationGroups(counting_env(), student_keys="privileged", teacher_keys="policy")  # swapped by mistake
    with pytest.raises(ValueError, match=r"TeacherView gives it Box\(-10.0, 10.0, \(2,\), float32\)"):
        PPD("MlpPolicy", env, teacher=privileged_teacher(), n_steps=16, device="cpu")


@pytest.mark.slow
def test_a_blind_student_with_memory_learns_what_the_full_state_teacher_does():
    """CartPole: the teacher (bundled, trained on the full state) reads positions and velocities; the student
    reads the cart position and pole angle only. With the last 4 of them stacked it recovers the motion and
    reaches 0.7 of the teacher's return in 50k steps; without memory it cannot (below 0.3)."""
    teacher_zip = Path(sb3_distill.__file__).parent / "teachers" / "CartPole-v1" / "CartPole-v1.zip"
    teacher = load_teacher(teacher_zip)
    full = DummyVecEnv([lambda: gym.make("CartPole-v1")])
    teacher_return, _ = evaluate_policy(teacher, full, n_eval_episodes=10)
    assert teacher_return >= 475
    returns = {}
    for stack in (1, 4):
        env = ObservationGroups(
            make_vec_env(lambda: SplitObservation(gym.make("CartPole-v1"), [0, 2]), 8, seed=0), "policy", "privileged"
        )
        model = PPD("MlpPolicy", env if stack == 1 else VecFrameStack(env, stack), teacher=teacher, seed=0, device="cpu")
        model.learn(50_000)
        deployed = make_vec_env(lambda: SelectObservation(gym.make("CartPole-v1"), [0, 2]), 1, seed=100)
        returns[stack], _ = evaluate_policy(
            model, deployed if stack == 1 else VecFrameStack(deployed, stack), n_eval_episodes=20
        )
    assert returns[4] >= 0.7 * teacher_return, returns
    assert returns[1] <= 0.3 * teacher_return, returns


def test_a_student_that_would_need_the_privileged_view_when_deployed_is_refused():
    with pytest.raises(ValueError, match=r"keys \['privileged'\] are what the teacher reads.*ObservationGroups"):
        PPD("MultiInputPolicy", counting_env(), teacher=privileged_teacher(), n_steps=16, batch_size=32, device="cpu")
