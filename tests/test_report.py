"""The report on a hand-made grid folder: Table 1 and Table 5 values, steps to 90%, throughput, figures; the
marks and limits of small grids, teacher variants, and random-normalised fractions where the teacher's score
is not positive."""

from __future__ import annotations

import dataclasses
import json
import os
import re

import numpy as np
import pytest

from sb3_distill.cli.main import main
from sb3_distill.evaluation import random_score
from sb3_distill.report import random_scores as random_scores_module
from sb3_distill.report.curves import steps_table
from sb3_distill.report.random_scores import random_scores, with_random_scores
from sb3_distill.report.tables import aggregate_fractions, read_runs, score_text, table_1

# (env, method, size, seed, teacher return, student return)
RUNS = [
    ("CartPole-v1", "ppd", "smaller", 0, 500.0, 500.0),
    ("CartPole-v1", "ppd", "smaller", 1, 500.0, 250.0),
    ("Acrobot-v1", "ppd", "smaller", 0, 100.0, 100.0),  # returns need not be CartPole-like; fractions are what count
    ("Acrobot-v1", "ppd", "smaller", 1, 100.0, 200.0),
    ("CartPole-v1", "student-distill", "smaller", 0, 500.0, 400.0),
    ("CartPole-v1", "student-distill", "smaller", 1, 500.0, 400.0),
    ("PongNoFrameskip-v4", "ppd", "smaller", 0, 14.6, -3.05),  # human-normalised: teacher 1.0, student 0.5
    ("Pendulum-v1", "ppd", "larger", 0, -150.0, -300.0),  # negative teacher score: random-normalised
]
#: The random policy's score on Pendulum in ``make_grid``'s random_scores.json.
PENDULUM_RANDOM = -1200.0


def write_run(out, env, method, size, seed, teacher, student, variant="original", evaluations=None, **extra) -> None:
    """A finished run's done.json and evaluations.csv; by default its evaluations rise linearly to its final score
    (90% of the teacher at step 900 * teacher / student)."""
    group = "no-teacher" if method.split(" ")[0] == "ppo" else variant
    folder = out / "runs" / env.replace("/", "-") / group / f"{method.replace(' ', '-')}-{size}-s{seed}"
    os.makedirs(folder)
    record = {
        "status": "done",
        "env": env,
        "method": method,
        "student": size,
        "seed": seed,
        "variant": variant,
        "teacher_mean_return": teacher,
        "student_mean_return": student,
        "steps": 1000,
        "steps_per_second": 100.0 if method == "ppd" else 300.0,
        **extra,
    }
    (folder / "done.json").write_text(json.dumps(record))
    if evaluations is None:
        evaluations = [(s, student * s / 1000) for s in range(100, 1001, 100)]
    rows = "\n".join(f"{s},{value}" for s, value in evaluations)
    (folder / "evaluations.csv").write_text("timesteps,mean_return\n" + rows + "\n")


def write_teacher(out, env, seed, variant, record: dict) -> None:
    """A teacher's folder as the grid leaves it, ``teachers/ENV/sSEED-VARIANT``: done.json, and ``record`` as its
    config.json (a corrupted copy's: the original's and the copy's scores, which the Table 2 format reads)."""
    folder = out / "teachers" / env.replace("/", "-") / f"s{seed}-{variant}"
    os.makedirs(folder)
    done = {"key": f"teachers/{env.replace('/', '-')}/s{seed}-{variant}", "status": "done", "teacher": str(folder / "t.zip")}
    (folder / "done.json").write_text(json.dumps(done))
    (folder / "config.json").write_text(json.dumps(record))


def corrupted_record(env, seed, sigma, original, corrupted) -> dict:
    """A fixed-sigma copy's config.json, with the keys ``corrupt`` writes given an environment (as the grid does)."""
    return {
        "command": None,
        "env": env,
        "corrupted_from": f"teachers/{env}/s{seed}-original/t.zip",
        "sigma": sigma,
        "seed": seed,
        "original_mean_return": original,
        "corrupted_mean_return": corrupted,
    }


