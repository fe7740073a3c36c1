"""Policy distillation for stable-baselines3: PPD, student-distill and teacher-distill."""

import os

from sb3_distill.common.callable_teacher import CallableTeacher
from sb3_distill.common.multi_teacher import MultiTeacher
from sb3_distill.common.observation_normalizer import ObservationNormalizer
from sb3_distill.common.safe_loading import load_model
from sb3_distill.common.teacher import ActorCriticTeacher, QValueTeacher, Teacher
from sb3_distill.common.teacher_sources import load_teacher
from sb3_distill.common.teacher_views import ObservationGroups, SharedObservation, TeacherObservationInInfo, TeacherView
from sb3_distill.corruption import corrupt_teacher
from sb3_distill.ppd import PPD, ProximalPolicyDistillation
from sb3_distill.student_distill import StudentDistill
from sb3_distill.teacher_distill import TeacherDistill

with open(os.path.join(os.path.dirname(__file__), "version.txt")) as _file:
    __version__ = _file.read().strip()

__all__ = [
    "PPD",
    "ActorCriticTeacher",
    "CallableTeacher",
    "MultiTeacher",
    "ObservationGroups",
    "ObservationNormalizer",
    "ProximalPolicyDistillation",
    "QValueTeacher",
    "SharedObservation",
    "StudentDistill",
    "Teacher",
    "TeacherDistill",
    "TeacherObservationInInfo",
    "TeacherView",
    "__version__",
    "corrupt_teacher",
    "load_model",
    "load_teacher",
]

#: The recurrent students (:mod:`sb3_distill.recurrent`) need the optional sb3-contrib, so they are imported on
#: first use rather than with the package.
_RECURRENT_STUDENTS = ("RecurrentPPD", "RecurrentStudentDistill", "RecurrentTeacherDistill")


def __getattr__(name: str) -> object:
    if name in _RECURRENT_STUDENTS:
        try:
            from sb3_distill import recurrent
        except ModuleNotFoundError as error:
            if error.name is None or not error.name.startswith("sb3_contrib"):
                raise
            raise ImportError(
                f"sb3_distill.{name} builds on sb3-contrib's RecurrentPPO; install it with pip install 'sb3-distill[contrib]'."
            ) from error
        return getattr(recurrent, name)
    raise AttributeError(f"module 'sb3_distill' has no attribute {name!r}")
