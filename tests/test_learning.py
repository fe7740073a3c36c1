"""Students reach the bundled CartPole teacher's return within a stated budget (through the CLI's defaults).

The bundled teacher (PPO, 2x64 MLP) scores 500, the maximum, over 50 evaluation episodes (see
sb3_distill/teachers/CartPole-v1/config.json); each test measures it again on its own episodes.
"""

from __future__ import annotations

import json

import pytest

from sb3_distill.cli.main import main

BUDGET = 50_000  # environment steps of distillation, 8 environments


def distill(tmp_path, *args: str) -> dict:
    assert main(["distill", "--out", str(tmp_path), "--steps", str(BUDGET), "--no-progress", *args]) == 0
    with open(tmp_path / "results.json") as file:
        return json.load(file)


@pytest.mark.slow
@pytest.mark.parametrize(
    "method, student, threshold",
    [("ppd", "larger", 0.95), ("student-distill", "same", 0.90), ("teacher-distill", "larger", 0.90)],
)
def test_student_reaches_fraction_of_teacher_return(tmp_path, method, student, threshold):
    results = distill(tmp_path, "--method", method, "--student", student, "--seed", "1")
    assert results["teacher_mean_return"] >= 475
    assert results["student_mean_return"] >= threshold * results["teacher_mean_return"], results
