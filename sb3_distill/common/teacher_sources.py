"""``load_teacher``: one entry point for teachers from anywhere, loaded safely.

A teacher can be an SB3 model or policy object, the path of an SB3 .zip, an RL Zoo run folder
(``logs/<algo>/<Env>_<id>/``), or a Hugging Face Hub id ``hf://ORG/REPO`` served from the local Hub
cache. Files are read with ``safe_loading``: no pickled code runs unless ``trust_pickle=True``.
"""

from __future__ import annotations

import glob
import inspect
import json
import os
import re
from typing import Any

import numpy as np
import torch as th
import yaml
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first
from stable_baselines3.common.utils import get_device

from sb3_distill.common.callable_teacher import CallableTeacher
from sb3_distill.common.compatibility import check_teacher_fits
from sb3_distill.common.frame_stacked_teacher import FrameStackedTeacher, frame_stacked
from sb3_distill.common.multi_teacher import MultiTeacher
from sb3_distill.common.observation_normalizer import ObservationNormalizer
from sb3_distill.common.safe_loading import read_model_zip
from sb3_distill.common.teacher import DEFAULT_Q_TEMPERATURE, Teacher, TeacherNormalization, as_normalizer, make_teacher
from sb3_distill.common.teacher_views import teacher_view_of
from sb3_distill.common.yaml_files import load_zoo_yaml
from sb3_distill.envs.suites import suite_of

HUB_PREFIX = "hf://"
#: What ``sb3-distill train-teacher`` and ``corrupt`` write beside a teacher: its environment and how it was made.
CONFIG_FILE = "config.json"
#: File names of saved ``VecNormalize`` statistics: the RL Zoo's, then the Hub's and SB3's documentation's.
VECNORMALIZE_FILE_NAMES = ("vecnormalize.pkl", "vec_normalize.pkl")

TeacherSource = Teacher | BaseAlgorithm | BasePolicy | str | os.PathLike


def load_teacher(
    source: TeacherSource,
    env: Any = None,
    best: bool = False,
    teacher_vecnormalize: TeacherNormalization = None,
    trust_pickle: bool = False,
    device: th.device | str = "auto",
    temperature: float = DEFAULT_Q_TEMPERATURE,
    frame_stack: int | None = None,
) -> Teacher:
    """Load a frozen teacher from a model, a zip, an RL Zoo run folder or a Hub id.

    The algorithm is read from the policy class (in a zip, from its metadata): actor-critic policies
    (PPO, A2C, PPD, ...) teach with their action distribution, DQN and QR-DQN with softmax(Q / τ),
    and SAC, TD3, DDPG and TQC with their deterministic action (matched by ``mse`` or ``huber``).

    :param source: an SB3 model or its policy, a ``Teacher`` (returned as it is, moved to ``device``,
        unless ``teacher_vecnormalize`` gives it new statistics), the path of an SB3 .zip, an RL Zoo
        run folder, or ``"hf://ORG/REPO"``
    :param env: optional environment (Gymnasium or VecEnv) whose spaces the teacher must fit (with a
        :class:`~sb3_distill.common.teacher_views.TeacherView`: the teacher's view of it)
    :param best: for an RL Zoo folder, take ``best_model.zip`` instead of the final ``<Env>.zip``
    :param teacher_vecnormalize: the teacher's observation statistics (a ``VecNormalize`` or .pkl path);
        ``False`` for raw observations. When not given for a file source, a ``vecnormalize.pkl`` /
        ``vec_normalize.pkl`` that belongs to it is used, and without one the teacher sees raw observations.
    :param trust_pickle: unpickle the files' objects without the allow-list (only for files you trust)
    :param device: where the teacher's network runs
    :param temperature: τ of a DQN or QR-DQN teacher's softmax(Q / τ)
    :param frame_stack: the teacher's policy reads its last N observations, stacked (SB3's ``VecFrameStack``):
        it is given one observation per state and stacks them itself
        (:class:`~sb3_distill.common.frame_stacked_teacher.FrameStackedTeacher`). ``None``: what the folder
        records (:func:`source_frame_stack`: an RL Zoo run folder's ``frame_stack`` outside Atari, a
        ``corrupt`` folder's), else 1
    """
    device = get_device(device)
    normalizer = as_normalizer(teacher_vecnormalize, trust_pickle)
    if frame_stack is not None and frame_stack < 1:
        raise ValueError(f"frame_stack must be positive, got {frame_stack}.")
    if isinstance(source, MultiTeacher) and (normalizer is not None or frame_stack not in (None, 1)):
        raise ValueError(
            "Each teacher of a MultiTeacher keeps its own statistics and frame stack: give them to load_teacher for "
            "each teacher before building the MultiTeacher, not for the MultiTeacher."
        )
    if isinstance(source, CallableTeacher) and (normalizer is not None or frame_stack not in (None, 1)):
        raise ValueError(
            f"{source.kind} reads the student's observations as they are: normalise or stack them inside its "
            "function, not with teacher_vecnormalize or frame_stack."
        )
    if isinstance(source, FrameStackedTeacher):  # its stack is rebuilt below, around its own teacher
        frame_stack = frame_stack or source.n_stack
        source = source.inner
    if isinstance(source, Teacher) and normalizer is None:
        teacher = source  # already built: a Teacher keeps its own statistics and temperature
    elif isinstance(source, Teacher):
        temperature = getattr(source, "temperature", temperature)
        teacher = make_teacher(source.policy, normalizer or source.obs_normalizer, source.source, temperature)
    elif isinstance(source, BaseAlgorithm):
        teacher = make_teacher(source.policy, normalizer, None, temperature)
    elif isinstance(source, BasePolicy):
        teacher = make_teacher(source, normalizer, None, temperature)
    elif isinstance(source, (str, os.PathLike)):
        if frame_stack is None:
            frame_stack = source_frame_stack(os.fspath(source))
        zip_path, stats_path, label = resolve_file_source(os.fspath(source), best)
        policy = policy_from_zip(zip_path, device, trust_pickle)
        if normalizer is None:
            normalizer = (
                ObservationNormalizer.load(stats_path, trust_pickle) if stats_path else ObservationNormalizer.identity()
            )
        teacher = make_teacher(policy, normalizer, label, temperature)
    else:
        raise TypeError(
            "The teacher must be an SB3 model or policy, the path of an SB3 .zip, an RL Zoo run folder "
            f"or 'hf://ORG/REPO'; got {type(source).__name__}."
        )
    teacher = frame_stacked(teacher, frame_stack or 1)
    teacher.to(device)
    if env is not None:
        view = teacher_view_of(env)
        shown = env.observation_space if view is None else view.teacher_observation_space
        check_teacher_fits(
            teacher.observation_space, teacher.action_space, _as_policy_space(shown), env.action_space, view is not None
        )
    return teacher


