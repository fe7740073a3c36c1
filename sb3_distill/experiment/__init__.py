"""Runs as library functions: the CLI and the benchmark grid are thin clients of these.

::

    from sb3_distill.experiment import DistillConfig, distill, resume

    config = DistillConfig(teacher="teacher.zip", method="ppd", student="smaller", steps=200_000,
                           checkpoint_every=20_000, eval_every=10_000)
    result = distill(config, "runs/my-run")   # checkpoints, periodic evaluation, best_model.zip, results.json
    result = resume("runs/my-run")            # after a kill or Ctrl-C: continues from the last checkpoint

A config checks itself on construction; the run folder's manifest stores it (``dataclasses.asdict``),
so :func:`resume` needs nothing but the folder.
"""

from sb3_distill.evaluation import EVAL_SEED_OFFSET, Score, evaluation_env, score
from sb3_distill.experiment.configs import (
    ConfigError,
    CorruptionConfig,
    DistillConfig,
    TeacherConfig,
    parse_entries,
    parse_params,
)
from sb3_distill.experiment.corruption_run import CorruptionResult, corrupt
from sb3_distill.experiment.distillation_run import (
    RunResult,
    default_run_dir,
    distill,
    read_result,
    resume,
    run_config,
    stored_config,
)
from sb3_distill.experiment.methods import METHODS, PRESETS, Method, get_method, method_params
from sb3_distill.experiment.policy_kwargs_text import parse_policy_kwargs
from sb3_distill.experiment.teacher_run import TeacherResult, resume_teacher, stored_teacher_config, train_teacher
from sb3_distill.experiment.zoo_hyperparams import (
    ZooHyperparams,
    ZooHyperparamsError,
    apply_zoo_hyperparams,
    read_zoo_hyperparams,
    with_zoo_hyperparams,
)

__all__ = [
    "EVAL_SEED_OFFSET",
    "METHODS",
    "PRESETS",
    "ConfigError",
    "CorruptionConfig",
    "CorruptionResult",
    "DistillConfig",
    "Method",
    "RunResult",
    "Score",
    "TeacherConfig",
    "TeacherResult",
    "ZooHyperparams",
    "ZooHyperparamsError",
    "apply_zoo_hyperparams",
    "corrupt",
    "default_run_dir",
    "distill",
    "evaluation_env",
    "get_method",
    "method_params",
    "parse_entries",
    "parse_params",
    "parse_policy_kwargs",
    "read_result",
    "read_zoo_hyperparams",
    "resume",
    "resume_teacher",
    "run_config",
    "score",
    "stored_config",
    "stored_teacher_config",
    "train_teacher",
    "with_zoo_hyperparams",
]
