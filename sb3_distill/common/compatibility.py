"""Checks that a teacher can teach a student: both must act in, and observe, the same spaces."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces


def _action_spaces_equal(teacher: spaces.Space, student: spaces.Space) -> bool:
    if type(teacher) is not type(student):
        return False
    # Both are of the same type from here on; the second isinstance only tells the type checker.
    if isinstance(teacher, spaces.Discrete) and isinstance(student, spaces.Discrete):
        return teacher.n == student.n and teacher.start == student.start
    if isinstance(teacher, spaces.MultiDiscrete) and isinstance(student, spaces.MultiDiscrete):
        return np.array_equal(teacher.nvec, student.nvec)
    if isinstance(teacher, spaces.MultiBinary):
        return teacher.shape == student.shape
    if isinstance(teacher, spaces.Box) and isinstance(student, spaces.Box):
        return (
            teacher.shape == student.shape
            and np.allclose(teacher.low, student.low, equal_nan=True)
            and np.allclose(teacher.high, student.high, equal_nan=True)
        )
    return teacher == student


def _observation_layout(space: spaces.Space) -> object:
    if isinstance(space, spaces.Dict):
        return {key: _observation_layout(sub) for key, sub in space.spaces.items()}
    if isinstance(space, spaces.Discrete):
        return ("Discrete", int(space.n))
    return (type(space).__name__, space.shape)


def _privileged_keys(teacher: spaces.Space, student: spaces.Space) -> list[str]:
    """The keys of a ``Dict`` student observation that make up what the teacher reads: one key whose space
    is the teacher's, or the teacher's own ``Dict`` keys when the student's holds them all."""
    if not isinstance(student, spaces.Dict):
        return []
    layout = _observation_layout(teacher)
    if isinstance(teacher, spaces.Dict):
        keys = list(teacher.spaces)
        return keys if all(key in student.spaces and _observation_layout(student[key]) == layout[key] for key in keys) else []  # type: ignore[index]
    return [key for key, sub in student.spaces.items() if _observation_layout(sub) == layout][:1]


def check_teacher_fits(
    teacher_observation_space: spaces.Space,
    teacher_action_space: spaces.Space,
    student_observation_space: spaces.Space,
    student_action_space: spaces.Space,
    privileged: bool = False,
) -> None:
    """Raise ``ValueError`` naming both spaces when the teacher's do not match the student's.

    :param teacher_observation_space: what the teacher was trained to observe
    :param teacher_action_space: what it acts in
    :param student_observation_space: what the environment shows the teacher: the student's observation
        space, or the teacher's view of a :class:`~sb3_distill.common.teacher_views.TeacherView`
    :param student_action_space: the student's action space
    :param privileged: the environment shows the teacher a view of its own (the message says so)
    """
    if not _action_spaces_equal(teacher_action_space, student_action_space):
        raise ValueError(
            "The teacher and the student have different action spaces: "
            f"teacher {teacher_action_space}, student {student_action_space}. "
            "Distil on the environment the teacher was trained on (same action space, shape and bounds)."
        )
    if _observation_layout(teacher_observation_space) != _observation_layout(student_observation_space):
        if privileged:
            raise ValueError(
                "The teacher's view of the environment does not fit the teacher: the teacher was trained on "
                f"{teacher_observation_space}, the environment's TeacherView gives it {student_observation_space}. "
                "Name the teacher's keys (ObservationGroups) or its info observation (TeacherObservationInInfo) as "
                "the teacher was trained on them."
            )
        keys = _privileged_keys(teacher_observation_space, student_observation_space)
        if keys:
            named = repr(keys[0]) if len(keys) == 1 else repr(keys)
            raise ValueError(
                f"The student's observation holds the teacher's view (its keys {keys} are what the teacher reads): a "
                "student trained on it would need that privileged input when deployed. Wrap the environment in "
                f"ObservationGroups(venv, student_keys=[...], teacher_keys={named}) so that the teacher reads those "
                "keys and the student only its own."
            )
        stacked = _stacked_vectors(teacher_observation_space, student_observation_space)
        hint = (
            f" The teacher reads {stacked} times as many entries: if it was trained on its last {stacked} observations "
            f"(VecFrameStack), say so, and it stacks them itself: load_teacher(..., frame_stack={stacked}), "
            f"--teacher-frame-stack {stacked}, or teacher_frame_stack: {stacked} in a grid spec."
            if stacked
            else ""
        )
        raise ValueError(
            "The teacher and the student have different observation shapes: "
            f"teacher {teacher_observation_space}, student {student_observation_space}. "
            "Use the teacher's environment with the same wrappers (frame stacking, image transposition, ...)." + hint
        )


def _stacked_vectors(teacher: spaces.Space, student: spaces.Space) -> int:
    """How many of the student's vector observations the teacher's would hold end to end (0: not a stack)."""
    if not (isinstance(teacher, spaces.Box) and isinstance(student, spaces.Box)):
        return 0
    if len(teacher.shape) != 1 or len(student.shape) != 1 or not student.shape[0]:
        return 0
    count, left = divmod(teacher.shape[0], student.shape[0])
    return count if count > 1 and not left else 0