def _as_policy_space(space: spaces.Space) -> spaces.Space:
    """The observation space as an SB3 policy sees it (channel-last images are transposed)."""
    if isinstance(space, spaces.Box) and is_image_space(space) and not is_image_space_channels_first(space):
        low, high = np.transpose(space.low, (2, 0, 1)), np.transpose(space.high, (2, 0, 1))
        return spaces.Box(low, high, dtype=space.dtype)  # type: ignore[arg-type]
    return space


def resolve_file_source(source: str, best: bool) -> tuple[str, str | None, str]:
    """``(zip path, statistics path or None, label)`` of a zip path, a Zoo folder or a Hub id."""
    if source.startswith(HUB_PREFIX):
        return _hub_files(source[len(HUB_PREFIX) :])
    if os.path.isdir(source):
        recorded = _recorded_teacher(source)
        if recorded is not None:  # a folder written by train-teacher or corrupt: its config.json names the zip
            return recorded, find_vecnormalize(recorded), os.path.abspath(recorded)
        return _zoo_run_files(source, best)
    zip_path = source if os.path.isfile(source) else source + ".zip" if os.path.isfile(source + ".zip") else None
    if zip_path is None:
        raise FileNotFoundError(
            f"Teacher not found: {source!r}. Pass the path of a model saved with model.save(), an RL Zoo run folder, "
            "or hf://ORG/REPO."
        )
    return zip_path, find_vecnormalize(zip_path), os.path.abspath(zip_path)


def find_vecnormalize(zip_path: str) -> str | None:
    """The saved ``VecNormalize`` that belongs to a model zip, if one lies beside it (or in the Zoo's ``<name>/``)."""
    folder = os.path.dirname(os.path.abspath(zip_path))
    stem = os.path.splitext(os.path.basename(zip_path))[0]
    for directory in (folder, os.path.join(folder, stem)):
        for name in VECNORMALIZE_FILE_NAMES:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                return candidate
    return None


def zoo_env_id(folder: str) -> str:
    """``logs/ppo/CartPole-v1_3`` -> ``CartPole-v1`` (the Zoo names run folders ``<Env>_<id>``)."""
    return re.sub(r"_\d+$", "", os.path.basename(os.path.normpath(folder)))


