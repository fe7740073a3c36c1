"""Several teachers, one student (``MultiTeacher``): each environment's states are labelled by its own teacher.

Two tasks share their spaces: the observation is a state out of 4 (one-hot) and a task flag, and the right
action is the state itself (task 0) or the next one (task 1). Each teacher knows its task's answer (its Q is
10 for it and 0 for the others) and nothing of the other task, so the labels say which teacher made them.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3 import DQN
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_distill import PPD, MultiTeacher, StudentDistill, TeacherDistill, load_teacher

N = 4
ASSIGNMENT = [0, 1, 0, 1]  # the tasks of the VecEnv's environments, and so their teachers


class Task(gym.Env):
    """State ``s`` out of ``N`` and the task flag; reward 1 for the action ``(s + shift) % N``; 20 steps."""

    def __init__(self, shift: int):
        self.shift = shift
        self.observation_space = spaces.Box(0.0, 1.0, (N + 1,), np.float32)
        self.action_space = spaces.Discrete(N)

    def _obs(self) -> np.ndarray:
        obs = np.zeros(N + 1, dtype=np.float32)
        obs[self.state] = 1.0
        obs[N] = float(self.shift)
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state, self.t = int(self.np_random.integers(N)), 0
        return self._obs(), {}

    def step(self, action):
        reward = float(int(action) == (self.state + self.shift) % N)
        self.state, self.t = int(self.np_random.integers(N)), self.t + 1
        return self._obs(), reward, False, self.t >= 20, {}


def tasks(assignment=ASSIGNMENT, seed: int = 0) -> DummyVecEnv:
    env = DummyVecEnv([lambda shift=shift: Task(shift) for shift in assignment])
    env.seed(seed)
    return env


def knowing_teacher(shift: int):
    """A DQN whose Q is 10 for task ``shift``'s right action and 0 elsewhere, whatever the flag says."""
    model = DQN("MlpPolicy", Task(shift), policy_kwargs={"net_arch": []}, device="cpu")
    weight = th.zeros(N, N + 1)
    for state in range(N):
        weight[(state + shift) % N, state] = 10.0
    for q_net in (model.q_net, model.q_net_target):
        with th.no_grad():
            q_net.q_net[0].weight.copy_(weight)
            q_net.q_net[0].bias.zero_()
    return load_teacher(model)


def teachers() -> MultiTeacher:
    return MultiTeacher([knowing_teacher(0), knowing_teacher(1)], ASSIGNMENT)


def right_actions(obs: np.ndarray) -> np.ndarray:
    """The right action of each observation: its state, shifted by its task flag."""
    return (obs[..., :N].argmax(-1) + obs[..., N].astype(int)) % N


@pytest.mark.parametrize("algorithm", [PPD, StudentDistill, TeacherDistill])
def test_each_environments_states_are_labelled_by_its_own_teacher(algorithm):
    extra = {"batch_size": 32} if algorithm is PPD else {}
    model = algorithm("MlpPolicy", tasks(), teacher=teachers(), n_steps=16, seed=0, device="cpu", **extra)
    model.learn(2 * 16 * len(ASSIGNMENT))
    buffer = model.rollout_buffer
    labels = buffer.teacher_params.reshape(-1, N)  # log-probabilities of the teacher of each state's environment
    obs = buffer.observations.reshape(-1, N + 1)
    np.testing.assert_array_equal(labels.argmax(-1), right_actions(obs))
    assert (labels.max(-1) > -1e-6).all()  # each teacher is certain of its task's answer
    if algorithm is TeacherDistill:  # each teacher acted in its own task: every action right
        assert (buffer.rewards == 1.0).all()


def test_a_student_learns_both_tasks_from_their_teachers():
    """Student-distill, 20k steps: the student reads the task flag and answers each task as its teacher does
    (measured: 1.0 on both; after 6,400 steps, 0.43 on task 0). One teacher for both tasks would teach it the
    other task's answers half the time."""
    model = StudentDistill("MlpPolicy", tasks(), teacher=teachers(), n_steps=16, seed=0, device="cpu")
    model.learn(20_000)
    for shift in (0, 1):
        env = Task(shift)
        obs, _ = env.reset(seed=100 + shift)
        rewards = []
        for _ in range(200):
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, _, truncated, _ = env.step(action)
            rewards.append(reward)
            if truncated:
                obs, _ = env.reset()
        assert np.mean(rewards) >= 0.9, (shift, np.mean(rewards))  # each teacher: 1.0; a guess: 0.25


def test_multi_teachers_that_cannot_teach_one_student_are_refused():
    with pytest.raises(ValueError, match=r"names teachers \[2\] of 2 and leaves teachers \[1\] without an environment"):
        MultiTeacher([knowing_teacher(0), knowing_teacher(1)], [0, 2])
    with pytest.raises(ValueError, match="a list of teachers built with load_teacher"):
        MultiTeacher([DQN("MlpPolicy", Task(0))], [0])
    pendulum = load_teacher(DQN("MlpPolicy", "CartPole-v1", device="cpu"))
    with pytest.raises(ValueError, match="teacher 1 does not fit teacher 0's spaces"):
        MultiTeacher([knowing_teacher(0), pendulum], [0, 1])
    with pytest.raises(ValueError, match="assigns teachers to 4 environments, and the VecEnv has 2"):
        StudentDistill("MlpPolicy", tasks([0, 1]), teacher=teachers())
    with pytest.raises(ValueError, match="keeps its own statistics and frame stack"):
        load_teacher(teachers(), teacher_vecnormalize=False)
    with pytest.raises(TypeError, match="evaluate each of its teachers"):
        teachers().predict(np.zeros((4, N + 1), dtype=np.float32))
