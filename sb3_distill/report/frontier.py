"""The size-return frontier: per environment, each student size and method, and the teacher, as return against
parameters and inference latency, the picture a user needs to choose a student.

Latency depends on the network, not on its weights, so it is measured once per environment and network (the
teacher's and each student's, see :func:`network_name`), on networks of the recorded architecture, and cached in
``OUT/latency.json`` like the random policy's scores: a report rebuilt from committed records reads it and measures
nothing. A network that could not be measured (its teacher's zip was missing, say) is tried again by the next report,
and the file is rewritten only when an entry changes, so a failure that persists leaves it as it was. A student is
rebuilt untrained from the run's teacher (its zip, else its ``config.json``) and the run's config, as the run built
it: its size, its view of the observation, its frame stack and its LSTM. It is used only if its parameter count
equals the one the runs recorded.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import tempfile
from collections import defaultdict
from typing import Any

import numpy as np
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.policies import BasePolicy

from sb3_distill.common.atomic_files import read_json_record, write_json_atomically
from sb3_distill.deploy.export import onnxruntime_version
from sb3_distill.report.tables import ORIGINAL, SIZE_ORDER, Run, _ordered, ordered_methods

LATENCY_FILE = "latency.json"
TEACHER = "teacher"
#: Timed calls per network, after 20 untimed ones; one thread, batch of one observation.
REPEATS = 500


def latencies(out: str, runs: list[Run]) -> dict[str, Any]:
    """``OUT/latency.json``: per environment, the teacher's and each student size's parameters and batch-1 latency
    (ONNX through onnxruntime, and SB3's ``predict``), measuring what it lacks and writing it back.

    Without onnxruntime nothing is measured (the report says so).
    """
    path = os.path.join(out, LATENCY_FILE)
    record: dict[str, Any] = read_json_record(path) if os.path.isfile(path) else {}
    networks = record.setdefault("networks", {})
    examples = {(run.env, network_name(run)): run for run in _frontier_runs(runs)}
    missing = [
        (env, name)
        for env, name in sorted(examples)
        if not _measured(networks.get(env, {}).get(name)) or not _measured(networks.get(env, {}).get(TEACHER))
    ]
    if not missing or not onnxruntime_version():
        return record
    changed = False
    for env, name in missing:
        measured = networks.setdefault(env, {})
        example = examples[(env, name)]
        teacher = _teacher_policy(out, example)
        if not _measured(measured.get(TEACHER)):
            entry = _measure(teacher[0], teacher[1], _recorded(example, "teacher_policy_parameters"))
            changed |= _keep(measured, TEACHER, entry)
        if not _measured(measured.get(name)):
            student = _student_policy(teacher[0], example) if teacher[0] is not None else (None, teacher[1])
            entry = _measure(student[0], student[1], _recorded(example, "student_policy_parameters"))
            changed |= _keep(measured, name, entry)
    if not changed:
        return record
    record["settings"] = {
        "threads": 1,
        "batch": 1,
        "repeats": REPEATS,
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "torch": th.__version__,
        "onnxruntime": onnxruntime_version(),
        "measured": datetime.date.today().isoformat(),
    }
    write_json_atomically(path, record)
    return record


def _measured(entry: dict[str, Any] | None) -> bool:
    return bool(entry and entry.get("measured"))


def _keep(measured: dict[str, Any], name: str, entry: dict[str, Any]) -> bool:
    """Record ``entry`` for ``name`` where it is new or a measurement; a failure again keeps the first one's reason
    (another seed's run may word it differently), so that the file does not change."""
    if name in measured and not entry["measured"]:
        return False
    measured[name] = entry
    return True


def network_name(run: Run) -> str:
    """The student's network as the frontier names it: its size, then what it reads where that is not the
    teacher's observation: the entries or keys of its view (``obs=0:8``), its stacked frames (``frame_stack=4``)
    and its LSTM (``recurrent``). A plain student keeps the size alone, the name latency files have always used."""
    config = _results(run).get("config") or {}
    parts = [run.student]
    view = config.get("student_observation")
    if view:
        parts.append(f"obs={_entries(view)}")
    if isinstance(config.get("frame_stack"), int) and config["frame_stack"] > 1:
        parts.append(f"frame_stack={config['frame_stack']}")
    if config.get("recurrent"):
        parts.append("recurrent")
    return " ".join(parts)


def _entries(view: list[Any]) -> str:
    """``0:8`` for the entries 0 to 7, ``0,2`` for others, the keys of a Dict view joined by commas."""
    if all(isinstance(i, int) for i in view) and list(view) == list(range(view[0], view[0] + len(view))):
        return f"{view[0]}:{view[0] + len(view)}"
    return ",".join(str(i) for i in view)


def frontier_envs(runs: list[Run]) -> list[str]:
    """The environments with students of original teachers: a frontier needs the teacher they learned from."""
    return sorted({run.env for run in runs if run.variant == ORIGINAL and not run.baseline})


def _frontier_runs(runs: list[Run]) -> list[Run]:
    envs = set(frontier_envs(runs))
    return [run for run in runs if run.env in envs and (run.variant == ORIGINAL or run.baseline)]


def _results(run: Run) -> dict[str, Any]:
    try:
        with open(os.path.join(run.folder, "results.json")) as file:
            record = json.load(file)
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _recorded(run: Run, key: str) -> int | None:
    value = _results(run).get(key)
    return int(value) if isinstance(value, int) else None


def _env(env_id: str) -> Any:
    from sb3_distill import envs

    return envs.make(env_id, 1, seed=0, normalize=False, training=False)


def _teacher_policy(out: str, run: Run) -> tuple[BasePolicy | None, str]:
    """The run's teacher network (weights do not matter): its zip where it still lies, else rebuilt from its
    ``config.json`` in the grid's ``teachers/`` folder."""
    from sb3_distill.common.teacher_sources import policy_from_zip

    source = _results(run).get("teacher")
    if isinstance(source, str) and os.path.isfile(source):
        return policy_from_zip(source, "cpu", trust_pickle=False), "the teacher's zip"
    config = os.path.join(out, "teachers", run.env.replace("/", "-"), f"s{run.seed}-{ORIGINAL}", "config.json")
    if not os.path.isfile(config):
        return None, f"no teacher zip or config.json ({os.path.relpath(config, out)})"
    with open(config) as file:
        record = json.load(file)
    try:
        model = PPO(record.get("policy", "MlpPolicy"), _env(run.env), policy_kwargs=record.get("policy_kwargs"), device="cpu")
    except (TypeError, ValueError, KeyError) as error:
        return None, f"the teacher's config.json does not rebuild it ({error})"
    return model.policy, "rebuilt from the teacher's config.json"


def _student_policy(teacher: BasePolicy, run: Run) -> tuple[BasePolicy | None, str]:
    """The run's student network, untrained: its config's size, view, frame stack and LSTM on that teacher, with
    the policy and ``policy_kwargs`` the run itself built (:func:`~sb3_distill.experiment.distillation_run.student_policy`).
    Runs older than the config in ``results.json`` are plain students: the size on the teacher's observation."""
    from sb3_contrib import RecurrentPPO

    from sb3_distill import envs
    from sb3_distill.experiment.configs import ConfigError, DistillConfig
    from sb3_distill.experiment.distillation_run import student_policy

    if run.student not in SIZE_ORDER:
        return None, f"unknown size {run.student!r}"
    values = _results(run).get("config") or {"env": run.env, "student": run.student}
    try:
        config = DistillConfig.from_dict({**values, "teacher": None, "env": run.env})
        policy, policy_kwargs = student_policy(config, teacher)
    except (ConfigError, TypeError, ValueError) as error:
        return None, f"the run's config does not rebuild its student ({error})"
    env = envs.make(
        run.env,
        1,
        seed=0,
        normalize=False,
        training=False,
        student_observation=config.student_observation,
        privileged=False,
        frame_stack=config.frame_stack,
    )
    algorithm = RecurrentPPO if config.recurrent else PPO
    model = algorithm(policy, env, policy_kwargs=policy_kwargs, device="cpu")
    return model.policy, f"the run's {network_name(run)} student of that teacher, rebuilt from its config"


def _measure(policy: BasePolicy | None, how: str, recorded: int | None) -> dict[str, Any]:
    """Parameters and batch-1 latency of ``policy`` on the observation it reads (an LSTM's state zero); nothing but
    the reason where it could not be rebuilt, or its size differs from the recorded one (then it is not the network
    the runs had)."""
    from sb3_distill.deploy.export import file_runner, time_call, write_graph
    from sb3_distill.deploy.graph import DeployedPolicy, example_inputs
    from sb3_distill.student_sizes import policy_parameter_count

    if policy is None:
        return {"measured": False, "why": how}
    count = policy_parameter_count(policy)
    if recorded is not None and count != recorded:
        return {"measured": False, "why": f"rebuilt network has {count:,} parameters, the runs recorded {recorded:,}"}
    policy.set_training_mode(False)
    space = policy.observation_space
    module = DeployedPolicy(policy, space).eval()
    inputs = [x.numpy() for x in example_inputs(module, space, batch=1)]
    observation: Any = inputs[0] if module.keys is None else dict(zip(module.keys, inputs, strict=False))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "network.onnx")
        write_graph(module, space, path, "onnx")
        run, _ = file_runner(path, "onnx", module, threads=1)
        previous = th.get_num_threads()
        th.set_num_threads(1)
        try:
            onnx = time_call(lambda: run(inputs), REPEATS)
            predict = time_call(lambda: policy.predict(observation, deterministic=True), REPEATS)
        finally:
            th.set_num_threads(previous)
    return {"measured": True, "parameters": count, "network": how, "onnx_ms": onnx, "predict_ms": predict}


def frontier_points(runs: list[Run], record: dict[str, Any], env: str) -> list[dict[str, Any]]:
    """One point per (method, size) of the original teachers' runs on ``env``, and the teacher's."""
    chosen = [run for run in _frontier_runs(runs) if run.env == env]
    networks = record.get("networks", {}).get(env, {})
    groups: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for run in chosen:
        groups[(run.method, run.student)].append(run)
    names = {key: network_name(group[0]) for key, group in groups.items()}
    teachers = [run for run in chosen if not run.baseline]
    points = []
    if teachers:
        by_seed = {run.seed: run.teacher_return for run in teachers}
        points.append(_point("teacher", TEACHER, list(by_seed.values()), networks.get(TEACHER)))
    for method in ordered_methods({m for m, _ in groups}):
        for size in _ordered({s for m, s in groups if m == method}, SIZE_ORDER):
            returns = [run.student_return for run in groups[(method, size)]]
            name = names[(method, size)]
            points.append(_point(method, name, returns, networks.get(name)))
    return points


def _point(method: str, size: str, returns: list[float], network: dict[str, Any] | None) -> dict[str, Any]:
    measured = network is not None and network.get("measured")
    return {
        "method": method,
        "size": size,
        "mean_return": float(np.mean(returns)),
        "n": len(returns),
        "parameters": network["parameters"] if measured else None,  # type: ignore[index]
        "onnx_ms": network["onnx_ms"]["median"] if measured else None,  # type: ignore[index]
        "predict_ms": network["predict_ms"]["median"] if measured else None,  # type: ignore[index]
        "why": None if measured else (network or {}).get("why", "not measured (onnxruntime missing)"),
    }


def frontier_table(points: list[dict[str, Any]]) -> str:
    rows = [
        "| network | method | parameters | ONNX latency, ms | SB3 predict, ms | mean return (n) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for p in points:
        cells = (
            [f"{p['parameters']:,}", f"{p['onnx_ms']:.3f}", f"{p['predict_ms']:.3f}"]
            if p["parameters"] is not None
            else [f"n/a ({p['why']})", "n/a", "n/a"]
        )
        rows.append(f"| {p['size']} | {p['method']} | {' | '.join(cells)} | {p['mean_return']:.1f} ({p['n']}) |")
    return "\n".join(rows)


def plot_frontier(points: list[dict[str, Any]], env: str, path: str) -> bool:
    """Return against ONNX latency and against parameters; ``False`` (nothing drawn) where nothing was measured."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = [p for p in points if p["parameters"] is not None]
    if not drawn:
        return False
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    markers = {"teacher": "*", "teacher-distill": "v", "student-distill": "s", "ppd": "o", "ppo": "x"}
    for axis, key, label in (
        (axes[0], "onnx_ms", "ONNX latency, batch 1, ms (onnxruntime, 1 thread)"),
        (axes[1], "parameters", "parameters"),
    ):
        for method in dict.fromkeys(p["method"] for p in drawn):
            mine = [p for p in drawn if p["method"] == method]
            axis.scatter(
                [p[key] for p in mine],
                [p["mean_return"] for p in mine],
                marker=markers.get(method, "o"),
                s=80 if method == "teacher" else 40,
                label=method,
            )
            for p in mine:
                axis.annotate(
                    p["size"] if method != "teacher" else "",
                    (p[key], p["mean_return"]),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=7,
                )
        axis.set_xlabel(label)
        axis.set_xscale("log")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("mean evaluation return")
    axes[1].legend(fontsize=8)
    figure.suptitle(f"{env}: return against latency and size (original teachers)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


def frontier_name(env: str) -> str:
    return f"frontier-{env.replace('/', '-')}.png"