def _zoo_saved(folder: str, name: str) -> dict[str, Any]:
    """A Zoo run folder's ``<Env>/<name>`` (``args.yml``, ``config.yml``), read without building objects
    (the Zoo's own files are tagged ``OrderedDict`` mappings); empty when missing or unreadable."""
    try:
        with open(os.path.join(folder, zoo_env_id(folder), name), encoding="utf-8") as file:
            saved = load_zoo_yaml(file.read())
    except (OSError, ValueError, yaml.YAMLError):
        return {}
    return saved if isinstance(saved, dict) else {}


def _zoo_args_env(folder: str) -> str | None:
    """The Gymnasium id in a Zoo run folder's ``<Env>/args.yml`` (``ALE/Pong-v5`` where the folder says
    ``ALE-Pong-v5``)."""
    env = _zoo_saved(folder, "args.yml").get("env")
    return env if isinstance(env, str) and env else None


def source_frame_stack(source: str) -> int:
    """How many observations the agent of a folder reads, stacked, that a teacher must stack itself: the
    ``frame_stack`` a ``corrupt`` folder's ``config.json`` records (a ``package`` folder's, in the packaged
    run's config), or an RL Zoo run folder's ``config.yml`` names outside Atari (whose suite stacks frames
    for student and teacher alike); 1 for any other source."""
    if not os.path.isdir(source):
        return 1
    if _recorded_teacher(source) is not None:
        try:
            with open(os.path.join(source, CONFIG_FILE)) as file:
                record = json.load(file)
            run = record.get("config")
            recorded = record.get("frame_stack", run.get("frame_stack", 1) if isinstance(run, dict) else 1)
        except (OSError, ValueError, AttributeError):
            return 1
        return recorded if isinstance(recorded, int) and not isinstance(recorded, bool) and recorded > 1 else 1
    frame_stack = zoo_frame_stack(source)
    return frame_stack if suite_of(_zoo_args_env(source) or zoo_env_id(source)).name != "atari" else 1


def zoo_frame_stack(folder: str) -> int:
    """The ``frame_stack`` of a Zoo run folder's ``<Env>/config.yml``: the agent reads its last N observations
    (the Zoo's ``create_test_env`` stacks them on top of ``VecNormalize``); 1 when none is named."""
    frame_stack = _zoo_saved(folder, "config.yml").get("frame_stack")
    return frame_stack if isinstance(frame_stack, int) and not isinstance(frame_stack, bool) and frame_stack > 1 else 1


def _recorded_teacher(folder: str) -> str | None:
    """The zip of a folder that ``sb3-distill train-teacher`` (``<ENV>.zip``), ``corrupt`` or ``package`` wrote, as
    its ``config.json`` tells, or ``None`` for any other folder (e.g. an RL Zoo run's)."""
    try:
        with open(os.path.join(folder, CONFIG_FILE)) as file:
            record = json.load(file)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("env"), str):
        return None
    zips = sorted(glob.glob(os.path.join(folder, "*.zip")))
    named = os.path.join(folder, f"{record['env'].replace('/', '-')}.zip")
    if os.path.isfile(named):
        return named
    files = record.get("files")
    packaged = os.path.join(folder, str(files.get("model"))) if isinstance(files, dict) and files.get("model") else None
    if packaged is not None and os.path.isfile(packaged):  # a folder sb3-distill package wrote
        return packaged
    return zips[0] if "corrupted_from" in record and len(zips) == 1 else None


def _zoo_run_files(folder: str, best: bool) -> tuple[str, str | None, str]:
    env_id = zoo_env_id(folder)
    chosen = os.path.join(folder, "best_model.zip" if best else f"{env_id}.zip")
    if not os.path.isfile(chosen):
        found = sorted(os.path.basename(path) for path in glob.glob(os.path.join(folder, "*.zip")))
        hint = "pass best=False (--best off) for the final model" if best else "pass best=True (--best) for best_model.zip"
        raise FileNotFoundError(
            f"RL Zoo run folder {folder!r} has no {os.path.basename(chosen)} (zips there: {found or 'none'}). "
            f"Point to a folder logs/<algo>/<Env>_<id>/ written by rl_zoo3.train{', or ' + hint if found else ''}."
        )
    stats = os.path.join(folder, env_id, "vecnormalize.pkl")
    best_stats = os.path.join(folder, "best_model_vecnormalize.pkl")  # sb3-distill's run folders keep the best's own
    if best and os.path.isfile(best_stats):
        stats = best_stats
    return chosen, stats if os.path.isfile(stats) else find_vecnormalize(chosen), os.path.abspath(chosen)


def _hub_files(repo_id: str) -> tuple[str, str | None, str]:
    if repo_id.count("/") != 1:
        raise ValueError(f"A Hub teacher is named hf://ORG/REPO, got hf://{repo_id}.")
    folder = _hub_snapshot(repo_id)
    zips = sorted(glob.glob(os.path.join(folder, "*.zip")))
    named = os.path.join(folder, repo_id.split("/")[1] + ".zip")  # the RL Zoo's naming: ORG/algo-Env, algo-Env.zip
    zip_path = named if os.path.isfile(named) else zips[0] if len(zips) == 1 else None
    if zip_path is None:
        raise FileNotFoundError(
            f"Hub repository {repo_id} has no single model zip (found {[os.path.basename(z) for z in zips]})."
        )
    stats = next((os.path.join(folder, n) for n in VECNORMALIZE_FILE_NAMES if os.path.isfile(os.path.join(folder, n))), None)
    return zip_path, stats, HUB_PREFIX + repo_id


def _hub_snapshot(repo_id: str) -> str:
    """The local folder of a Hub repository: from the cache, else downloaded, else a clear error."""
    try:
        from huggingface_hub import constants, snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:
        raise ImportError("Hub teachers need huggingface_hub: pip install 'sb3-distill[hub]'.") from None
    try:
        return snapshot_download(repo_id, local_files_only=True)
    except LocalEntryNotFoundError:
        pass
    advice = (
        f"Download it where the Hub is reachable (hf download {repo_id}; huggingface-cli download before "
        "huggingface_hub 1.0) and copy the cache, or pass a local path."
    )
    if constants.HF_HUB_OFFLINE:
        raise FileNotFoundError(
            f"Teacher hf://{repo_id} is not in the Hub cache {constants.HF_HUB_CACHE} (offline mode). {advice}"
        )
    try:
        return snapshot_download(repo_id, etag_timeout=10)
    except Exception as error:
        raise FileNotFoundError(
            f"Teacher hf://{repo_id} is not in the Hub cache {constants.HF_HUB_CACHE} and could not be downloaded "
            f"({type(error).__name__}). {advice}"
        ) from None


def _constant_zero(_: float) -> float:
    return 0.0


def policy_from_zip(path: str, device: th.device | str, trust_pickle: bool) -> BasePolicy:
    """Rebuild only the policy of an SB3 zip, whatever algorithm saved it."""
    data, state_dict = read_model_zip(path, device, trust_pickle)
    policy_class = data["policy_class"]
    if not (isinstance(policy_class, type) and issubclass(policy_class, BasePolicy)):
        raise ValueError(f"Teacher {path!r} has policy class {policy_class!r}, which is not an SB3 policy.")
    kwargs = dict(data.get("policy_kwargs") or {})
    parameters = inspect.signature(policy_class.__init__).parameters
    if "use_sde" in parameters:
        kwargs.setdefault("use_sde", data.get("use_sde", False))
    if "lr_schedule" in parameters:  # policies without an optimizer (sb3-contrib's ARS) take none
        kwargs["lr_schedule"] = _constant_zero
    # The weights are overwritten below; forking keeps the student's random stream untouched by the
    # teacher's initialisation, so a run is reproducible whether its teacher is an object or a file.
    with th.random.fork_rng(devices=[]):
        policy = policy_class(data["observation_space"], data["action_space"], **kwargs)
    policy.load_state_dict(state_dict)
    return policy.to(device)


def teacher_env_id(source: str) -> str | None:
    """The environment a teacher was trained on, where its source says: train-teacher's config.json,
    the RL Zoo's run folder name (``<Env>_<id>``), or the Zoo's Hub naming (``ORG/algo-Env``)."""
    if source.startswith(HUB_PREFIX):
        name = source.rsplit("/", 1)[-1]
        return name.split("-", 1)[1] if "-" in name else None
    if os.path.isdir(source):
        recorded = _recorded_teacher(source)
        if recorded is None:
            return _zoo_args_env(source) or zoo_env_id(source)
        source = recorded
    config = os.path.join(os.path.dirname(os.path.abspath(source)), CONFIG_FILE)
    if os.path.isfile(config):
        with open(config) as file:
            return json.load(file).get("env")
    return None
