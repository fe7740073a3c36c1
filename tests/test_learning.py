"""Students reach the bundled CartPole teacher's return within a stated budget (through the CLI's defaults).

The bundled teacher (PPO, 2x64 MLP) scores 500, the maximum, over 50 evaluation episodes (see
sb3_distill/teachers/CartPole-v1/config.json); each test measures it again on its own episodes.
"""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import SAC
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_distill import StudentDistill
from sb3_distill.cli.main import main

BUDGET = 50_000  # environment steps of distillation, 8 environments


def distill(tmp_path, *args: str, steps: int = BUDGET) -> dict:
    assert main(["distill", "--out", str(tmp_path), "--steps", str(steps), "--no-progress", *args]) == 0
    with open(tmp_path / "results.json") as file:
        return json.load(file)


@pytest.mark.slow
@pytest.mark.parametrize(
    "method, student, threshold",
    [("ppd", "larger", 0.95), ("student-distill", "same", 0.90), ("teacher-distill", "larger", 0.90)],
)
def test_student_reaches_fraction_of_teacher_return(tmp_path, method, student, threshold):
    results = distill(tmp_path, "--method", method, "--student", student, "--seed", "1")
    assert results["teacher_mean_return"] >= 475
    assert results["student_mean_return"] >= threshold * results["teacher_mean_return"], results


# Off-policy teachers trained by tests/teachers/train.py and committed (DQN and SAC train too slowly for the suite).
TEACHERS = Path(__file__).parent / "teachers"


@pytest.mark.slow
def test_ppd_from_a_dqn_teacher_reaches_90_percent(tmp_path):
    """PPD, student collects its own rollouts; the DQN teacher's policy is softmax(Q / 0.01)."""
    results = distill(
        tmp_path,
        "--teacher",
        str(TEACHERS / "dqn-CartPole-v1.zip"),
        "--env",
        "CartPole-v1",
        "--method",
        "ppd",
        "--student",
        "same",
        "--seed",
        "1",
    )
    assert results["teacher_mean_return"] >= 300  # the committed DQN teacher scores ~360 (tests/teachers/train.py)
    assert results["student_mean_return"] >= 0.90 * results["teacher_mean_return"], results


def random_return(env_id: str, episodes: int, seed: int) -> float:
    env = gym.make(env_id)
    env.action_space.seed(seed)
    returns = []
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


@pytest.mark.slow
def test_ppd_from_a_sac_teacher_reaches_80_percent(tmp_path):
    """Action matching (mse) from SAC on Pendulum-v1, 200k steps (about 50 s on 2 cores).

    Pendulum's returns are negative (about -1150 for random actions, -150 for a good policy), so "80% of
    the teacher's return" is measured from the random policy's return:
    (student - random) / (teacher - random) >= 0.8.

    The student normalises its observations and rewards (VecNormalize, as the paper does for MuJoCo); the
    same run on raw rewards measured -497 (0.67) while one gradient clip covered actor and critic, -244 (0.93)
    with the clips apart (issue 16; see the next test). The teacher sees raw observations, as it was trained.
    """
    results = distill(
        tmp_path,
        "--teacher",
        str(TEACHERS / "sac-Pendulum-v1.zip"),
        "--env",
        "Pendulum-v1",
        "--method",
        "ppd",
        "--student",
        "same",
        "--seed",
        "1",
        "--normalize",
        "--param",
        "learning_rate=1e-3",
        steps=200_000,
    )
    assert results["distill_loss"] == "mse"
    random = random_return("Pendulum-v1", 20, seed=10_001)
    teacher, student = results["teacher_mean_return"], results["student_mean_return"]
    assert teacher > random + 500, (teacher, random)
    assert (student - random) / (teacher - random) >= 0.8, (student, teacher, random)


@pytest.mark.slow
@pytest.mark.parametrize(
    "teacher, method, steps",
    [("sac-Pendulum-v1.zip", "ppd", 100_000), ("td3-Pendulum-v1.zip", "ppd", 100_000)],
)
def test_off_policy_teacher_without_vecnormalize_reaches_90_percent(tmp_path, teacher, method, steps):
    """The library's defaults on raw rewards, as an SB3 user would run them: no VecNormalize, no tuning.

    PPD's returns (γ = 0.999) and the teachers' Q values are in the hundreds, so the value loss's gradient was
    hundreds of times the actor's, and one gradient-norm clip over all parameters scaled the actor's step by
    about 1e-3 (issue 16). With that clip, these PPD runs scored 0.21 (SAC) and 0.30 (TD3); with the actor
    and the critic clipped each on its own, 0.999 and 1.0. 20-30 s each on 2 busy cores. Student-distill
    through the CLI is not here: its "same" student copies the teacher's ReLU network and got through by
    300k steps even with one clip (0.996, 0.99); the tanh student of the next test did not.
    """
    results = distill(
        tmp_path,
        "--teacher",
        str(TEACHERS / teacher),
        "--env",
        "Pendulum-v1",
        "--method",
        method,
        "--student",
        "same",
        "--seed",
        "1",
        steps=steps,
    )
    assert results["config"]["normalize"] is None and results["params"]["learning_rate"] == 3e-4  # classic: no VecNormalize
    assert results["distill_loss"] == "mse"
    random = random_return("Pendulum-v1", 20, seed=10_001)
    teacher_return, student = results["teacher_mean_return"], results["student_mean_return"]
    assert teacher_return > random + 500, (teacher_return, random)
    assert (student - random) / (teacher_return - random) >= 0.9, (student, teacher_return, random)


@pytest.mark.slow
def test_student_distill_from_python_with_constructor_defaults_reaches_90_percent():
    """``StudentDistill("MlpPolicy", env)`` on a plain vectorised env, as in SB3's examples: SB3's default
    tanh network, the constructor's defaults, raw rewards. The critic regresses the SAC teacher's Q values
    (in the hundreds). With one clip over actor and critic this test's student scored -723 (0.44); with the
    clips apart -185 (0.99) (issue 16). About 40 s on 2 cores.
    """
    teacher = SAC.load(TEACHERS / "sac-Pendulum-v1.zip", device="cpu")
    student = StudentDistill("MlpPolicy", make_vec_env("Pendulum-v1", n_envs=8, seed=1), seed=1, device="cpu")
    student.set_teacher(teacher)
    student.learn(150_000)
    scores = {}
    for name, agent in (("teacher", teacher), ("student", student)):
        scores[name], _ = evaluate_policy(agent, make_vec_env("Pendulum-v1", n_envs=1, seed=10_001), n_eval_episodes=20)
    random = random_return("Pendulum-v1", 20, seed=10_001)
    assert (scores["student"] - random) / (scores["teacher"] - random) >= 0.9, (scores, random)
