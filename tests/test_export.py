"""Export: the ONNX (through onnxruntime) and TorchScript files reproduce SB3's ``predict`` on observations met in
the environment, for every action space, images, Dict observations, VecNormalize, frame stacks and LSTMs.

Each test checks the written file itself, on observations it collects on its own (a second, independent run of
the agent), besides the check ``export`` makes before it keeps the file.
"""

from __future__ import annotations

import functools
import json
import os

import numpy as np
import pytest
import torch as th
from sb3_contrib import RecurrentPPO
from stable_baselines3 import DQN, PPO, SAC, TD3
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import (
    FakeImageEnv,
    IdentityEnv,
    IdentityEnvBox,
    IdentityEnvMultiBinary,
    IdentityEnvMultiDiscrete,
    SimpleMultiObsEnv,
)
from stable_baselines3.common.vec_env import VecFrameStack, VecNormalize

from sb3_distill.cli.main import main
from sb3_distill.deploy import NotExportable, ParityError, export
from sb3_distill.experiment import DistillConfig, distill

pytest.importorskip("onnxruntime")

TEACHERS = os.path.join(os.path.dirname(__file__), "teachers")
FORMATS = ["onnx", "torchscript"]
BOX_TOLERANCE = 1e-5  # the bound; float32 networks evaluated by two runtimes differ by ~1e-6


def run_file(path: str, format: str, inputs: list[np.ndarray]) -> np.ndarray:
    """The exported file's action, run without SB3: onnxruntime, or torch.jit."""
    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        return session.run(["action"], dict(zip(names, inputs, strict=True)))[0]
    with th.no_grad():
        out = th.jit.load(path)(*[th.as_tensor(x) for x in inputs])
    return (out[0] if isinstance(out, tuple) else out).numpy()


