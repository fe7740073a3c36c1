"""``evaluate``: a trained agent's returns under the suite's evaluation protocol, and optionally videos of it.

This is the RL Zoo's ``enjoy`` and ``record_video`` for sb3-distill's run folders: the agent (a distilled
student or a teacher) acts in the environment it is evaluated in at the end of its run, built by
:func:`sb3_distill.evaluation.evaluation_env` (seeded ``seed + EVAL_SEED_OFFSET``, full episodes, no
privileged input), behind its frozen ``VecNormalize`` statistics and its frame stacking. On a run folder,
with the run's seed and number of episodes, the mean return is the one its ``results.json`` records.
"""

from __future__ import annotations

import json
import os
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, SupportsFloat, cast

import gymnasium as gym
import numpy as np
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from sb3_distill import envs
from sb3_distill.common.atomic_files import atomic_path
from sb3_distill.common.teacher_sources import CONFIG_FILE
from sb3_distill.deploy.deployable import RUN_RESULTS_FILE, Deployable, find_deployable
from sb3_distill.evaluation import EVAL_SEED_OFFSET

#: Suites whose environments render frames through ``gym.make(..., render_mode="rgb_array")``.
VIDEO_SUITES = ("classic", "mujoco")
#: Frames per second of a video whose environment does not say (``metadata["render_fps"]``).
DEFAULT_FPS = 30
VIDEO_EXTRA = "pip install 'sb3-distill[video]'"


@dataclass(frozen=True)
class EvaluationResult:
    """What :func:`evaluate` measured.

    :param source: the zip of the agent that was evaluated
    :param env_id: its environment
    :param seed: the run seed of the evaluation (the environment is seeded ``seed + EVAL_SEED_OFFSET``)
    :param episodes: how many episodes
    :param deterministic: whether the agent took its most probable action
    :param mean: mean return over the episodes
    :param std: standard deviation of the return over the episodes
    :param episode_returns: each episode's return, in the order the episodes ended
    :param episode_lengths: each episode's number of steps, in the same order
    :param videos: the mp4 files of the first episodes, in the same order (empty without ``video_dir``); the
        video of an episode of length L has L + 1 frames: the frame after reset, then one after each step
        (the last shows the state the episode ended in)
    """

    source: str
    env_id: str
    seed: int
    episodes: int
    deterministic: bool
    mean: float
    std: float
    episode_returns: tuple[float, ...]
    episode_lengths: tuple[int, ...]
    videos: tuple[str, ...] = ()


