"""Continue a distillation run from its latest usable checkpoint."""

from __future__ import annotations

import contextlib
from typing import Any

from stable_baselines3.common.vec_env import VecEnv

from sb3_distill import schedules
from sb3_distill.common.distillation_algorithm import DistillationAlgorithm
from sb3_distill.common.safe_loading import UnsafePickleError, load_model
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

#: What a refusal of a checkpoint's file advises.
CHECKPOINT_ADVICE = (
    "A run folder that sb3-distill wrote holds only allow-listed types, so this file was changed or comes from "
    "elsewhere. If you trust it, resume with trust_pickle=True (from Python: sb3_distill.runs.resume(run_dir, env, "
    "trust_pickle=True))."
)


def _algorithms() -> dict[str, type[DistillationAlgorithm]]:
    """The distillation algorithms by class name, as manifests record them (every subclass, user-defined ones too)."""
    with contextlib.suppress(ImportError):  # the recurrent students, when sb3-contrib is installed
        import sb3_distill.recurrent  # noqa: F401
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
    trust_pickle: bool = False,
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
    :param trust_pickle: read the checkpoint's student, its statistics and the teacher it names without the
        allow-list of safe types (only for run folders you trust). By default they go through the same safe
        reader as teacher files, since a run folder may come from someone else; the ``trust_pickle`` a manifest
        records is not taken from it.
    :raises UnsafePickleError: a checkpoint file holds something outside the allow-list
    :raises DamagedFileError: a checkpoint file cannot be read
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

    try:
        if checkpoint.has_vecnormalize:
            env = restore_vecnormalize(checkpoint, env, trust_pickle)
        model = load_model(algorithm, checkpoint.path(STUDENT), env=env, device=device, trust_pickle=trust_pickle)
    except UnsafePickleError as error:
        raise error.with_advice(CHECKPOINT_ADVICE) from None
    if isinstance(source, str):
        try:
            source = load_teacher(
                source,
                env=env,
                best=bool(settings.get("best", False)),
                device=model.device,
                trust_pickle=trust_pickle,  # never the manifest's own word: a run folder cannot vouch for itself
                temperature=settings.get("temperature", DEFAULT_Q_TEMPERATURE),
            )
        except UnsafePickleError as error:
            if not settings.get("trust_pickle"):
                raise
            raise error.with_advice(
                f"The run was started with trust_pickle=True, which {checkpoint.folder} cannot grant itself. If you "
                "trust the run folder and its teacher, resume with trust_pickle=True."
            ) from None
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