def collect(model, venv, n: int = 1000, seed: int = 123) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` raw observations (beneath any VecNormalize) met by running the model deterministically, with predict's
    actions on what it read; the VecNormalize is frozen meanwhile."""
    vec_normalize = venv if isinstance(venv, VecNormalize) else None
    if vec_normalize is not None:
        vec_normalize.training = False
    venv.seed(seed)
    observation = venv.reset()
    raws, actions = [], []
    for _ in range(n):
        raw = vec_normalize.get_original_obs() if vec_normalize is not None else observation
        action, _ = model.predict(observation, deterministic=True)
        raws.append(raw)
        actions.append(action)
        observation, _, _, _ = venv.step(action)
    if isinstance(raws[0], dict):
        return [np.concatenate([r[key] for r in raws]) for key in raws[0]], np.concatenate(actions)
    return [np.concatenate(raws)], np.concatenate(actions)


def assert_reproduces(model, venv, path: str, format: str, box: bool) -> None:
    inputs, expected = collect(model, venv)
    assert len(np.unique(expected.reshape(len(expected), -1), axis=0)) > 1  # actions that depend on the observation
    exported = run_file(path, format, inputs).reshape(expected.shape)
    if box:
        assert np.abs(exported - expected).max() <= BOX_TOLERANCE
    else:
        np.testing.assert_array_equal(exported, expected)


ACTION_SPACES = {
    "discrete": (lambda: IdentityEnv(4), {}, False),
    "box": (lambda: IdentityEnvBox(low=-1.0, high=1.0, eps=0.5), {}, True),
    # gSDE with squash_output: a tanh-squashed Gaussian, unscaled to the bounds by predict
    "box-squashed": (
        lambda: IdentityEnvBox(low=-2.0, high=3.0, eps=0.5),
        {"use_sde": True, "policy_kwargs": {"squash_output": True}},
        True,
    ),
    "multidiscrete": (lambda: IdentityEnvMultiDiscrete(3), {}, False),
    "multibinary": (lambda: IdentityEnvMultiBinary(3), {}, False),
}


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("kind", list(ACTION_SPACES))
def test_every_action_space_reproduces_predict(kind, format, tmp_path):
    make, kwargs, box = ACTION_SPACES[kind]
    venv = make_vec_env(make, n_envs=2, seed=0)
    model = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, seed=0, **kwargs)
    model.learn(128)  # a trained head: actions that vary with the observation
    path = str(tmp_path / f"policy.{format}")
    result = export(model, path, format=format, env=venv, measure_latency=False)
    assert result.parity.observations == 1000
    if box:
        assert result.parity.max_abs_difference is not None and result.parity.max_abs_difference <= BOX_TOLERANCE
    else:
        assert result.parity.agreement == 1.0
    assert_reproduces(model, venv, path, format, box)
    if kind == "box":  # a Box action outside the bounds is clipped, as predict clips it
        assert np.all(run_file(path, format, [np.full((4, 1), 50.0, dtype=np.float32)]) <= 1.0)


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("name", ["sac", "td3", "dqn"])
def test_off_policy_teachers_reproduce_predict(name, format, tmp_path):
    algorithm, env_id, box = {
        "sac": (SAC, "Pendulum-v1", True),
        "td3": (TD3, "Pendulum-v1", True),
        "dqn": (DQN, "CartPole-v1", False),
    }[name]
    zip_path = os.path.join(TEACHERS, f"{name}-{env_id}.zip")
    path = str(tmp_path / f"teacher.{format}")
    export(zip_path, path, format=format, env=env_id, measure_latency=False)
    model = algorithm.load(zip_path)
    assert_reproduces(model, make_vec_env(env_id, n_envs=1, seed=5), path, format, box)


@pytest.mark.parametrize("format", FORMATS)
def test_channel_last_images_are_transposed_and_scaled_inside(format, tmp_path):
    venv = make_vec_env(lambda: FakeImageEnv(action_dim=3, screen_height=40, screen_width=40, n_channels=2), n_envs=1, seed=0)
    venv.envs[0].observation_space.seed(0)  # FakeImageEnv's images are samples of its space
    model = PPO("CnnPolicy", venv, n_steps=32, batch_size=32, seed=0)
    # An untrained CNN's logits on noise images differ by ~1e-3; onnxruntime's convolutions (other algorithms than
    # torch's) flipped 1 argmax in 1,000 at that margin (CI, 2026-12-01). Decisive logits, as a trained policy's are.
    with th.no_grad():
        model.policy.action_net.weight.mul_(1000.0)
    assert model.observation_space.shape == (2, 40, 40)  # SB3 transposed the (40, 40, 2) images for the policy
    path = str(tmp_path / f"cnn.{format}")
    result = export(model, path, format=format, env=model.get_env(), measure_latency=False)
    assert result.parity.agreement == 1.0
    inputs, expected = collect(model, venv)
    assert len(np.unique(expected)) > 1
    assert inputs[0].shape[1:] == (40, 40, 2) and inputs[0].dtype == np.uint8  # the environment's own images
    np.testing.assert_array_equal(run_file(path, format, inputs).reshape(expected.shape), expected)


@pytest.mark.parametrize("format", FORMATS)
def test_dict_observations_are_inputs_in_key_order(format, tmp_path):
    np.random.seed(0)  # SimpleMultiObsEnv draws its states' images from NumPy's global generator
    venv = make_vec_env(lambda: SimpleMultiObsEnv(random_start=True), n_envs=2, seed=0)
    model = PPO("MultiInputPolicy", venv, n_steps=32, batch_size=32, seed=0)
    model.learn(64)
    path = str(tmp_path / f"dict.{format}")
    result = export(model, path, format=format, env=venv, measure_latency=False)
    assert result.inputs == [f"observation_{key}" for key in venv.observation_space.spaces]
    assert result.parity.agreement == 1.0
    assert_reproduces(model, venv, path, format, box=False)


@pytest.mark.parametrize("format", FORMATS)
def test_vecnormalize_statistics_are_inside(format, tmp_path):
    venv = VecNormalize(make_vec_env("Pendulum-v1", n_envs=2, seed=0), norm_reward=False)
    model = PPO("MlpPolicy", venv, n_steps=256, batch_size=64, seed=0)
    model.learn(512)  # statistics far from (0, 1): Pendulum's angular velocity spans [-8, 8]
    assert np.abs(venv.obs_rms.var - 1).max() > 0.5
    path = str(tmp_path / f"normalized.{format}")
    result = export(model, path, format=format, env=venv, measure_latency=False)
    assert result.settings["normalization_inside"] and result.parity.max_abs_difference <= BOX_TOLERANCE
    assert venv.training  # export froze the caller's statistics only while collecting
    assert_reproduces(model, venv, path, format, box=True)
    # the same file on the normalised observations (statistics left out) is wrong: the statistics are inside
    inputs, expected = collect(model, venv, n=200)
    wrong = run_file(path, format, [venv.normalize_obs(inputs[0]).astype(np.float32)]).reshape(expected.shape)
    assert np.abs(wrong - expected).max() > 0.01


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("normalized", [False, True], ids=["raw", "vecnormalize"])
def test_a_frame_stack_is_a_state_like_an_lstms(normalized, format, tmp_path):
    """The graph reads one raw frame and the stack of the previous step, and returns the new stack: VecFrameStack
    pads a new episode with zeros after the statistics, which a graph reading raw stacked frames could not do."""
    inner = make_vec_env("Pendulum-v1", n_envs=2, seed=0)
    vec_normalize = VecNormalize(inner, norm_reward=False) if normalized else None
    venv = VecFrameStack(vec_normalize if vec_normalize is not None else inner, 3)
    model = PPO("MlpPolicy", venv, n_steps=128, batch_size=64, seed=0)
    model.learn(256)
    path = str(tmp_path / f"stacked.{format}")
    result = export(model, path, format=format, env=venv, measure_latency=False)
    assert result.inputs == ["observation", "frames", "episode_start"] and result.outputs == ["action", "next_frames"]
    assert result.parity.max_abs_difference <= BOX_TOLERANCE and result.settings["frame_stack"] == 3
    # a deployment loop: one raw observation a step, the stack fed back; Pendulum's episodes end at 200 steps
    if vec_normalize is not None:
        vec_normalize.training = False
    venv.seed(11)
    observation = venv.reset()
    frames, starts = np.zeros((2, 9), dtype=np.float32), np.ones(2, dtype=np.float32)
    for _ in range(450):
        raw = vec_normalize.get_original_obs() if vec_normalize is not None else observation[:, -3:]
        action, frames = _step(path, format, [raw.astype(np.float32), frames, starts])
        np.testing.assert_allclose(frames, observation, atol=1e-6)  # the graph's stack is VecFrameStack's
        expected, _ = model.predict(observation, deterministic=True)
        assert np.abs(action - expected).max() <= BOX_TOLERANCE
        observation, _, dones, _ = venv.step(expected)
        starts = dones.astype(np.float32)


@functools.cache
def _load(path: str, format: str):
    if format == "onnx":
        import onnxruntime

        return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return th.jit.load(path)


def _step(path: str, format: str, feeds: list[np.ndarray]) -> list[np.ndarray]:
    """One call of the exported file, as a deployment loop makes it."""
    loaded = _load(path, format)
    if format == "onnx":
        return loaded.run(None, dict(zip([i.name for i in loaded.get_inputs()], feeds, strict=True)))
    with th.no_grad():
        return [t.numpy() for t in loaded(*[th.as_tensor(x) for x in feeds])]


@pytest.mark.parametrize("format", FORMATS)
def test_a_recurrent_policy_takes_and_returns_its_state(format, tmp_path):
    venv = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    model = RecurrentPPO("MlpLstmPolicy", venv, n_steps=32, batch_size=32, seed=0, policy_kwargs={"lstm_hidden_size": 16})
    model.learn(64)
    path = str(tmp_path / f"lstm.{format}")
    result = export(model, path, format=format, env=venv, measure_latency=False)
    assert result.inputs == ["observation", "state_h", "state_c", "episode_start"]
    assert result.outputs == ["action", "next_state_h", "next_state_c"]
    assert result.parity.agreement == 1.0
    # step the file alone, carrying its state as a deployment loop would, beside predict carrying its own
    venv.seed(7)
    observation = venv.reset()
    state, starts = None, np.ones(2, dtype=bool)
    h = c = np.zeros((1, 2, 16), dtype=np.float32)
    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    else:
        module = th.jit.load(path)
    for _ in range(300):
        expected, state = model.predict(observation, state, starts, deterministic=True)
        feeds = [observation.astype(np.float32), h, c, starts.astype(np.float32)]
        if format == "onnx":
            action, h, c = session.run(None, dict(zip(result.inputs, feeds, strict=True)))
        else:
            with th.no_grad():
                action, h, c = (t.numpy() for t in module(*[th.as_tensor(x) for x in feeds]))
        np.testing.assert_array_equal(action, expected)
        np.testing.assert_allclose(h, state[0], atol=1e-5)
        observation, _, starts, _ = venv.step(expected)


def _normalized_run(tmp_path) -> str:
    out = str(tmp_path / "run")
    distill(
        DistillConfig(env="CartPole-v1", method="ppd", steps=1024, n_envs=4, eval_episodes=2, normalize=True), out, verbose=0
    )
    return out


def test_a_run_folder_exports_from_the_command_line_with_its_statistics(tmp_path, capsys):
    run = _normalized_run(tmp_path)
    out = str(tmp_path / "student.onnx")
    assert main(["export", run, "--out", out, "--observations", "300"]) == 0
    printed = capsys.readouterr().out
    assert "actions equal to predict's: 100.0%" in printed and "latency" in printed
    record = json.loads(open(out + ".json").read())
    assert record["parity"]["holds"] and record["settings"]["normalization_inside"]
    for runtime in ("exported", "sb3_predict"):
        for size in ("1", "64"):
            timing = record["latency_ms"][runtime][size]
            assert 0 < timing["median"] <= timing["p99"]
    assert record["file_bytes"] == os.path.getsize(out)
    # PPO's MlpPolicy for CartPole with the larger student's net_arch: the actor alone, no critic
    model = PPO.load(os.path.join(run, "student.zip"))
    actor = sum(p.numel() for name, p in model.policy.named_parameters() if "value" not in name and "vf" not in name)
    assert record["parameters"] == actor


def test_a_run_folder_without_its_statistics_is_refused(tmp_path):
    run = _normalized_run(tmp_path)
    os.remove(os.path.join(run, "vecnormalize.pkl"))
    with pytest.raises(FileNotFoundError, match="trained behind a VecNormalize"):
        export(run, str(tmp_path / "student.onnx"))
    assert not os.path.exists(tmp_path / "student.onnx")


def test_parity_beyond_the_tolerance_writes_nothing(tmp_path):
    out = tmp_path / "sac.onnx"
    with pytest.raises(ParityError, match="No file was written"):
        # the two runtimes differ by ~1e-6 on SAC's actions: a tolerance of 0 cannot hold
        export(
            os.path.join(TEACHERS, "sac-Pendulum-v1.zip"), str(out), env="Pendulum-v1", tolerance=0.0, measure_latency=False
        )
    assert os.listdir(tmp_path) == []


def test_bad_requests_are_refused_before_anything_is_written(tmp_path, capsys):
    teacher = os.path.join(TEACHERS, "sac-Pendulum-v1.zip")
    with pytest.raises(ValueError, match="Unknown export format 'tflite'"):
        export(teacher, str(tmp_path / "x"), format="tflite", env="Pendulum-v1")
    assert main(["export", teacher, "--out", str(tmp_path / "x.onnx")]) == 2
    assert "--env" in capsys.readouterr().err  # a bare zip does not say where it runs
    with pytest.raises(ValueError, match="trained on CartPole-v1, not Pendulum-v1"):
        export(
            os.path.join(os.path.dirname(__file__), "..", "sb3_distill", "teachers", "CartPole-v1"),
            str(tmp_path / "x.onnx"),
            env="Pendulum-v1",
        )
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "source, env_id, exact",
    [
        (os.path.join(os.path.dirname(__file__), "..", "sb3_distill", "teachers", "CartPole-v1"), "CartPole-v1", True),
        (os.path.join(TEACHERS, "sac-Pendulum-v1.zip"), "Pendulum-v1", False),
    ],
    ids=["discrete", "box"],
)
def test_a_plain_onnxruntime_loop_scores_what_evaluate_scores(source, env_id, exact, tmp_path):
    """The exported file, stepped in the bare Gymnasium environment by onnxruntime alone, against ``evaluate`` on
    the zip with the same seeds: identical on a discrete task, within 1% on a Box task."""
    import gymnasium as gym
    import onnxruntime

    from sb3_distill.deploy import evaluate
    from sb3_distill.evaluation import EVAL_SEED_OFFSET

    episodes, seed = 5, 3
    path = str(tmp_path / "policy.onnx")
    export(source, path, env=env_id if source.endswith(".zip") else None, measure_latency=False)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    env = gym.make(env_id)
    observation, _ = env.reset(seed=seed + EVAL_SEED_OFFSET)  # evaluate's environment, seeded once, as SB3 seeds it
    returns = []
    for _ in range(episodes):
        total, done = 0.0, False
        while not done:
            action = session.run(["action"], {"observation": observation[None].astype(np.float32)})[0][0]
            observation, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
        observation, _ = env.reset()
    reference = evaluate(source, episodes=episodes, seed=seed, env=env_id if source.endswith(".zip") else None)
    if exact:
        assert returns == pytest.approx(list(reference.episode_returns), abs=1e-9)
    else:
        assert abs(np.mean(returns) - reference.mean) <= 0.01 * abs(reference.mean)


def test_a_blind_frame_stacked_student_exports_from_its_run_folder(tmp_path):
    """Issue 17's deployed student: CartPole positions only (no velocities), 3 stacked frames, its own
    VecNormalize; the graph reads the deployed environment's 2 entries, never the teacher's privileged view."""
    out = str(tmp_path / "run")
    config = DistillConfig(
        env="CartPole-v1", steps=1024, n_envs=4, eval_episodes=2, normalize=True, student_observation=(0, 2), frame_stack=3
    )
    distill(config, out, verbose=0)
    result = export(out, str(tmp_path / "blind.onnx"), observations=300, measure_latency=False)
    assert result.inputs == ["observation", "frames", "episode_start"]
    assert result.parity.agreement == 1.0 and result.settings["normalization_inside"]
    import onnxruntime

    shapes = {i.name: i.shape for i in onnxruntime.InferenceSession(result.path).get_inputs()}
    assert shapes["observation"][1:] == [2] and shapes["frames"][1:] == [6]


def test_what_cannot_be_exported_is_refused_with_the_reason(tmp_path):
    np.random.seed(0)
    venv = VecFrameStack(make_vec_env(lambda: SimpleMultiObsEnv(random_start=True), n_envs=1, seed=0), 2)
    model = PPO("MultiInputPolicy", venv, n_steps=32, batch_size=32, seed=0)
    with pytest.raises(NotExportable, match="stacked Dict observations cannot be exported yet"):
        export(model, str(tmp_path / "dict.onnx"), env=venv, measure_latency=False)
    assert os.listdir(tmp_path) == []