def evaluate(
    source: str,
    episodes: int = 20,
    seed: int | None = None,
    env: str | None = None,
    best: bool = False,
    deterministic: bool | None = None,
    video_dir: str | None = None,
    video_episodes: int = 1,
    trust_pickle: bool = False,
) -> EvaluationResult:
    """Evaluate a student or a teacher under the suite's protocol, optionally recording its first episodes.

    Nothing is written but the videos: the result is returned (the command line prints it).

    :param source: a distillation run folder, a ``train-teacher``/``corrupt`` folder, an RL Zoo run folder, or
        an SB3 ``.zip``
    :param episodes: number of evaluation episodes
    :param seed: run seed of the evaluation environment (seeded ``seed + EVAL_SEED_OFFSET``, as a run's final
        evaluation is). ``None``: the seed the run recorded (a distillation run folder's config, a
        ``train-teacher`` folder's ``config.json``), else 0; so a run folder evaluated with its own number of
        episodes gives exactly the ``student_mean_return`` of its ``results.json``
    :param env: the environment id, for a zip whose folder does not record it
    :param best: evaluate the folder's ``best_model.zip`` (a run with periodic evaluation, or an RL Zoo run)
    :param deterministic: take the most probable action; ``None``: the suite's protocol (stochastic on Procgen)
    :param video_dir: record the first ``video_episodes`` episodes as mp4 files in this folder (created if
        needed); classic control, Box2D and MuJoCo only. The recorded episodes are the evaluated ones
    :param video_episodes: how many episodes to record, at most ``episodes``
    :param trust_pickle: read the files without the allow-list (only for files you trust)
    :raises FileNotFoundError: nothing to evaluate at ``source``
    :raises ValueError: the environment is not known, or videos are asked of a suite that cannot render them
    :raises ImportError: videos are asked and imageio or imageio-ffmpeg is not installed
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}.")
    if video_dir is not None and not 1 <= video_episodes <= episodes:
        raise ValueError(f"video_episodes must be between 1 and episodes ({episodes}), got {video_episodes}.")
    deployable = find_deployable(source, env, best)
    suite = envs.check_env_id(deployable.env_id)
    if video_dir is not None:
        _check_video_support(deployable.env_id)
    if seed is None:
        recorded = recorded_seed(source)
        seed = 0 if recorded is None else recorded
    if deterministic is None:
        deterministic = suite.deterministic_eval
    policy = deployable.policy(trust_pickle)

    recorder: EpisodeRecorder | None = None
    if video_dir is None:
        eval_env = deployable.env(seed, trust_pickle=trust_pickle)
    else:
        os.makedirs(video_dir, exist_ok=True)
        paths = [os.path.join(video_dir, _video_name(deployable, seed, episode)) for episode in range(video_episodes)]
        eval_env, recorder = video_env(deployable, seed, paths, trust_pickle)
    try:
        # A recurrent policy's predict takes and returns its state: evaluate_policy carries it between steps
        # and resets it where an episode starts, as for a model.
        played = evaluate_policy(
            policy, eval_env, n_eval_episodes=episodes, deterministic=deterministic, return_episode_rewards=True, warn=False
        )
        # lists of episodes, as return_episode_rewards=True asks
        returns, lengths = cast(tuple[list[float], list[int]], played)
    finally:
        eval_env.close()
    episode_returns = [float(value) for value in returns]
    return EvaluationResult(
        source=deployable.zip_path,
        env_id=deployable.env_id,
        seed=seed,
        episodes=episodes,
        deterministic=deterministic,
        # as evaluate_policy computes them, so that the mean is bit for bit the one a run records
        mean=float(np.mean(returns)),
        std=float(np.std(returns)),
        episode_returns=tuple(episode_returns),
        episode_lengths=tuple(int(length) for length in lengths),
        videos=tuple(recorder.written) if recorder is not None else (),
    )


def recorded_seed(source: str) -> int | None:
    """The seed a folder's run was made with (a distillation run's config, a ``train-teacher`` or ``corrupt``
    folder's ``config.json``), or ``None`` where nothing records one (an RL Zoo folder, a zip)."""
    if not os.path.isdir(source):
        return None
    if os.path.isfile(os.path.join(source, RUN_RESULTS_FILE)):
        from sb3_distill.experiment.distillation_run import read_result

        result = read_result(source)
        return None if result is None else result.config.seed
    try:
        with open(os.path.join(source, CONFIG_FILE), encoding="utf-8") as file:
            record = json.load(file)
    except (OSError, ValueError):
        return None
    seed = record.get("seed") if isinstance(record, dict) else None
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def video_env(
    deployable: Deployable, seed: int, paths: list[str], trust_pickle: bool = False
) -> tuple[VecEnv, EpisodeRecorder]:
    """The evaluation environment of :meth:`Deployable.env`, rendering ``rgb_array`` frames, whose first
    ``len(paths)`` episodes are written to ``paths``.

    :param deployable: the agent and its environment
    :param seed: run seed of the evaluation (the environment is seeded ``seed + EVAL_SEED_OFFSET``)
    :param paths: the mp4 file of each episode to record, in order
    :param trust_pickle: read the statistics without the allow-list
    :raises ValueError: the suite's environments cannot render frames (Atari, MinAtar, Procgen)
    :raises ImportError: imageio or imageio-ffmpeg is not installed
    """
    _check_video_support(deployable.env_id)
    writer_factory = _ffmpeg_writer_factory()
    # The same call as evaluation_env, plus the render mode (passed to gym.make): same seed, same wrappers.
    raw = envs.make(
        deployable.env_id,
        1,
        seed + EVAL_SEED_OFFSET,
        normalize=False,
        training=False,
        student_observation=deployable.student_observation,
        privileged=False,
        render_mode="rgb_array",
    )
    if not isinstance(raw, DummyVecEnv):  # envs.make builds one process's environments
        raw.close()
        raise TypeError(f"Expected envs.make to give a DummyVecEnv for {deployable.env_id}, got {type(raw).__name__}.")
    # Inside the DummyVecEnv, so that the episode's last frame is rendered before the automatic reset.
    recorder = EpisodeRecorder(raw.envs[0], paths, writer_factory, deployable.env_id)
    raw.envs[0] = recorder
    normalized = deployable.vec_normalize(raw, trust_pickle)
    return envs.with_frame_stack(normalized if normalized is not None else raw, deployable.frame_stack), recorder


