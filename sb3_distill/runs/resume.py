"""Continue a distillation run from its latest usable checkpoint."""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.vec_env import VecEnv

from sb3_distill import schedules
from sb3_distill.common.distillation_algorithm import DistillationAlgorithm
from sb3_distill.common.teacher import DEFAULT_Q_TEMPERATURE
from sb3_distill.common.teacher_sources import TeacherSource, load_teacher
from sb3_distill.runs.checkpoints import (
    STUDENT,
    Checkpoint,
    CheckpointError,
    latest_checkpoint,
    restore_rng,
    restore_vecnormalize,
)


def _algorithms() -> dict[str, type[DistillationAlgorithm]]:
    """The distillation algorithms by class name, as manifests record them (every subclass, user-defined ones too)."""
    found: dict[str, type[DistillationAlgorithm]] = {}
    pending = list(DistillationAlgorithm.__subclasses__())
    while pending:
        cls = pending.pop()
        found.setdefault(cls.__name__, cls)
        pending.extend(cls.__subclasses__())
    return found


def teacher_settings(model: DistillationAlgorithm, **extra: Any) -> dict[str, Any]:
    """What a manifest records to load ``model``'s teacher again: its source, λ and loading options."""
    return {
        "source": model.teacher_source,
        "distill_lambda": schedules.to_text(model.distill_lambda),
        "temperature": getattr(model.teacher, "temperature", DEFAULT_Q_TEMPERATURE),
        **extra,
    }


def resume(
    run_dir: str,
    env: VecEnv,
    teacher: TeacherSource | None = None,
    distill_lambda: schedules.DistillLambda | None = None,
    device: str = "auto",
    checkpoint: Checkpoint | None = None,
) -> DistillationAlgorithm:
    """The student of ``run_dir``'s latest usable checkpoint, with its teacher set again, ready to continue.

    Restored: the weights and optimizer state, ``num_timesteps`` (so λ and learning-rate schedules go on
    where they were), the student's ``VecNormalize`` statistics (``env`` is wrapped in them), the Python,
    NumPy and torch random states, and the TensorBoard folder. Continue with
    ``model.learn(total - model.num_timesteps, reset_num_timesteps=False)``; TensorBoard then extends the
    same curve. The environments start new episodes, so the continuation is not bit-identical to a run
    that was never stopped.

    :param run_dir: the run folder whose ``checkpoints/`` to read
    :param env: the student's environment, built as for the original run (raw or behind a ``VecNormalize``)
    :param teacher: the teacher; default: the source the checkpoint names (a path or ``hf://`` id)
    :param distill_lambda: λ; default: the one the checkpoint records
    :param device: torch device of the student
    :param checkpoint: the checkpoint to continue from, when the caller has read it already; default: the latest
        usable one of ``run_dir``
    """
    checkpoint = checkpoint or latest_checkpoint(run_dir)
    manifest = checkpoint.manifest
    algorithm = _algorithms().get(manifest["algorithm"])
    if algorithm is None:
        raise CheckpointError(
            f"{checkpoint.folder} holds a {manifest['algorithm']} student; expected one of {sorted(_algorithms())}."
        )
    settings = manifest.get("teacher") or {}
    source = teacher if teacher is not None else settings.get("source")
    if source is None:
        raise CheckpointError(
            f"{checkpoint.folder} does not name a teacher that can be loaded again (it was given as an "
            "object); pass teacher=... to resume()."
        )
    if distill_lambda is None:
        text = settings.get("distill_lambda")
        if text is None:
            raise CheckpointError(
                f"{checkpoint.folder} records no λ in a form that can be read back (a custom callable); "
                "pass distill_lambda=... to resume()."
            )
        distill_lambda = schedules.parse(text, teacher_return=settings.get("teacher_return"))

    if checkpoint.has_vecnormalize:
        env = restore_vecnormalize(checkpoint, env)
    model = algorithm.load(checkpoint.path(STUDENT), env=env, device=device)
    if isinstance(source, str):
        source = load_teacher(
            source,
            env=env,
            best=bool(settings.get("best", False)),
            device=model.device,
            trust_pickle=bool(settings.get("trust_pickle", False)),
            temperature=settings.get("temperature", DEFAULT_Q_TEMPERATURE),
        )
    model.set_teacher(
        source,
        distill_lambda=distill_lambda,
        kl_mode=model.kl_mode,
        distill_loss=model.distill_loss,
        jsd_beta=model.jsd_beta,
        max_divergence=model.max_divergence,
    )
    restore_rng(checkpoint)
    return model
