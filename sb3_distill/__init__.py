"""Policy distillation for stable-baselines3: PPD, student-distill and teacher-distill."""

import os

from sb3_distill.common.observation_normalizer import ObservationNormalizer
from sb3_distill.common.safe_loading import load_model
from sb3_distill.common.teacher import ActorCriticTeacher, QValueTeacher, Teacher
from sb3_distill.common.teacher_sources import load_teacher
from sb3_distill.common.teacher_views import ObservationGroups, TeacherObservationInInfo, TeacherView
from sb3_distill.corruption import corrupt_teacher
from sb3_distill.ppd import PPD, ProximalPolicyDistillation
from sb3_distill.student_distill import StudentDistill
from sb3_distill.teacher_distill import TeacherDistill

with open(os.path.join(os.path.dirname(__file__), "version.txt")) as _file:
    __version__ = _file.read().strip()

__all__ = [
    "PPD",
    "ActorCriticTeacher",
    "ObservationGroups",
    "ObservationNormalizer",
    "ProximalPolicyDistillation",
    "QValueTeacher",
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