class EpisodeRecorder(gym.Wrapper):
    """Write the first episodes of an environment as videos, one file each, as they are played.

    The video of an episode of length L has L + 1 frames: ``render()`` after reset, then after each step. Frames
    are encoded as they come (never all held in memory), under a temporary name that becomes the file's when the
    episode ends; an episode cut short (the environment closed or reset before it ended) leaves no file.

    :param env: the environment, made with ``render_mode="rgb_array"``
    :param paths: the file of each episode to record, in order: episode ``i`` goes to ``paths[i]``
    :param writer_factory: opens a video writer, ``(path, fps) -> writer`` with ``append_data`` and ``close``
    :param env_id: the environment's id, for error messages
    """

    def __init__(self, env: gym.Env, paths: list[str], writer_factory: Any, env_id: str):
        super().__init__(env)
        self.paths = list(paths)
        self.written: list[str] = []
        self.env_id = env_id
        self._writer_factory = writer_factory
        self._fps = int(self.env.metadata.get("render_fps") or DEFAULT_FPS)
        self._episode = -1
        self._open: ExitStack | None = None
        self._writer: Any = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self._abort()
        observation, info = self.env.reset(**kwargs)
        self._episode += 1
        if self._episode < len(self.paths):
            self._start(self.paths[self._episode])
            self._capture()
        return observation, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        if self._writer is not None:
            self._capture()
            if terminated or truncated:
                self._finish()
        return observation, reward, terminated, truncated, info

    def close(self) -> None:
        self._abort()
        super().close()

    def _start(self, path: str) -> None:
        stack = ExitStack()
        try:
            temporary = stack.enter_context(atomic_path(path))
            self._writer = self._writer_factory(temporary, self._fps)
        except BaseException:
            stack.close()
            raise
        self._open = stack
        self._path = path

    def _capture(self) -> None:
        try:
            frame = self.env.render()
        except gym.error.DependencyNotInstalled as error:
            self._abort()
            raise ImportError(f"{self.env_id} cannot render frames here: {error}") from None
        except Exception as error:
            self._abort()
            # MuJoCo needs an OpenGL context, which a machine without a display has only through EGL or OSMesa,
            # chosen when mujoco is imported
            hint = (
                " MuJoCo renders without a display through EGL or OSMesa: start Python with MUJOCO_GL=egl "
                "(or MUJOCO_GL=osmesa)."
                if envs.suite_of(self.env_id).name == "mujoco"
                else ""
            )
            raise RuntimeError(f"{self.env_id} could not render a frame ({type(error).__name__}: {error}).{hint}") from error
        if not isinstance(frame, np.ndarray) or frame.ndim != 3:
            self._abort()
            raise ValueError(
                f"{self.env_id} rendered {type(frame).__name__} with render_mode='rgb_array', expected an RGB image "
                "(height, width, 3); it cannot be recorded."
            )
        self._writer.append_data(frame)

    def _finish(self) -> None:
        assert self._open is not None
        writer, stack = self._writer, self._open
        self._writer, self._open = None, None
        try:
            writer.close()
        except BaseException as error:
            stack.__exit__(type(error), error, error.__traceback__)  # removes the temporary file
            raise
        stack.close()  # renames the finished file to its name
        self.written.append(self._path)

    def _abort(self) -> None:
        if self._open is None:
            return
        writer, stack = self._writer, self._open
        self._writer, self._open = None, None
        try:
            writer.close()
        finally:
            cut = RuntimeError("episode cut short")
            stack.__exit__(RuntimeError, cut, None)  # atomic_path removes the temporary file


def _check_video_support(env_id: str) -> None:
    suite = envs.suite_of(env_id)
    if suite.name not in VIDEO_SUITES:
        raise ValueError(
            f"Videos are recorded for classic-control, Box2D and MuJoCo environments (rendered by gym.make's "
            f"render_mode='rgb_array'); {env_id} is in the {suite.name} suite, whose environments sb3-distill builds "
            "without rendering. Evaluate it without --video (video_dir=None)."
        )


def _ffmpeg_writer_factory() -> Any:
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401  (the FFMPEG format's encoder)
    except ImportError as error:
        raise ImportError(f"Recording videos needs imageio and imageio-ffmpeg ({error}): {VIDEO_EXTRA}.") from None

    def open_writer(path: str, fps: int) -> Any:
        # macro_block_size 2: H.264 in yuv420p needs even sides, and CartPole's 600 x 400 frames are not
        # multiples of imageio's default 16 (it would rescale them).
        return imageio.get_writer(path, format="FFMPEG", mode="I", fps=fps, macro_block_size=2, ffmpeg_log_level="error")

    return open_writer


def _video_name(deployable: Deployable, seed: int, episode: int) -> str:
    slug = envs.env_slug(deployable.env_id)
    stem = os.path.splitext(os.path.basename(deployable.zip_path))[0]
    prefix = slug if stem == slug else f"{stem}-{slug}"
    return f"{prefix}-seed{seed}-episode{episode}.mp4"