def write_random_scores(out, scores: dict[str, float]) -> None:
    entries = {env: {"mean_return": value, "source": "measured", "seed": 0, "episodes": 20} for env, value in scores.items()}
    (out / "random_scores.json").write_text(json.dumps(entries))


def make_grid(out) -> None:
    for env, method, size, seed, teacher, student in RUNS:
        write_run(out, env, method, size, seed, teacher, student)
    write_random_scores(out, {"Pendulum-v1": PENDULUM_RANDOM})


def section(report: str, heading: str) -> str:
    """The text of the report's section under ``## heading``, up to the next one."""
    return report.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_fractions_tables_and_figures(tmp_path, capsys):
    make_grid(tmp_path)
    runs = read_runs(str(tmp_path))
    pong = next(run for run in runs if run.env == "PongNoFrameskip-v4")
    assert pong.fraction == pytest.approx(0.5)
    assert main(["report", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "50,000 replications" in report  # rliable's default, stated
    # columns in the paper's order: sd, then ppd; 2 seeds per environment: no interval anywhere
    # classic, smaller sd: CartPole only, 0.8 and 0.8 -> 0.80x, a mean of 2;
    # classic, smaller ppd: fractions 1, 0.5, 1, 2 -> logs 0, -ln2, 0, ln2; the middle two are 0, 0 -> 1.00x
    assert "| classic | 0.80x† (n=2) | 1.00x (n=4) |  | 0.86x†‡ (n=1) |" in report  # Pendulum: 900 / 1050
    # atari: one ppd run, fraction 0.5
    assert "| atari |  | 0.50x† (n=1) |  |  |" in report
    assert "[" not in section(report, "Table 1 format: student score / teacher score (original teachers)")
    assert "† geometric mean of n<4 scores, not an IQM" in report
    assert "No interval where an environment has fewer than 3 seeds" in report
    assert "‡ includes runs whose teacher's score is not positive" in report and "Pendulum-v1 -1200" in report
    # Table 5: CartPole sd 400, ppd (500 + 250) / 2 = 375; Pong human-normalised teacher 1 and student 0.5
    assert "| CartPole-v1 | 500 | 400 | 375 |" in report
    assert "| PongNoFrameskip-v4 | 1 |  | 0.5 |" in report
    assert "| Pendulum-v1 | -150 |  |  |  | -300 |" in report
    # steps to 90%: CartPole s0 reaches 450 at step 900; s1 (student 250) never does; Acrobot s0 at 900, s1 at 500
    assert "| classic | smaller | ppd | 900 | 3/4 |" in report
    assert "| classic | smaller | student-distill | not reached | 0/2 |" in report
    # Pendulum's evaluations, -30 at step 100 down to -300, are (x + 1200) / 1050 >= 0.9 from the first
    assert "| classic | larger | ppd | 100‡ | 1/1 |" in report
    assert "| ppd | 100 | 6 |" in report and "| student-distill | 300 | 2 |" in report
    assert "Curves without a band: an environment has fewer than 3 seeds" in report
    for name in ("curves-original-classic-smaller.png", "curves-original-atari-smaller.png"):
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
    write_teacher(tmp_path, "CartPole-v1", 0, "corrupted0.05", corrupted_record("CartPole-v1", 0, 0.05, 500.0, 300.0))
    assert main(["report", str(tmp_path), "--reps", "500", "--at", "0.45k,1000,2k"]) == 0
    report = (tmp_path / "report.md").read_text()
    corrupted_section, original = report.split("## Evaluation returns at chosen steps (corrupted0.05 teachers)")[1].split(
        "## Evaluation returns at chosen steps (original teachers)"
    )
    assert "| CartPole-v1 | smaller | 1,000 | 100 (n=1) |" in corrupted_section  # each variant on its own
    report = original
    # CartPole ppd smaller at step 450 -> the evaluation at 500: s0 500 * 0.5 = 250, s1 250 * 0.5 = 125
    # (a mean of 187.5); student-distill 400 * 0.5 = 200 for both seeds; no interval from 2 runs
    assert "| CartPole-v1 | smaller | 450 | 200 (n=2) | 188 (n=2) |" in report
    assert "| CartPole-v1 | smaller | 1,000 | 400 (n=2) | 375 (n=2) |" in report
    assert "| CartPole-v1 | smaller | 2,000 |  |  |" in report  # no evaluation that late
    assert "| PongNoFrameskip-v4 | smaller | 1,000 |  | 0.5 (n=1) |" in report  # human-normalised
    assert "No interval from fewer than 3 runs" in report


def test_returns_at_chosen_steps_with_3_seeds_have_intervals(tmp_path, capsys):
    for seed, student in enumerate((100.0, 200.0, 300.0)):
        write_run(tmp_path, "CartPole-v1", "ppd", "smaller", seed, 500.0, student)
    assert main(["report", str(tmp_path), "--reps", "2000", "--at", "1000"]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "| CartPole-v1 | smaller | 1,000 | 200 [100, 300] (n=3) |" in report  # P(all 3 draws 100) = 1/27 > 2.5%
    assert "No interval from fewer than 3 runs" not in report


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


def test_a_cell_of_fewer_than_4_scores_is_a_mean_and_fewer_than_3_seeds_get_no_interval(tmp_path):
    fractions = {"ppd": (0.5, 1.0, 2.0), "student-distill": (0.5, 1.0)}  # 3 seeds; 2 seeds
    for method, values in fractions.items():
        for seed, fraction in enumerate(values):
            write_run(tmp_path, "CartPole-v1", method, "smaller", seed, 400.0, 400.0 * fraction)
    for seed, fraction in enumerate((0.5, 1.0, 2.0)):  # 2 environments x 3 seeds: an IQM of 6, with an interval
        write_run(tmp_path, "CartPole-v1", "ppd", "larger", seed, 400.0, 400.0 * fraction)
        write_run(tmp_path, "Acrobot-v1", "ppd", "larger", seed, 100.0, 100.0 * fraction)
    runs = read_runs(str(tmp_path))
    three = aggregate_fractions([r for r in runs if r.method == "ppd" and r.student == "smaller"], reps=1000)
    assert three is not None and three.scores == 3 and three.is_mean and three.interval is not None
    assert three.value == pytest.approx(1.0)  # geometric mean of 0.5, 1, 2: nothing trimmed
    two = aggregate_fractions([r for r in runs if r.method == "student-distill"], reps=1000)
    assert two is not None and two.is_mean and two.interval is None and two.value == pytest.approx(np.sqrt(0.5))
    six = aggregate_fractions([r for r in runs if r.student == "larger"], reps=1000)
    assert six is not None and not six.is_mean and six.interval is not None and six.scores == 6
    table = table_1(runs, "original", reps=1000)
    # columns: smaller sd, smaller ppd, larger sd (empty), larger ppd
    row = next(line for line in table.splitlines() if line.startswith("| classic |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")][1:]
    assert cells[0] == "0.71x† (n=2)"  # no brackets from 2 seeds
    assert cells[1] == "1.00x† [0.50, 2.00] (n=3)"  # a mean; P(three draws of 0.5) = 1/27 > 2.5%
    assert re.fullmatch(r"1\.00x \[0\.\d\d, [12]\.\d\d\] \(n=6\)", cells[3]), cells[3]  # an IQM: no mark
    assert "† geometric mean of n<4 scores, not an IQM" in table
    assert "No interval where an environment has fewer than 3 seeds" in table


def test_each_teacher_variant_has_its_own_tables_curves_and_steps(tmp_path):
    for seed in range(3):
        write_run(tmp_path, "CartPole-v1", "ppd", "smaller", seed, 500.0, 500.0)  # 1.0 of the original teacher
        write_run(tmp_path, "CartPole-v1", "ppd", "smaller", seed, 300.0, 150.0, variant="corrupted0.05")  # 0.5
        write_teacher(
            tmp_path, "CartPole-v1", seed, "corrupted0.05", corrupted_record("CartPole-v1", seed, 0.05, 500.0, 300.0)
        )
        write_run(tmp_path, "CartPole-v1", "ppo", "smaller", seed, 500.0, 250.0)  # the baseline, recorded as original's
    assert main(["report", str(tmp_path), "--reps", "1000"]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "teacher variants: corrupted0.05, original" in report and "Curves without a band" not in report
    expected = {
        "original": ("1.00x† [1.00, 1.00] (n=3)", "900", 3),
        "corrupted0.05": ("0.50x† [0.50, 0.50] (n=3)", "not reached", 0),
    }
    for variant, (ppd, steps, reaching) in expected.items():
        table = section(report, f"Table 1 format: student score / teacher score ({variant} teachers)")
        # one variant's runs only (n=3, not 6), and the baseline's: ppo 250 / 500 under both
        assert "| suite | smaller ppd | smaller ppo |" in table
        assert f"| classic | {ppd} | 0.50x† [0.50, 0.50] (n=3) |" in table
        curves = section(report, f"Learning curves ({variant} teachers)")
        name = f"curves-{variant}-classic-smaller.png"
        assert f"(figures/{name})" in curves and (tmp_path / "figures" / name).read_bytes()[:4] == b"\x89PNG"
        steps_section = section(report, f"Steps to reach 90% of the teacher's score ({variant} teachers)")
        assert f"| classic | smaller | ppd | {steps} | {reaching}/3 |" in steps_section
        assert "| classic | smaller | ppo | not reached | 0/3 |" in steps_section
    assert "no-teacher baseline, the same runs under every teacher variant" in section(
        report, "Table 1 format: student score / teacher score (corrupted0.05 teachers)"
    )
    # the corrupted variant's runs as fractions of the original teacher (500): the copy 300/500, ppd 150/500, ppo 250/500
    table_2 = section(report, "Table 2 format: fractions of the original teacher's score (corrupted0.05 teachers)")
    assert "| suite / env | original teacher | corrupted teacher | smaller ppd | smaller ppo |" in table_2
    assert "| classic |  | 0.60x† [0.60, 0.60] (n=3) | 0.30x† [0.30, 0.30] (n=3) | 0.50x† [0.50, 0.50] (n=3) |" in table_2
    assert "| CartPole-v1 | 500 | 0.60x | 0.30x | 0.50x |" in table_2
    assert "† geometric mean of n<4 scores, not an IQM" in table_2
    assert "Table 2 format: fractions of the original teacher's score (original teachers)" not in report
    runs = read_runs(str(tmp_path))
    assert "| classic | smaller | ppd | 900 | 3/3 |" in steps_table(runs, "original")
    assert not list((tmp_path / "figures").glob("curves-classic-*"))  # every figure names its variant


ACROBOT_RANDOM = -500.0


def make_acrobot_grid(out, episodes=None) -> list[float]:
    """Acrobot runs whose teacher scores -83 (not positive); returns the students' returns."""
    students = [-100.0, -90.0, -80.0]
    extra = {} if episodes is None else {"eval_episodes": episodes}
    for seed, student in enumerate(students):
        evaluations = [(500, ACROBOT_RANDOM), (1000, student)]  # random-normalised: 0, then about 1
        write_run(out, "Acrobot-v1", "ppd", "smaller", seed, -83.0, student, evaluations=evaluations, **extra)
    return students


def test_a_negative_teacher_task_is_kept_with_random_normalised_fractions(tmp_path):
    students = make_acrobot_grid(tmp_path)
    write_random_scores(tmp_path, {"Acrobot-v1": ACROBOT_RANDOM})
    assert main(["report", str(tmp_path), "--reps", "1000"]) == 0
    report = (tmp_path / "report.md").read_text()
    by_hand = [(student - ACROBOT_RANDOM) / (-83.0 - ACROBOT_RANDOM) for student in students]
    value = float(np.exp(np.mean(np.log(by_hand))))  # 3 scores: the geometric mean
    assert value == pytest.approx(0.983, abs=1e-3)
    assert f"| classic | {value:.2f}x†‡ [" in report and "(n=3)" in report
    assert "‡ includes runs whose teacher's score is not positive" in report
    assert "(student - random) / (teacher - random)" in report and "Acrobot-v1 -500" in report
    runs = with_random_scores(read_runs(str(tmp_path)), {"Acrobot-v1": {"mean_return": ACROBOT_RANDOM}})
    assert [run.fraction for run in sorted(runs, key=lambda r: r.seed)] == pytest.approx(by_hand)
    worse_than_random = dataclasses.replace(runs[0], teacher_return=-600.0)  # no fraction of a teacher below random
    assert np.isnan(worse_than_random.fraction) and aggregate_fractions([worse_than_random]) is None
    # the curves and the steps to 90% use the same fractions: 0 at step 500, about 1 at step 1000
    assert "| classic | smaller | ppd | 1,000‡ | 3/3 |" in report
    assert (tmp_path / "figures" / "curves-original-classic-smaller.png").exists()
    assert "Runs whose teacher's score is not positive (Acrobot-v1) enter the curves random-normalised" in report


def test_a_missing_random_score_is_measured_once_and_cached(tmp_path, monkeypatch):
    make_acrobot_grid(tmp_path, episodes=2)
    runs = read_runs(str(tmp_path))
    scores = random_scores(str(tmp_path), runs, verbose=False)
    expected, source = random_score("Acrobot-v1", 0, 2)  # seed 0, the runs' evaluation episodes
    assert scores == {"Acrobot-v1": {"mean_return": expected, "source": source, "seed": 0, "episodes": 2}}
    assert json.loads((tmp_path / "random_scores.json").read_text()) == scores

    def refuse(*args):
        raise AssertionError("measured again")

    monkeypatch.setattr(random_scores_module, "random_score", refuse)
    assert random_scores(str(tmp_path), runs, verbose=False) == scores  # read back
    assert main(["report", str(tmp_path), "--reps", "100"]) == 0
    assert f"Acrobot-v1 {expected:.4g} (measured on seed 0, 2 episodes)" in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize(
    "text, problem",
    [
        ('{"Acrobot-v1": {"mean_return": -5', r"is damaged: line 1: .*\(it ends early: a write cut short\?\)"),
        ('{"Acrobot-v1": {"mean": -500}}', r"is damaged: 'Acrobot-v1' has no numeric mean_return"),
        ('{"Acrobot-v1": -500}', r"is damaged: 'Acrobot-v1' has no numeric mean_return"),
    ],
)
def test_a_damaged_random_scores_cache_is_named(tmp_path, capsys, text, problem):
    make_acrobot_grid(tmp_path)
    (tmp_path / "random_scores.json").write_text(text)
    assert main(["report", str(tmp_path), "--reps", "50"]) == 2
    assert re.search(re.escape(f"error: {tmp_path / 'random_scores.json'} ") + problem, capsys.readouterr().err)
    assert not (tmp_path / "report.md").exists()


def test_steps_to_90_percent_say_when_evaluations_average_fewer_episodes_than_the_final_score(tmp_path):
    """One 5-episode evaluation can cross 0.9 by chance where the 20-episode final score stays below it."""
    for seed in range(3):
        write_run(tmp_path, "CartPole-v1", "ppd", "smaller", seed, 500.0, 400.0, eval_episodes=20)
        path = tmp_path / "runs" / "CartPole-v1" / "original" / f"ppd-smaller-s{seed}" / "evaluations.csv"
        path.write_text("timesteps,mean_return,std_return,episodes\n500,460,40,5\n1000,400,40,5\n")
    table = steps_table(read_runs(str(tmp_path)), "original")
    assert "| classic | smaller | ppd | 500 | 3/3 |" in table  # the noisy evaluation at 500 counts as reaching it
    assert "Each evaluation during training averages 5 episodes, the final score 20" in table
    for seed in range(3):  # evaluations as long as the final score's: nothing to warn about
        path = tmp_path / "runs" / "CartPole-v1" / "original" / f"ppd-smaller-s{seed}" / "evaluations.csv"
        path.write_text(path.read_text().replace(",5\n", ",20\n"))
    assert "averages" not in steps_table(read_runs(str(tmp_path)), "original")


def test_a_grid_that_sweeps_the_students_memory_reads_it_across_a_line(tmp_path):
    """A sweep of frame_stack and recurrent: one row per method, one column per memory, each cell Table 1's (here
    the geometric mean of 3 seeds' fractions, with its interval); the other settings of a method stay in its row."""
    from scipy.stats import gmean

    from sb3_distill.report.memory import memory_styles, split_memory

    assert split_memory("ppd lambda=2 frame_stack=4") == ("ppd lambda=2", "frame_stack=4")
    assert split_memory("ppo") == ("ppo", "no memory")
    styles = memory_styles(["ppd", "ppd frame_stack=4", "ppd recurrent=True", "ppo"])  # of the curves
    assert {style["color"] for method, style in styles.items() if method.startswith("ppd")} == {"C0"}
    assert [styles[m]["linestyle"] for m in ("ppd", "ppd frame_stack=4", "ppd recurrent=True")] == ["-", "--", ":"]
    assert styles["ppo"]["color"] == "C1"
    out = tmp_path / "grid"
    finals = {"student-distill": (1800.0, 2400.0, 2600.0), "ppd": (1900.0, 2700.0, 2650.0), "ppo": (900.0, 1200.0, 1500.0)}
    memories = ("", " frame_stack=4", " recurrent=True")
    for method, returns in finals.items():
        for memory, final in zip(memories, returns, strict=True):
            for seed in range(3):
                write_run(out, "HalfCheetah-v5", method + memory, "same", seed, 2500.0, final * (1 + 0.1 * seed))
    assert main(["report", str(out), "--reps", "200"]) == 0
    report = (out / "report.md").read_text()
    table = section(report, "The students' memory (original teachers)")
    rows = {
        line.split(" | ")[2]: line.strip("| ").split(" | ")[3:] for line in table.splitlines() if line.startswith("| mujoco")
    }
    assert "| suite | size | method | no memory | frame_stack=4 | recurrent=True |" in table
    assert list(rows) == ["sd", "ppd", "ppo"]  # the paper's order of methods
    table_1 = section(report, "Table 1 format: student score / teacher score (original teachers)").splitlines()
    names, cells = (
        [c.strip() for c in line.strip("| ").split(" | ")] for line in table_1 if line.startswith(("| suite", "| mujoco"))
    )
    table_1_cells = dict(zip(names, cells, strict=True))
    for method, short in (("student-distill", "sd"), ("ppd", "ppd"), ("ppo", "ppo")):
        for column, (memory, final) in enumerate(zip(memories, finals[method], strict=True)):
            expected = gmean([final * (1 + 0.1 * seed) / 2500.0 for seed in range(3)])
            assert rows[short][column].startswith(f"{expected:.2f}x† [") and rows[short][column].endswith("(n=3)")
            assert rows[short][column] == table_1_cells[f"same {short}{memory}"]
    plain = tmp_path / "plain"  # a grid without memory has no such section
    make_grid(plain)
    assert main(["report", str(plain), "--reps", "100"]) == 0
    assert "The students' memory" not in (plain / "report.md").read_text()
