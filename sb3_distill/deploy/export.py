"""``export``: a deployed agent as an ONNX or TorchScript file, kept only when it reproduces ``predict``.

The graph (:class:`~sb3_distill.deploy.graph.DeployedPolicy`) reads the environment's observation and returns
its action. Before the file is kept, it is run (ONNX: through onnxruntime) on observations the agent meets
when it acts in its environment, and its actions are compared with SB3's ``predict`` behind the same frozen
``VecNormalize``. Its latency and size are measured and saved beside it as JSON.
"""

from __future__ import annotations

import os
import platform
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.vec_env import VecEnv, VecFrameStack, VecNormalize, VecTransposeImage, unwrap_vec_normalize

from sb3_distill.common.atomic_files import atomic_path, write_json_atomically
from sb3_distill.deploy.deployable import Deployable, find_deployable
from sb3_distill.deploy.graph import DeployedPolicy, NotExportable, example_inputs

FORMATS = ("onnx", "torchscript")
#: The largest difference between an exported Box action and ``predict``'s that a file may show.
DEFAULT_TOLERANCE = 1e-5
LATENCY_BATCH = 64


class ParityError(ValueError):
    """The exported model's actions differ from ``predict``'s beyond the tolerance; nothing was written."""


@dataclass(frozen=True)
class Parity:
    """How closely the exported model reproduces ``predict`` on observations from the environment.

    :param observations: how many observations were compared
    :param max_abs_difference: the largest absolute difference of a Box action's entries (``None`` otherwise)
    :param agreement: the fraction of observations whose action is exactly ``predict``'s (Box: within tolerance)
    :param tolerance: the largest difference allowed (Box)
    :param min_agreement: the smallest agreement allowed (discrete)
    :param runtime: what ran the exported file (``onnxruntime X`` or ``torch X``)
    """

    observations: int
    max_abs_difference: float | None
    agreement: float
    tolerance: float
    min_agreement: float
    runtime: str

    @property
    def holds(self) -> bool:
        if self.max_abs_difference is not None:
            return self.max_abs_difference <= self.tolerance
        return self.agreement >= self.min_agreement


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export` wrote and measured (also in ``<out>.json``).

    :param path: the exported file
    :param format: ``onnx`` or ``torchscript``
    :param source: the zip it was exported from
    :param env_id: the environment
    :param inputs: the graph's input names, in order
    :param outputs: its output names
    :param parity: the comparison with ``predict``
    :param latency_ms: per runtime (``exported``, ``sb3_predict``) and batch size (``1``, ``64``): median and
        99th percentile in milliseconds
    :param file_bytes: the exported file's size
    :param parameters: the policy's parameters used to act (the actor's: no critic)
    :param settings: threads and repetitions of the latency measurement, and versions
    """

    path: str
    format: str
    source: str
    env_id: str
    inputs: list[str]
    outputs: list[str]
    parity: Parity
    latency_ms: dict[str, dict[str, dict[str, float]]]
    file_bytes: int
    parameters: int
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def report_path(self) -> str:
        return self.path + ".json"


def export(
    source: str | os.PathLike | Deployable | BaseAlgorithm,
    out: str,
    format: str = "onnx",
    env: str | VecEnv | None = None,
    best: bool = False,
    observations: int = 1000,
    tolerance: float = DEFAULT_TOLERANCE,
    min_agreement: float = 1.0,
    seed: int = 0,
    measure_latency: bool = True,
    latency_repeats: int = 200,
    threads: int = 1,
    trust_pickle: bool = False,
) -> ExportResult:
    """Export a trained agent to ``out`` and check it reproduces ``predict`` before keeping the file.

    :param source: a distillation run folder, a ``train-teacher`` folder, an RL Zoo run folder or an SB3 zip
        (read safely); a :class:`~sb3_distill.deploy.deployable.Deployable`; or an SB3 model in memory, with
        ``env`` its environment (a ``VecEnv``, under its ``VecNormalize`` and ``VecFrameStack`` if it has them)
    :param out: the file to write (``<out>.json`` gets the figures)
    :param format: ``onnx`` (run through onnxruntime for the check) or ``torchscript``
    :param env: for a zip whose folder does not record it, the environment id; for a model, its ``VecEnv``
        (``None``: the model's own)
    :param best: export the folder's ``best_model.zip``
    :param observations: how many observations to compare on, collected by running the agent (deterministic)
        in its evaluation environment
    :param tolerance: the largest absolute difference allowed between Box actions
    :param min_agreement: the smallest fraction of equal discrete actions allowed
    :param seed: the seed of the environment the observations come from (files; a model's ``env`` is used as it is)
    :param measure_latency: measure single-observation and batch-64 latency of the file and of ``predict``
    :param latency_repeats: timed calls per measurement (after 10 untimed ones)
    :param threads: CPU threads of both runtimes while measuring
    :param trust_pickle: read the files without the allow-list of safe types (only files you trust)
    :raises NotExportable: the policy or its spaces cannot be exported (the message says why)
    :raises ParityError: the exported actions differ beyond the tolerance; no file is written
    """
    if format not in FORMATS:
        raise ValueError(f"Unknown export format {format!r}: expected one of {', '.join(FORMATS)}.")
    if observations < 1:
        raise ValueError(f"observations must be >= 1, got {observations}.")
    if format == "onnx":
        _require_onnx()
    if isinstance(source, BaseAlgorithm):
        policy, venv, label, env_id = _in_memory(source, env)
        frame_stack = venv.stacked_obs.n_stack if isinstance(venv, VecFrameStack) else 1
    else:
        if env is not None and not isinstance(env, str):
            raise TypeError(f"For a file, env is an environment id; got a {type(env).__name__} (pass a model with it).")
        deployable = source if isinstance(source, Deployable) else find_deployable(os.fspath(source), env, best)
        policy, label, env_id, frame_stack = (
            deployable.policy(trust_pickle),
            deployable.zip_path,
            deployable.env_id,
            deployable.frame_stack,
        )
        venv = deployable.env(seed, trust_pickle=trust_pickle)
    vec_normalize = _vec_normalize_of(venv)
    raw_space = _raw_space(venv, frame_stack)
    try:
        module = DeployedPolicy(policy, raw_space, vec_normalize, frame_stack).eval()
        with _frozen(vec_normalize):
            batch = _collect(policy, venv, vec_normalize, module, observations)
    finally:
        if not isinstance(source, BaseAlgorithm):  # the environment built here; a caller's stays open
            venv.close()

    folder = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    with atomic_path(out) as temporary:
        write_graph(module, raw_space, temporary, format)
        run, runtime = file_runner(temporary, format, module, threads)
        parity = _parity(run, batch, policy.action_space, tolerance, min_agreement, runtime)
        if not parity.holds:
            raise ParityError(_parity_message(parity, label))
        latency = _latency(run, policy, module, batch, latency_repeats, threads) if measure_latency else {}
        file_bytes = os.path.getsize(temporary)
    result = ExportResult(
        path=os.path.abspath(out),
        format=format,
        source=label,
        env_id=env_id,
        inputs=module.input_names,
        outputs=module.output_names,
        parity=parity,
        latency_ms=latency,
        file_bytes=file_bytes,
        parameters=sum(p.numel() for p in module.parameters()),
        settings={
            "threads": threads,
            "latency_repeats": latency_repeats,
            "seed": seed,
            "frame_stack": frame_stack,
            "normalization_inside": vec_normalize is not None,
            "torch": th.__version__,
            "onnxruntime": onnxruntime_version(),
            "machine": platform.processor() or platform.machine(),
        },
    )
    record = asdict(result)
    record["parity"]["holds"] = parity.holds
    write_json_atomically(result.report_path, record)
    return result


def _in_memory(model: BaseAlgorithm, env: str | VecEnv | None) -> tuple[BasePolicy, VecEnv, str, str]:
    if isinstance(env, str):
        raise TypeError("For a model, env is its VecEnv (or None: the model's own), not an id.")
    venv = env if env is not None else model.get_env()
    if venv is None:
        raise ValueError("The model has no environment: pass env=VecEnv, wrapped as it was in training.")
    if isinstance(venv, VecTransposeImage):  # SB3's own wrapper: the graph reads the environment's channel-last images
        venv = venv.venv
    spec = getattr(venv.unwrapped, "envs", [None])[0]
    env_id = getattr(getattr(spec, "spec", None), "id", None) or type(venv.unwrapped).__name__
    model.policy.set_training_mode(False)
    return model.policy, venv, f"{type(model).__name__} in memory", str(env_id)


@contextmanager
def _frozen(vec_normalize: VecNormalize | None) -> Iterator[None]:
    """Collecting observations must not move a caller's training statistics."""
    if vec_normalize is None:
        yield
        return
    training = vec_normalize.training
    vec_normalize.training = False
    try:
        yield
    finally:
        vec_normalize.training = training


def _require_onnx() -> None:
    missing = [name for name in ("onnx", "onnxruntime") if not _importable(name)]
    if missing:
        raise ImportError(f"ONNX export needs {' and '.join(missing)}: pip install 'sb3-distill[export]'.")


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def onnxruntime_version() -> str | None:
    try:
        import onnxruntime

        return str(onnxruntime.__version__)
    except ImportError:
        return None


def _vec_normalize_of(venv: VecEnv) -> VecNormalize | None:
    vec_normalize = unwrap_vec_normalize(venv)
    return vec_normalize if vec_normalize is not None and vec_normalize.norm_obs else None


def _raw_space(venv: VecEnv, frame_stack: int) -> spaces.Space:
    """The observation space the graph reads: the environment's beneath the statistics and, where the agent reads
    a stack, beneath the ``VecFrameStack`` (one frame)."""
    vec_normalize = _vec_normalize_of(venv)
    if vec_normalize is not None:
        return vec_normalize.venv.observation_space
    if frame_stack > 1 and isinstance(venv, VecFrameStack):
        return venv.venv.observation_space
    return venv.observation_space


@dataclass
class _Batch:
    """Observations the agent met (raw, as the graph reads them), with ``predict``'s actions on them."""

    inputs: list[np.ndarray]  # one array per graph input, in its order (LSTM states: the batch is their second axis)
    actions: np.ndarray
    predict_inputs: list[np.ndarray]  # the observations as predict read them (after the statistics), per entry
    observation_keys: list[str] | None


def _collect(policy: BasePolicy, venv: VecEnv, vec_normalize: VecNormalize | None, module: DeployedPolicy, n: int) -> _Batch:
    """Run the agent deterministically for ``n`` steps; keep, for each step, the graph's inputs (the raw observation,
    and the previous stack, LSTM state and episode start the agent acted with) and predict's action."""
    observation: Any = venv.reset()
    state: Any = None
    episode_start = np.ones(venv.num_envs, dtype=bool)
    frames = np.zeros_like(observation) if module.stack is not None else None
    columns: dict[str, list[Any]] = {name: [] for name in module.input_names}
    seen: list[Any] = []
    actions: list[np.ndarray] = []
    for _ in range(-(-n // venv.num_envs)):  # every environment gives one observation a step
        raw = _raw(observation, vec_normalize, module)
        if module.keys is None:
            columns["observation"].append(raw)
        else:
            for key in module.keys:
                columns[f"observation_{key}"].append(raw[key])
        if module.stack is not None:
            columns["frames"].append(frames)
        if module.recurrent:
            h, c = state if state is not None else _zero_state(policy, venv.num_envs)
            columns["state_h"].append(h)
            columns["state_c"].append(c)
        if module.has_episode_start:
            columns["episode_start"].append(episode_start.astype(np.float32))
        action, state = policy.predict(observation, state, episode_start, deterministic=True)
        seen.append(observation)
        actions.append(np.asarray(action))
        frames = observation  # the stack the policy read is the next step's previous stack
        observation, _, episode_start, _ = venv.step(action)
    inputs = []
    for name, axis in zip(module.input_names, module.input_batch_axes, strict=True):
        inputs.append(np.take(np.concatenate(columns[name], axis=axis), np.arange(n), axis=axis))
    keys = list(seen[0]) if isinstance(seen[0], dict) else None
    return _Batch(inputs, np.concatenate(actions)[:n], [x[:n] for x in _stack_observations(seen)], keys)


def _zero_state(policy: BasePolicy, n_envs: int) -> tuple[np.ndarray, np.ndarray]:
    lstm: Any = policy.lstm_actor
    zeros = np.zeros((lstm.num_layers, n_envs, lstm.hidden_size), dtype=np.float32)
    return zeros, zeros.copy()


def _raw(observation: Any, vec_normalize: VecNormalize | None, module: DeployedPolicy) -> Any:
    """The observation the graph reads: before the statistics, and the newest frame of a stack."""
    if vec_normalize is not None:
        return vec_normalize.get_original_obs()
    if module.stack is None:
        return observation
    newest = slice(-module.stack.frame, None)
    return observation[:, newest] if module.stack.axis == 1 else observation[..., newest]


def _stack_observations(observations: list[Any]) -> list[np.ndarray]:
    if isinstance(observations[0], dict):
        return [np.concatenate([o[key] for o in observations]) for key in observations[0]]
    return [np.concatenate(observations)]


def write_graph(module: DeployedPolicy, raw_space: spaces.Space, path: str, format: str) -> None:
    """Trace ``module`` and write it as ``format`` (ONNX opset 17, the batch axis dynamic) to ``path``."""
    inputs = example_inputs(module, raw_space)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on SB3's Python-side shape checks, which the graph fixes
        if format == "torchscript":
            th.jit.save(th.jit.trace(module, inputs, check_trace=False), path)
            return
        # states are [layers, batch, hidden]
        batch_axes = {name: {1 if "state_" in name else 0: "batch"} for name in module.input_names + module.output_names}
        th.onnx.export(
            module,
            inputs,
            path,
            input_names=module.input_names,
            output_names=module.output_names,
            dynamic_axes=batch_axes,
            opset_version=17,
            dynamo=False,
        )


Runner = Callable[[list[np.ndarray]], np.ndarray]


def file_runner(path: str, format: str, module: DeployedPolicy, threads: int) -> tuple[Runner, str]:
    """A function from the graph's inputs to its action, running the written file."""
    names = module.input_names
    if format == "onnx":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])

        def run_onnx(inputs: list[np.ndarray]) -> np.ndarray:
            return session.run(["action"], dict(zip(names, inputs, strict=False)))[0]

        return run_onnx, f"onnxruntime {onnxruntime.__version__}"
    loaded = th.jit.load(path)

    def run_torchscript(inputs: list[np.ndarray]) -> np.ndarray:
        with th.no_grad():
            out = loaded(*[th.as_tensor(x) for x in inputs])
        return (out[0] if isinstance(out, tuple) else out).numpy()

    return run_torchscript, f"torch {th.__version__}"


def _parity(
    run: Runner, batch: _Batch, action_space: spaces.Space, tolerance: float, min_agreement: float, runtime: str
) -> Parity:
    exported = run(batch.inputs)
    expected = batch.actions.reshape(exported.shape) if batch.actions.size == exported.size else batch.actions
    n = len(batch.inputs[0])
    if exported.shape != expected.shape:
        raise ParityError(f"The exported model returns actions of shape {exported.shape}, predict {expected.shape}.")
    if isinstance(action_space, spaces.Box):
        difference = np.abs(exported.astype(np.float64) - expected.astype(np.float64)).reshape(n, -1)
        worst = float(difference.max())
        agreement = float(np.mean(difference.max(axis=1) <= tolerance))
        return Parity(n, worst, agreement, tolerance, min_agreement, runtime)
    equal = (exported.reshape(n, -1) == expected.reshape(n, -1)).all(axis=1)
    return Parity(n, None, float(equal.mean()), tolerance, min_agreement, runtime)


def _parity_message(parity: Parity, source: str) -> str:
    if parity.max_abs_difference is not None:
        found = (
            f"its Box actions differ from predict's by up to {parity.max_abs_difference:.3g} (tolerance {parity.tolerance:g})"
        )
        fix = "raise the tolerance (--tolerance) if that is acceptable"
    else:
        found = f"its actions equal predict's on {parity.agreement:.1%} of them (required: {parity.min_agreement:.1%})"
        fix = "lower --min-agreement if near-ties may break either way"
    return (
        f"Export of {source} refused: on {parity.observations} observations from its environment, {found}, through "
        f"{parity.runtime}. No file was written; {fix}, or try the other format."
    )


def _latency(
    run: Runner, policy: BasePolicy, module: DeployedPolicy, batch: _Batch, repeats: int, threads: int
) -> dict[str, dict[str, dict[str, float]]]:
    """Median and p99 milliseconds of one call, for one observation and for ``LATENCY_BATCH``: the exported file
    on raw observations, and SB3's ``predict`` on the same observations as it reads them (after the statistics
    and the stack, which are not timed)."""
    rows = np.arange(LATENCY_BATCH) % len(batch.actions)
    axes = dict(zip(module.input_names, module.input_batch_axes, strict=True))

    def take(index: np.ndarray) -> list[np.ndarray]:
        return [np.take(x, index, axis=axis) for x, axis in zip(batch.inputs, module.input_batch_axes, strict=True)]

    def predict_call(index: np.ndarray) -> Callable[[], Any]:
        read = [np.take(x, index, axis=0) for x in batch.predict_inputs]
        observation: Any = read[0] if batch.observation_keys is None else dict(zip(batch.observation_keys, read, strict=True))
        named = {name: np.take(x, index, axis=axes[name]) for name, x in zip(module.input_names, batch.inputs, strict=True)}
        state = (named["state_h"], named["state_c"]) if module.recurrent else None
        starts = named.get("episode_start")
        return lambda: policy.predict(observation, state, starts, deterministic=True)

    one, many = np.arange(1), rows
    take_one, take_many = take(one), take(many)
    previous = th.get_num_threads()
    th.set_num_threads(threads)
    try:
        return {
            "exported": {
                "1": time_call(lambda: run(take_one), repeats),
                str(LATENCY_BATCH): time_call(lambda: run(take_many), repeats),
            },
            "sb3_predict": {
                "1": time_call(predict_call(one), repeats),
                str(LATENCY_BATCH): time_call(predict_call(many), repeats),
            },
        }
    finally:
        th.set_num_threads(previous)


def time_call(call: Callable[[], Any], repeats: int) -> dict[str, float]:
    """Median and 99th percentile, in milliseconds, of ``repeats`` calls after 10 untimed ones."""
    for _ in range(10):
        call()
    times = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        call()
        times[i] = time.perf_counter() - start
    return {"median": float(np.median(times) * 1e3), "p99": float(np.percentile(times, 99) * 1e3)}


__all__ = ["DEFAULT_TOLERANCE", "FORMATS", "ExportResult", "NotExportable", "Parity", "ParityError", "export"]
