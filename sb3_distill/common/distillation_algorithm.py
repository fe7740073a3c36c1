"""What PPD, student-distill and teacher-distill share: the teacher, the loss to it, and λ.

``DistillationAlgorithm`` keeps each method a plain SB3 model: the teacher is never pickled into the
student's zip, and the rollout buffer class that is saved is SB3's own. How rollouts are collected and
labelled is in :mod:`sb3_distill.common.teacher_rollouts`; the loss in :mod:`sb3_distill.common.losses`.
"""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer

from sb3_distill.common.action_params import ActionParamSpec
from sb3_distill.common.losses import DistillationLoss, check_distill_loss, check_jsd_beta
from sb3_distill.common.teacher import DEFAULT_Q_TEMPERATURE, TeacherNormalization
from sb3_distill.common.teacher_rollouts import TeacherLabelledRollouts
from sb3_distill.common.teacher_sources import TeacherSource, load_teacher
from sb3_distill.common.training_guard import DEFAULT_MAX_DIVERGENCE, check_max_divergence, non_finite_parameters
from sb3_distill.schedules import DistillLambda, check_distill_lambda, value_at

__all__ = ["DistillLambda", "DistillationAlgorithm", "TeacherSource"]


class DistillationAlgorithm(TeacherLabelledRollouts):
    """Base of the on-policy distillation algorithms; put it before PPO in the bases to extend PPO.

    Subclasses set ``needs_teacher_values``, call ``_init_distillation`` before and ``_finish_init`` after
    the SB3 constructor, and implement ``train``. Those in which the teacher acts override the rollout
    hooks of :class:`~sb3_distill.common.teacher_rollouts.TeacherLabelledRollouts`.
    """

    distill_lambda: DistillLambda
    kl_mode: str
    distill_loss: str
    jsd_beta: float
    max_divergence: float | None

    def _init_distillation(
        self,
        teacher: TeacherSource | None,
        distill_lambda: DistillLambda,
        kl_mode: str,
        teacher_vecnormalize: TeacherNormalization,
        distill_loss: str | None = None,
        jsd_beta: float = 0.5,
    ) -> None:
        """Record the distillation settings; called by subclasses' ``__init__`` before ``_setup_model``."""
        self.teacher = None
        self.teacher_source: str | None = None
        self._loss: DistillationLoss | None = None
        self.distill_lambda = check_distill_lambda(distill_lambda)
        self.kl_mode, self.distill_loss = check_distill_loss(kl_mode, distill_loss)
        self.jsd_beta = check_jsd_beta(jsd_beta)
        self.max_divergence = DEFAULT_MAX_DIVERGENCE
        self._pending_teacher = (teacher, teacher_vecnormalize, distill_loss)

    def _finish_init(self, init_setup_model: bool) -> None:
        """Attach a teacher given to the constructor once spaces are known."""
        teacher, teacher_vecnormalize, distill_loss = self._pending_teacher
        del self._pending_teacher
        if teacher is not None:
            if not init_setup_model:
                raise ValueError("A teacher given to the constructor needs _init_setup_model=True; call set_teacher later.")
            self.set_teacher(
                teacher,
                self.distill_lambda,
                self.kl_mode,
                teacher_vecnormalize,
                distill_loss=distill_loss,
                jsd_beta=self.jsd_beta,
            )

    # ------------------------------------------------------------------ teacher, loss and λ

    def set_teacher(
        self,
        teacher_model: TeacherSource,
        distill_lambda: DistillLambda = 1.0,
        kl_mode: str = "forward",
        teacher_vecnormalize: TeacherNormalization = None,
        trust_pickle: bool = False,
        temperature: float = DEFAULT_Q_TEMPERATURE,
        distill_loss: str | None = None,
        jsd_beta: float = 0.5,
        max_divergence: float | None = DEFAULT_MAX_DIVERGENCE,
    ) -> None:
        """Specify or replace the teacher to distil from.

        :param teacher_model: an SB3 or sb3-contrib model (PPO, A2C, a PPD student, DQN, QR-DQN, SAC, TD3,
            DDPG, TQC), its policy, a ``Teacher``, or the path of a model saved with ``save()``. A
            ``vecnormalize.pkl`` or ``vec_normalize.pkl`` beside a path is used as the teacher's observation
            statistics; a path with none beside it is taken to be a teacher trained on raw observations.
        :param distill_lambda: weight λ of the distillation term: a number >= 0, a callable that maps
            the elapsed timesteps (``num_timesteps``) to one, or a schedule of :mod:`sb3_distill.schedules`
        :param kl_mode: ``"forward"`` for KL(teacher || student), ``"reverse"`` for KL(student || teacher)
        :param teacher_vecnormalize: the teacher's ``VecNormalize`` (or the path of its .pkl): the teacher
            then sees raw observations normalised with a frozen copy of these statistics, whatever the
            student's own normalisation. ``False``: the teacher was trained on raw observations and sees
            them raw. Not given, for a model object: the teacher sees the student's observations.
        :param trust_pickle: read the teacher's files without the allow-list of safe types (see
            :func:`sb3_distill.load_teacher`); only for files you trust
        :param temperature: τ of a DQN or QR-DQN teacher, whose policy is softmax(Q / τ)
        :param distill_loss: ``"forward_kl"``, ``"reverse_kl"``, ``"jsd"``, ``"nll"``, ``"mse"`` or ``"huber"``
            (see :mod:`sb3_distill.common.losses`); not given: the KL that ``kl_mode`` names, or ``"mse"``
            for teachers without an action distribution (SAC, TD3, DDPG, TQC)
        :param jsd_beta: β of the generalised Jensen-Shannon divergence, in [0, 1]
        :param max_divergence: stop with :class:`~sb3_distill.common.training_guard.TrainingDiverged` when a
            minibatch's distillation term exceeds it (``None``: no limit); a non-finite loss always stops
        """
        # The arguments are checked before any file is read; the loss is checked against the teacher after.
        check_distill_loss(kl_mode, distill_loss)
        check_jsd_beta(jsd_beta)
        max_divergence = check_max_divergence(max_divergence)
        distill_lambda = check_distill_lambda(distill_lambda)
        teacher = load_teacher(
            teacher_model,
            teacher_vecnormalize=teacher_vecnormalize,
            trust_pickle=trust_pickle,
            device=self.device,
            temperature=temperature,
        )
        self._check_teacher_fits(teacher)
        if self.needs_teacher_values and not teacher.has_values:
            raise ValueError(
                f"{type(self).__name__} regresses the teacher's value, and {teacher.kind} has none; distil it with "
                "ProximalPolicyDistillation (PPD), whose critic learns from the rewards."
            )
        broken = [name for policy in teacher.policies() for name in non_finite_parameters(policy.named_parameters())]
        if broken:
            raise ValueError(
                f"The teacher's weights {broken} hold NaN or infinite values, so it cannot teach; check the file it was "
                "loaded from (a teacher saved after its training diverged)."
            )
        loss = DistillationLoss.for_teacher(
            teacher, self.action_space, bool(self.policy.squash_output), kl_mode, distill_loss, jsd_beta
        )
        self.teacher = teacher
        self.teacher_source = teacher.source
        self.set_distill_lambda(distill_lambda)
        self._loss = loss
        self.kl_mode, self.distill_loss, self.jsd_beta = loss.kl_mode, loss.name, loss.jsd_beta
        self.max_divergence = max_divergence
        self._setup_teacher_labels()

    def set_distill_lambda(self, distill_lambda: DistillLambda) -> None:
        """Replace λ, keeping the teacher (e.g. a ``ratio`` schedule once the teacher's return is measured).

        :param distill_lambda: a number >= 0, a callable of the elapsed timesteps, or a schedule of
            :mod:`sb3_distill.schedules`
        """
        distill_lambda = check_distill_lambda(distill_lambda)
        if hasattr(distill_lambda, "bind"):  # schedules that read the model, e.g. schedules.PerformanceRatio
            distill_lambda.bind(self)
        self.distill_lambda = distill_lambda

    def current_lambda(self) -> float:
        """λ at the current timestep."""
        return value_at(self.distill_lambda, self.num_timesteps)

    def _distillation(self) -> DistillationLoss:
        """The loss to the teacher, which ``set_teacher`` chose."""
        self._require_teacher()
        assert self._loss is not None  # set together with the teacher
        return self._loss

    # ------------------------------------------------------------------ model setup and saving

    def _setup_model(self) -> None:
        if self.rollout_buffer_class not in (None, RolloutBuffer, DictRolloutBuffer):
            raise ValueError(
                f"{type(self).__name__} uses its own rollout buffer (it stores the teacher's labels); "
                f"rollout_buffer_class={self.rollout_buffer_class.__name__} is not supported."
            )
        super()._setup_model()
        self._action_param_spec = ActionParamSpec.for_action_space(self.action_space)
        self._setup_teacher_labels()

    def set_env(self, env: Any, force_reset: bool = True) -> None:
        super().set_env(env, force_reset)
        if self.teacher is not None:  # the new environment may show the teacher another view
            self._check_teacher_fits(self.teacher)
        self._setup_teacher_labels()

    def _excluded_save_params(self) -> list[str]:
        # The student's zip must load as a plain SB3 model: no teacher, no distillation buffer class,
        # and no λ callable or loss object that would need this package (or arbitrary code) to unpickle.
        return [*super()._excluded_save_params(), "teacher", "distill_lambda", "_loss", "_action_param_spec"]

    # ------------------------------------------------------------------ learning

    def learn(self, *args: Any, **kwargs: Any) -> Any:
        self._require_teacher()
        self.current_lambda()  # a λ schedule that returns a bad value fails here, before any step
        return super().learn(*args, **kwargs)
