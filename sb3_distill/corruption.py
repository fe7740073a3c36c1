"""Imperfect teachers, as in the paper's robustness study (§8.4): every parameter plus N(0, σ²) noise.

σ is given (the paper's 0.05), or learned with :func:`search_sigma`: the σ whose copy keeps a target
fraction of the teacher's score (σ = 0.05 hardly changes small MLP teachers' scores, while the paper's CNN
teachers keep about a third of theirs).
"""

from __future__ import annotations

import copy
import io
import math
import os
import shutil
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch as th

from sb3_distill.common.frame_stacked_teacher import FrameStackedTeacher, frame_stacked
from sb3_distill.common.safe_loading import load_tensors
from sb3_distill.common.teacher import DEFAULT_Q_TEMPERATURE, Teacher, make_teacher
from sb3_distill.common.teacher_sources import TeacherSource, load_teacher, resolve_file_source

PAPER_SIGMA = 0.05
#: The first σ that :func:`search_sigma` tries, and the factor by which it widens σ until it brackets the target.
SEARCH_START_SIGMA = PAPER_SIGMA
SEARCH_FACTOR = 4.0
#: The search gives up when its bracket is narrower than this, relative to σ: the fraction jumps there.
BRACKET_RESOLUTION = 1e-3


def add_gaussian_noise(tensors: Iterable[th.Tensor], sigma: float, seed: int | None = None) -> None:
    """Add N(0, σ²) noise, in place, to every floating-point tensor, from a generator seeded with ``seed``."""
    if not (isinstance(sigma, (int, float)) and sigma >= 0):
        raise ValueError(f"sigma must be a number >= 0, got {sigma!r}.")
    generator = th.Generator()
    if seed is None:
        generator.seed()  # a fresh seed for this generator only; th.seed() would reseed the global stream
    else:
        generator.manual_seed(seed)
    with th.no_grad():
        for tensor in tensors:
            if tensor.is_floating_point():
                noise = th.randn(tensor.shape, generator=generator, dtype=tensor.dtype) * sigma
                tensor.add_(noise.to(tensor.device))


def corrupt_teacher(source: TeacherSource, sigma: float = PAPER_SIGMA, seed: int | None = None, **load_kwargs: Any) -> Teacher:
    """A copy of a teacher whose every parameter has N(0, σ²) noise added; the source is left untouched.

    :param source: anything :func:`sb3_distill.load_teacher` accepts
    :param sigma: standard deviation of the noise (the paper uses 0.05)
    :param seed: seed of the noise
    :param load_kwargs: passed to :func:`sb3_distill.load_teacher`
    """
    teacher = load_teacher(source, **load_kwargs)
    policy = copy.deepcopy(teacher.policy)
    add_gaussian_noise(policy.parameters(), sigma, seed)
    label = f"{teacher.source or type(source).__name__} (corrupted, sigma={sigma}, seed={seed})"
    corrupted = make_teacher(policy, teacher.obs_normalizer, label, getattr(teacher, "temperature", DEFAULT_Q_TEMPERATURE))
    return frame_stacked(corrupted, teacher.n_stack if isinstance(teacher, FrameStackedTeacher) else 1)


def corrupt_model_file(source: str, out: str, sigma: float = PAPER_SIGMA, seed: int | None = None, best: bool = False) -> str:
    """Write a copy of a model zip (a path, RL Zoo folder or Hub id) with noise on its policy's tensors.

    Only ``policy.pth`` changes; the teacher's observation statistics, if any, are copied beside ``out``
    as ``vecnormalize.pkl``. No pickled object is loaded.

    :return: the path written
    """
    zip_path, stats_path, _ = resolve_file_source(source, best)
    if not out.endswith(".zip"):
        out += ".zip"
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with zipfile.ZipFile(zip_path) as archive:
        if "policy.pth" not in archive.namelist():
            raise ValueError(f"{zip_path!r} is not an SB3 model zip: it has no 'policy.pth'.")
        state = load_tensors(archive.read("policy.pth"), zip_path, "policy.pth")
        add_gaussian_noise(state.values(), sigma, seed)
        buffer = io.BytesIO()
        th.save(state, buffer)
        temporary = out + ".tmp"
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as target:
            for item in archive.infolist():
                target.writestr(item, buffer.getvalue() if item.filename == "policy.pth" else archive.read(item.filename))
    os.replace(temporary, out)
    if stats_path:
        shutil.copy(stats_path, os.path.join(os.path.dirname(os.path.abspath(out)), "vecnormalize.pkl"))
    return out


@dataclass(frozen=True)
class SigmaSearch:
    """What :func:`search_sigma` tried: ``trace`` holds ``(sigma, fraction kept)`` in order; ``sigma`` is the
    accepted σ (its fraction within the tolerance of the target), ``None`` if none was; ``jump``, the
    narrowest bracket ``(low, high)`` of σ across which the fraction jumped over the whole tolerance band,
    when the search stopped there."""

    target: float
    sigma: float | None
    fraction: float | None
    trace: tuple[tuple[float, float], ...]
    jump: tuple[float, float] | None = None

    @property
    def closest(self) -> tuple[float, float]:
        """``(sigma, fraction)`` of the tried σ whose fraction came closest to the target (the first of equals)."""
        return min(self.trace, key=lambda step: abs(step[1] - self.target))


def search_sigma(
    fraction_kept: Callable[[float], float],
    target: float,
    tolerance: float,
    max_evaluations: int,
    start: float = SEARCH_START_SIGMA,
    factor: float = SEARCH_FACTOR,
) -> SigmaSearch:
    """The σ whose noise keeps ``target`` (± ``tolerance``) of a teacher's score, by evaluation.

    σ grows (or shrinks) geometrically from ``start`` by ``factor`` until one σ keeps more than the target
    and another less, then the bracket is bisected in log σ, until a σ's fraction is within the tolerance,
    ``max_evaluations`` are spent, or the bracket is narrower than :data:`BRACKET_RESOLUTION` (the fraction
    jumps over the band: more evaluation episodes smooth it). ``fraction_kept(sigma)`` should use the same
    noise seed and evaluation episodes for every σ, so that it is close to monotone (decreasing) in σ.

    :param fraction_kept: the fraction of the teacher's score that the copy with noise σ keeps
    :param target: the fraction to reach
    :param tolerance: accept a σ whose fraction is within this of ``target``
    :param max_evaluations: the most calls of ``fraction_kept``
    :param start: the first σ tried
    :param factor: the ratio between successive σ until the target is bracketed
    """
    trace: list[tuple[float, float]] = []
    low: float | None = None  # a σ that keeps more than the target: too little noise
    high: float | None = None  # a σ that keeps less
    sigma = start
    for _ in range(max_evaluations):
        fraction = float(fraction_kept(sigma))
        trace.append((sigma, fraction))
        if abs(fraction - target) <= tolerance:
            return SigmaSearch(target, sigma, fraction, tuple(trace))
        if fraction > target:
            low = sigma
        else:
            high = sigma
        if low is not None and high is not None:
            if max(low, high) / min(low, high) < 1 + BRACKET_RESOLUTION:
                # the fraction jumps across the band here (few evaluation episodes make it a step function)
                return SigmaSearch(target, None, None, tuple(trace), (min(low, high), max(low, high)))
            sigma = math.sqrt(low * high)
        else:
            sigma = sigma * factor if high is None else sigma / factor
    return SigmaSearch(target, None, None, tuple(trace))
