from sb3_distill.student_distill.student_distill import StudentDistill

__all__ = ["StudentDistill"]
