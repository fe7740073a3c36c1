from sb3_distill.teacher_distill.teacher_distill import TeacherDistill

__all__ = ["TeacherDistill"]
