"""Frame-stacked teachers: a teacher trained behind ``VecFrameStack`` is given one observation per state and
stacks them itself, along each environment's states in the order they were visited.

The labels are recomputed by hand: each environment's stack starts empty (zeros) at every episode start,
auto-resets included, takes the newest observation last, and carries from one rollout to the next.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch as th
from sb3_contrib import RecurrentPPO
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv, VecFrameStack, VecNormalize

from sb3_distill import PPD, ObservationGroups, StudentDistill, TeacherDistill, corrupt_teacher, load_teacher
from sb3_distill.common.frame_stacked_teacher import FrameStackedTeacher
from tests.test_teacher_views import N_ENVS, Counting, _View, counting_env, per_env

N_STACK = 3


def stacked_teacher() -> PPO:
    """An untrained PPO of the privileged view's last 3 observations: its outputs depend on all three."""
    env = VecFrameStack(DummyVecEnv([lambda: _View(Counting((3,)), "privileged")]), N_STACK)
    return PPO("MlpPolicy", env, policy_kwargs={"net_arch": [8]}, seed=0, device="cpu")


def by_hand(teacher: PPO, views: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Log-probabilities of the teacher along one environment's states: its last 3 views end to end, oldest
    first, the places before an episode's first state zeros (as ``VecFrameStack`` fills them)."""
    stack = np.zeros((N_STACK, views.shape[1]), dtype=np.float32)
    rows = []
    for view, start in zip(views, starts, strict=True):
        if start:
            stack[:] = 0
        stack = np.concatenate([stack[1:], view[None]])
        rows.append(stack.reshape(-1).copy())  # the next start empties this array in place
    with th.no_grad():
        logits = teacher.policy.get_distribution(th.as_tensor(np.stack(rows))).distribution.logits
    return th.log_softmax(logits, dim=-1).numpy()


def visited(sub: Counting) -> tuple[np.ndarray, np.ndarray]:
    """The privileged view of every state an action was taken in, and whether it starts an episode (t = 0)."""
    views = np.stack([privileged for _, privileged in sub.acted_in])
    return views, views[:, 0] == 0


@pytest.mark.parametrize("algorithm", [PPD, StudentDistill, TeacherDistill])
def test_labels_stack_each_environments_states_in_order_across_resets_and_rollouts(algorithm):
    teacher = stacked_teacher()
    env = ObservationGroups(counting_env(), student_keys="policy", teacher_keys="privileged")
    extra = {"batch_size": 16} if algorithm is PPD else {}
    model = algorithm("MlpPolicy", env, teacher=load_teacher(teacher, frame_stack=N_STACK), n_steps=8, seed=0, **extra)
    assert isinstance(model.teacher, FrameStackedTeacher)
    assert model.teacher.observation_space.shape == (3,)  # one view: what the rollouts give it
    model.learn(3 * 8 * N_ENVS)  # three rollouts: the stacks must carry from one to the next
    for index, sub in enumerate(env.venv.envs):
        views, starts = visited(sub)
        assert len(views) == 24 and starts.sum() >= 4  # episodes of 1 to 6 steps: resets inside rollouts
        expected = by_hand(teacher, views, starts)
        stored = per_env(model.rollout_buffer, model.rollout_buffer.teacher_params, index, 8)
        np.testing.assert_allclose(stored, expected[-8:], rtol=1e-5, atol=1e-6)  # the last rollout's labels
        # stacks that were not emptied at episode starts would have given other labels
        ignoring_resets = by_hand(teacher, views, np.arange(len(views)) == 0)
        assert not np.allclose(expected, ignoring_resets, atol=1e-4)


def test_the_teacher_plays_as_it_did_behind_its_statistics_and_frame_stack():
    """Trained behind ``VecFrameStack(VecNormalize(env))``, as the RL Zoo stacks: given raw single observations and
    its frozen statistics, the teacher normalises each observation, then stacks, and plays the same episodes,
    return for return."""
    normalized = VecNormalize(make_vec_env("CartPole-v1", 4, seed=0))
    model = PPO("MlpPolicy", VecFrameStack(normalized, 2), n_steps=256, seed=0, device="cpu")
    model.learn(2048)
    normalized.training = False
    teacher = load_teacher(model, teacher_vecnormalize=normalized, frame_stack=2)

    raw = make_vec_env("CartPole-v1", 3, seed=7)
    frozen = VecNormalize(make_vec_env("CartPole-v1", 3, seed=7), training=False, norm_reward=False)
    frozen.obs_rms = normalized.obs_rms
    ours, _ = evaluate_policy(teacher, raw, 12, deterministic=True, return_episode_rewards=True)
    theirs, _ = evaluate_policy(model, VecFrameStack(frozen, 2), 12, deterministic=True, return_episode_rewards=True)
    assert ours == theirs
    assert np.mean(ours) > 30  # 2,048 steps of PPO: better than random (about 22), so the episodes differ in length


def test_bad_frame_stacks_are_refused():
    teacher = stacked_teacher()
    with pytest.raises(ValueError, match=r"reads 9 entries, which are not 2 stacked observations"):
        load_teacher(teacher, frame_stack=2)
    with pytest.raises(ValueError, match="frame_stack must be positive, got 0"):
        load_teacher(teacher, frame_stack=0)
    recurrent = RecurrentPPO("MlpLstmPolicy", make_vec_env("CartPole-v1", 1), policy_kwargs={"lstm_hidden_size": 8})
    with pytest.raises(ValueError, match="carries its own memory; a frame stack on top of it is not supported"):
        load_teacher(recurrent, frame_stack=2)
    dict_teacher = PPO("MultiInputPolicy", DummyVecEnv([lambda: Counting((3,))]), seed=0, device="cpu")
    with pytest.raises(ValueError, match="reads vectors stacked end to end"):
        load_teacher(dict_teacher, frame_stack=2)
    with pytest.raises(RuntimeError, match="in the order they were visited"):
        load_teacher(teacher, frame_stack=N_STACK).label(np.zeros((2, 3), dtype=np.float32))
    stacked = load_teacher(teacher, frame_stack=N_STACK)
    assert load_teacher(stacked).n_stack == N_STACK  # loading a stacked teacher again keeps its stack
    corrupted = corrupt_teacher(stacked, sigma=0.1, seed=0)
    assert isinstance(corrupted, FrameStackedTeacher) and corrupted.n_stack == N_STACK


def test_a_packaged_frame_stacked_student_teaches_with_its_stack(tmp_path):
    """A student that read its last 2 observations, packaged: as a teacher it stacks them itself, and scores as
    its run evaluated it (unstacked, it could not take the environment's observations at all)."""
    from sb3_distill.deploy.package import package
    from sb3_distill.evaluation import evaluation_env, score
    from sb3_distill.experiment import DistillConfig, distill

    run = tmp_path / "run"
    config = DistillConfig(env="CartPole-v1", method="ppd", steps=2048, n_envs=4, eval_episodes=5, frame_stack=2)
    result = distill(config, str(run), verbose=0)
    package(str(run), str(tmp_path / "hub"))
    teacher = load_teacher(str(tmp_path / "hub"))
    assert isinstance(teacher, FrameStackedTeacher) and teacher.n_stack == 2
    assert score(teacher, evaluation_env("CartPole-v1", 0), 5).mean == result.student_score.mean


def test_a_grid_distils_a_given_teacher_with_its_frame_stack(tmp_path):
    """``teacher_frame_stack`` in a spec: the grid's run scores the teacher (a bare zip, which cannot say it was
    trained behind ``VecFrameStack``) as ``load_teacher(..., frame_stack=2)`` plays; without it the run fails."""
    from sb3_distill.cli.main import main
    from sb3_distill.evaluation import evaluation_env, score

    model = PPO("MlpPolicy", VecFrameStack(make_vec_env("CartPole-v1", 4, seed=0), 2), n_steps=256, seed=0, device="cpu")
    model.learn(2048)
    zip_path = str(tmp_path / "stacked-teacher.zip")
    model.save(zip_path)
    spec = (
        "seeds: [0]\nmethods: [ppd]\nstudents: [same]\nenvs:\n  CartPole-v1:\n"
        f"    teacher: {zip_path}\n    teacher_frame_stack: 2\n    distill_steps: 512\n    eval_episodes: 5\n"
        "    curve_points: 1\n    n_envs: 2\n"
    )
    (tmp_path / "stacked.yaml").write_text(spec)
    assert main(["bench", str(tmp_path / "stacked.yaml"), "--out", str(tmp_path / "out")]) == 0
    run = tmp_path / "out" / "runs" / "CartPole-v1" / "original" / "ppd-same-s0"
    record = json.loads((run / "results.json").read_text())
    assert record["config"]["teacher_frame_stack"] == 2
    expected = score(load_teacher(zip_path, frame_stack=2), evaluation_env("CartPole-v1", 0), 5).mean
    assert record["teacher_mean_return"] == expected > 30  # better than random (about 22): the stack is read right

    (tmp_path / "plain.yaml").write_text(spec.replace("    teacher_frame_stack: 2\n", ""))
    assert main(["bench", str(tmp_path / "plain.yaml"), "--out", str(tmp_path / "plain")]) == 1
    failed = tmp_path / "plain" / "runs" / "CartPole-v1" / "original" / "ppd-same-s0" / "error.json"
    assert "teacher_frame_stack: 2 in a grid spec" in json.loads(failed.read_text())["error"]


def test_the_acting_noise_of_a_stacked_or_assigned_td3_teacher_is_the_one_that_acts():
    """``teacher.action_noise`` on a frame-stacked or a multi-teacher wrapper reaches the TD3 teacher that acts
    (a plain attribute on the wrapper used to be ignored): σ = 0 acts with μ(s), σ = 0.3 puts noise of that
    standard deviation on the unclipped actions."""
    from stable_baselines3 import TD3

    from sb3_distill import MultiTeacher

    td3 = TD3("MlpPolicy", VecFrameStack(make_vec_env("Pendulum-v1", 1, seed=0), 2), seed=0, device="cpu")
    stacked = load_teacher(td3, frame_stack=2)
    assert stacked.action_noise == 0.1  # the RL Zoo's TD3 exploration noise
    observations = np.random.default_rng(0).uniform(-1, 1, (4000, 3)).astype(np.float32)
    starts = np.ones(4000)  # every state starts an episode: the stacks hold one observation each
    stacked.action_noise = 0.0
    actions, labels, _ = stacked.act(observations, starts)
    assert th.equal(actions, labels)
    stacked.action_noise = 0.3
    actions, labels, _ = stacked.act(observations, starts)
    inside = (actions.abs() < 1).flatten()  # clipped actions hide their noise
    assert abs(float((actions - labels).flatten()[inside].std()) - 0.3) < 0.02

    pair = MultiTeacher([load_teacher(td3, frame_stack=2), load_teacher(td3, frame_stack=2)], [0, 1])
    pair.action_noise = 0.0
    assert [teacher.action_noise for teacher in pair.teachers] == [0.0, 0.0]
    pair.teachers[1].action_noise = 0.2
    with pytest.raises(ValueError, match=r"different action_noise \[0.0, 0.2\]"):
        _ = pair.action_noise
    with pytest.raises(AttributeError, match="acts without added noise"):
        load_teacher(stacked_teacher(), frame_stack=N_STACK).action_noise = 0.0
