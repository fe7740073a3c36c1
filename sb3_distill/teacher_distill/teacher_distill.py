"""Teacher-distill: supervised distillation on trajectories the teacher collects."""

from __future__ import annotations

from typing import TypeVar

from stable_baselines3.common.type_aliases import MaybeCallback

from sb3_distill.student_distill.student_distill import StudentDistill

SelfTeacherDistill = TypeVar("SelfTeacherDistill", bound="TeacherDistill")


class TeacherDistill(StudentDistill):
    """Teacher-distill: like :class:`StudentDistill`, but the teacher acts in the environment.

    The teacher samples its (stochastic) actions; the student is fitted to the teacher's action
    distribution and value on the states the teacher visits, one gradient step per rollout. The
    ``rollout/ep_rew_mean`` it logs is therefore the teacher's return, not the student's. Takes the
    same arguments as :class:`StudentDistill`.
    """

    teacher_acts = True

    def learn(
        self: SelfTeacherDistill,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 100,
        tb_log_name: str = "TeacherDistill",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfTeacherDistill:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )
