"""Recurrent (LSTM) students on sb3-contrib's ``RecurrentPPO``: PPD, student-distill and teacher-distill.

Each saves as a plain :class:`sb3_contrib.RecurrentPPO` zip; the teacher's labels are stored per
transition and padded into the LSTM's training sequences like every other field
(:mod:`sb3_distill.recurrent.buffers`), and every loss averages over the real steps of the sequences.
"""

from sb3_distill.recurrent.ppd import RecurrentPPD
from sb3_distill.recurrent.student_distill import RecurrentStudentDistill
from sb3_distill.recurrent.teacher_distill import RecurrentTeacherDistill

__all__ = ["RecurrentPPD", "RecurrentStudentDistill", "RecurrentTeacherDistill"]
