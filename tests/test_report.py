"""The report on a hand-made grid folder: Table 1 and Table 5 values, steps to 90%, throughput, figures."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from sb3_distill.cli.main import main
from sb3_distill.report.tables import read_runs, score_text

# (env, method, size, seed, teacher return, student return)
RUNS = [
    ("CartPole-v1", "ppd", "smaller", 0, 500.0, 500.0),
    ("CartPole-v1", "ppd", "smaller", 1, 500.0, 250.0),
    ("Acrobot-v1", "ppd", "smaller", 0, 100.0, 100.0),  # returns need not be CartPole-like; fractions are what count
    ("Acrobot-v1", "ppd", "smaller", 1, 100.0, 200.0),
    ("CartPole-v1", "student-distill", "smaller", 0, 500.0, 400.0),
    ("CartPole-v1", "student-distill", "smaller", 1, 500.0, 400.0),
    ("PongNoFrameskip-v4", "ppd", "smaller", 0, 14.6, -3.05),  # human-normalised: teacher 1.0, student 0.5
    ("Pendulum-v1", "ppd", "larger", 0, -150.0, -300.0),  # negative teacher score: no fraction, Table 5 only
]


def make_grid(out) -> None:
    for env, method, size, seed, teacher, student in RUNS:
        folder = out / "runs" / env.replace("/", "-") / "original" / f"{method}-{size}-s{seed}"
        os.makedirs(folder)
        record = {
            "status": "done",
            "env": env,
            "method": method,
            "student": size,
            "seed": seed,
            "variant": "original",
            "teacher_mean_return": teacher,
            "student_mean_return": student,
            "steps": 1000,
            "steps_per_second": 100.0 if method == "ppd" else 300.0,
        }
        (folder / "done.json").write_text(json.dumps(record))
        # training returns rise linearly to the final score: 90% of the teacher at step 900 * teacher / student
        steps = np.arange(100, 1001, 100)
        rows = "\n".join(f"{s},{student * s / 1000}" for s in steps)
        (folder / "evaluations.csv").write_text("timesteps,mean_return\n" + rows + "\n")


def test_fractions_tables_and_figures(tmp_path, capsys):
    make_grid(tmp_path)
    runs = read_runs(str(tmp_path))
    pong = next(run for run in runs if run.env == "PongNoFrameskip-v4")
    assert pong.fraction == pytest.approx(0.5)
    assert main(["report", str(tmp_path), "--reps", "200"]) == 0
    report = (tmp_path / "report.md").read_text()
    # columns in the paper's order: sd, then ppd
    # classic, smaller sd: CartPole only, 0.8 and 0.8 -> 0.80x with a degenerate interval;
    # classic, smaller ppd: fractions 1, 0.5, 1, 2 -> logs 0, -ln2, 0, ln2; the middle two are 0, 0 -> 1.00x
    assert "| classic | 0.80x [0.80, 0.80] | 1.00x [" in report
    # atari: one ppd run, fraction 0.5
    assert "| atari |  | 0.50x [0.50, 0.50] |" in report
    # Table 5: CartPole sd 400, ppd (500 + 250) / 2 = 375; Pong human-normalised teacher 1 and student 0.5
    assert "| CartPole-v1 | 500 | 400 | 375 |" in report
    assert "| PongNoFrameskip-v4 | 1 |  | 0.5 |" in report
    assert "| Pendulum-v1 | -150 |  |  |  | -300 |" in report
    assert "n/a" in report  # the classic larger-ppd cell holds only Pendulum
    # steps to 90%: CartPole s0 reaches 450 at step 900; s1 (student 250) never does; Acrobot s0 at 900, s1 at 500
    assert "| classic | smaller | ppd | 900 | 3/4 |" in report
    assert "| classic | smaller | student-distill | not reached | 0/2 |" in report
    assert "| ppd | 100 | 6 |" in report and "| student-distill | 300 | 2 |" in report
    for name in ("curves-classic-smaller.png", "curves-atari-smaller.png"):
        assert (tmp_path / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"figures/{name}" in report


@pytest.mark.parametrize("score, text", [(2881.4, "2881"), (-1178.7, "-1179"), (375.0, "375"), (6.654, "6.65"), (0.5, "0.5")])
def test_table_5_writes_returns_without_exponents(score, text):
    assert score_text(score) == text


def test_report_of_an_empty_folder_is_an_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "No finished runs" in capsys.readouterr().err


def test_returns_at_chosen_steps(tmp_path, capsys):
    """``--at``: each run's first evaluation at or after the step, mean over seeds with a bootstrap interval."""
    make_grid(tmp_path)
    corrupted = tmp_path / "runs" / "CartPole-v1" / "corrupted0.05" / "ppd-smaller-s0"
    os.makedirs(corrupted)
    (corrupted / "done.json").write_text(
        json.dumps(
            {
                "status": "done",
                "env": "CartPole-v1",
                "method": "ppd",
                "student": "smaller",
                "seed": 0,
                "variant": "corrupted0.05",
                "teacher_mean_return": 300.0,
                "student_mean_return": 100.0,
                "steps": 1000,
            }
        )
    )
    (corrupted / "evaluations.csv").write_text("timesteps,mean_return\n500,10\n1000,100\n")
    assert main(["report", str(tmp_path), "--reps", "500", "--at", "0.45k,1000,2k"]) == 0
    report = (tmp_path / "report.md").read_text()
    corrupted_section, original = report.split("## Evaluation returns at chosen steps (corrupted0.05 teachers)")[1].split(
        "## Evaluation returns at chosen steps (original teachers)"
    )
    assert "| CartPole-v1 | smaller | 1,000 | 100 [100, 100] (n=1) |" in corrupted_section  # each variant on its own
    report = original
    # CartPole ppd smaller at step 450 -> the evaluation at 500: s0 500 * 0.5 = 250, s1 250 * 0.5 = 125
    # (a mean of 187.5, the interval spanning both); student-distill 400 * 0.5 = 200 for both seeds
    assert "| CartPole-v1 | smaller | 450 | 200 [200, 200] (n=2) | 188 [125, 250] (n=2) |" in report
    assert "| CartPole-v1 | smaller | 1,000 | 400 [400, 400] (n=2) | 375 [250, 500] (n=2) |" in report
    assert "| CartPole-v1 | smaller | 2,000 |  |  |" in report  # no evaluation that late
    assert "| PongNoFrameskip-v4 | smaller | 1,000 |  | 0.5 [0.5, 0.5] (n=1) |" in report  # human-normalised


