"""Imperfect teachers, as in the paper's robustness study (§8.4): every parameter plus N(0, σ²) noise."""

from __future__ import annotations

import copy
import io
import os
import shutil
import zipfile
from collections.abc import Iterable
from typing import Any

import torch as th

from sb3_distill.common.safe_loading import load_tensors
from sb3_distill.common.teacher import DEFAULT_Q_TEMPERATURE, Teacher, make_teacher
from sb3_distill.common.teacher_sources import TeacherSource, load_teacher, resolve_file_source

PAPER_SIGMA = 0.05


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
    return make_teacher(policy, teacher.obs_normalizer, label, getattr(teacher, "temperature", DEFAULT_Q_TEMPERATURE))


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