@pytest.mark.parametrize("text", ["250x", "-5", "1.5", ""])
def test_returns_at_refuses_steps_it_cannot_read(tmp_path, capsys, text):
    make_grid(tmp_path)
    with pytest.raises(SystemExit):
        main(["report", str(tmp_path), "--at", text])
    assert "expected" in capsys.readouterr().err and not (tmp_path / "report.md").exists()


@pytest.mark.parametrize(
    "damage, problem",
    [
        ("1100,3", r"line 12: damaged row '1100,3': it has no line end \(a write cut short\)"),  # a write cut mid-row
        ("1100\n", r"line 12: damaged row '1100': 1 values where the header has 2"),
        ("1100,abc\n", r"line 12: damaged row '1100,abc': mean_return is 'abc', not a number"),
        ("1100,3,7\n", r"line 12: damaged row '1100,3,7': 3 values where the header has 2"),
    ],
)
def test_a_damaged_evaluations_csv_is_refused_naming_the_file_and_line(tmp_path, capsys, damage, problem):
    """A row cut short must never be read as a return: the report stops, naming the file and the line."""
    make_grid(tmp_path)
    path = tmp_path / "runs" / "CartPole-v1" / "original" / "ppd-smaller-s0" / "evaluations.csv"
    with open(path, "a") as file:
        file.write(damage)
    assert main(["report", str(tmp_path), "--reps", "50"]) == 2
    assert re.search(re.escape(f"error: {path}, ") + problem, capsys.readouterr().err)
    assert not (tmp_path / "report.md").exists()


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda text: text[:25], r"is damaged: line 1: .*\(it ends early: a write cut short\?\)"),
        (lambda text: "[]", r"is damaged: expected a JSON object, got list"),
        (lambda text: text.replace('"steps"', '"step"'), r"is damaged: it lacks 'steps'"),
        (lambda text: text.replace('"seed": 0', '"seed": "zero"'), r"is damaged: invalid literal for int\(\)"),
    ],
)
def test_a_damaged_done_json_is_refused_naming_the_file(tmp_path, capsys, damage, problem):
    make_grid(tmp_path)
    path = tmp_path / "runs" / "CartPole-v1" / "original" / "ppd-smaller-s0" / "done.json"
    path.write_text(damage(path.read_text()))
    assert main(["report", str(tmp_path), "--reps", "50"]) == 2
    assert re.search(re.escape(f"error: {path} ") + problem, capsys.readouterr().err)
