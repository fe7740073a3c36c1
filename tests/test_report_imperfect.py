"""The report's Table 2 format for imperfect teachers: every score as a fraction of the ORIGINAL teacher's
(from the corrupted teachers' config.json), not of the corrupted copy the runs record; suite rows aggregated as
in Table 1, environment rows the mean over seeds; the baseline as fractions of its seed's original teacher."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from sb3_distill.cli.main import main
from sb3_distill.report.statistics import sample_geometric_iqm, stratified_bootstrap_ci
from tests.test_report import section, write_random_scores, write_run, write_teacher

REPS = 1000
VARIANT = "corrupted0.5x"
PENDULUM_RANDOM = -1200.0
ENVS = ("CartPole-v1", "Pendulum-v1")  # the report's order: sorted
# per environment, per seed: the original teacher, the corrupted copy, the ppd student of each, the ppo baseline
ORIGINAL = {"CartPole-v1": [500.0, 400.0, 450.0], "Pendulum-v1": [-200.0, -150.0, -300.0]}
CORRUPTED = {"CartPole-v1": [250.0, 100.0, 300.0], "Pendulum-v1": [-700.0, -600.0, -900.0]}
PPD_OF_CORRUPTED = {"CartPole-v1": [200.0, 300.0, 150.0], "Pendulum-v1": [-400.0, -500.0, -250.0]}
PPD_OF_ORIGINAL = {"CartPole-v1": [500.0, 400.0, 450.0], "Pendulum-v1": [-300.0, -300.0, -300.0]}
PPO = {"CartPole-v1": [100.0, 200.0, 300.0], "Pendulum-v1": [-1000.0, -800.0, -600.0]}

TABLE_2 = f"Table 2 format: fractions of the original teacher's score ({VARIANT} teachers)"


def fraction(env: str, score: float, teacher: float) -> float:
    """The fraction rule by hand: a ratio where the teacher's score is positive (CartPole), else random-normalised."""
    return score / teacher if teacher > 0 else (score - PENDULUM_RANDOM) / (teacher - PENDULUM_RANDOM)


def calibrated_record(env: str, seed: int) -> dict:
    """A calibrated copy's config.json, with the keys ``corrupt --target-fraction`` writes."""
    original, corrupted = ORIGINAL[env][seed], CORRUPTED[env][seed]
    return {
        "command": None,
        "env": env,
        "corrupted_from": f"teachers/{env}/s{seed}-original/{env}.zip",
        "sigma": 0.1,
        "seed": seed,
        "target_fraction": 0.5,
        "tolerance": 0.05,
        "max_evaluations": 12,
        "eval_episodes": 20,
        "original_mean_return": original,
        "corrupted_mean_return": corrupted,
        "random_mean_return": PENDULUM_RANDOM if env == "Pendulum-v1" else 22.0,
        "random_score_source": "measured",
        "fraction": 0.5,
        "search": [],
    }


def make_imperfect_grid(out, seeds: int = 3, variants: tuple[str, ...] = ("original", VARIANT)) -> None:
    """Larger ppd students of each variant's teachers and the ppo baseline, on CartPole (positive teacher scores) and
    Pendulum (negative: random-normalised). The baseline's records name the spec's first variant, whose teacher score
    they hold, as the grid's runner writes them."""
    for env in ENVS:
        for seed in range(seeds):
            original, corrupted = ORIGINAL[env][seed], CORRUPTED[env][seed]
            if "original" in variants:
                write_teacher(out, env, seed, "original", {"env": env, "seed": seed, "eval_mean_return": original})
                write_run(out, env, "ppd", "larger", seed, original, PPD_OF_ORIGINAL[env][seed], eval_episodes=20)
            write_teacher(out, env, seed, VARIANT, calibrated_record(env, seed))
            write_run(
                out, env, "ppd", "larger", seed, corrupted, PPD_OF_CORRUPTED[env][seed], variant=VARIANT, eval_episodes=20
            )
            first = variants[0]
            write_run(
                out, env, "ppo", "larger", seed, original if first == "original" else corrupted, PPO[env][seed], variant=first
            )
    write_random_scores(out, {"Pendulum-v1": PENDULUM_RANDOM})


def fractions_of_original(scores: dict[str, list[float]], seeds: int) -> np.ndarray:
    """``[seeds, envs]`` of each score as a fraction of its seed's original teacher."""
    return np.array([[fraction(env, scores[env][s], ORIGINAL[env][s]) for env in ENVS] for s in range(seeds)])


def suite_cell(matrix: np.ndarray, marks: str) -> str:
    """A suite cell by hand: the geometric IQM of ``[seeds, envs]`` fractions (the middle half of the sorted logs),
    with the stratified-bootstrap interval from 3 seeds on."""
    logs = np.sort(np.log(matrix.ravel()))
    cut = int(0.25 * logs.size)
    value = float(np.exp(logs[cut : logs.size - cut].mean()))
    interval = ""
    if matrix.shape[0] >= 3:
        low, high = stratified_bootstrap_ci(matrix, sample_geometric_iqm, reps=REPS)
        interval = f" [{low:.2f}, {high:.2f}]"
    return f"{value:.2f}x{marks}{interval} (n={matrix.size})"


def rows(table: str) -> dict[str, list[str]]:
    """A markdown table's rows by their first cell, the other cells stripped."""
    found = {}
    for line in table.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            found[cells[0]] = cells[1:]
    return found


def test_table_2_gives_every_column_as_a_fraction_of_the_original_teacher(tmp_path):
    make_imperfect_grid(tmp_path)
    assert main(["report", str(tmp_path), "--reps", str(REPS)]) == 0
    report = (tmp_path / "report.md").read_text()
    assert f"## {TABLE_2}" in report and "Table 2 format: fractions of the original teacher's score (original" not in report
    # after the per-variant Table 1 and Table 5 sections, before the curves
    assert report.index("## Table 5 format: mean evaluation return per environment (original teachers)") < report.index(
        f"## {TABLE_2}"
    )
    assert report.index(f"## {TABLE_2}") < report.index("## Learning curves")
    table = section(report, TABLE_2)
    assert "| suite / env | original teacher | corrupted teacher | larger ppd | larger ppo |" in table
    found = rows(table)

    corrupted = fractions_of_original(CORRUPTED, 3)
    ppd = fractions_of_original(PPD_OF_CORRUPTED, 3)
    ppo = fractions_of_original(PPO, 3)
    # by hand, per seed: CartPole 250/500, 100/400, 300/450; Pendulum (x + 1200) / (original + 1200)
    assert corrupted[:, 0] == pytest.approx([0.5, 0.25, 300 / 450])
    assert corrupted[:, 1] == pytest.approx([500 / 1000, 600 / 1050, 300 / 900])
    assert ppd[:, 0] == pytest.approx([200 / 500, 300 / 400, 150 / 450])
    assert ppd[:, 1] == pytest.approx([800 / 1000, 700 / 1050, 950 / 900])
    # environment rows: the original's mean return over seeds, then the mean over seeds of each seed's fraction
    assert found["CartPole-v1"] == ["450", "0.47x", "0.49x", "0.46x"]
    assert found["Pendulum-v1"] == ["-217", "0.47x‡", "0.84x‡", "0.42x‡"]
    for column, matrix in enumerate((corrupted, ppd, ppo)):
        assert found["CartPole-v1"][1 + column] == f"{matrix[:, 0].mean():.2f}x"
        assert found["Pendulum-v1"][1 + column] == f"{matrix[:, 1].mean():.2f}x‡"
    # the suite row: the geometric IQM over 2 environments x 3 seeds, with its interval, as Table 1's cells
    classic = found["classic"]
    assert classic[0] == ""  # no original teacher's score in a suite row
    assert classic[1:] == [suite_cell(corrupted, "‡"), suite_cell(ppd, "‡"), suite_cell(ppo, "‡")]
    assert all(re.fullmatch(r"\d\.\d\dx‡ \[\d\.\d\d, \d\.\d\d\] \(n=6\)", cell) for cell in classic[1:]), classic
    assert "‡ includes runs whose original teacher's score is not positive" in table and "Pendulum-v1 -1200" in table
    assert "ppo: the no-teacher baseline" in table and "original teacher of its seed" in table
    assert "No interval" not in table and "†" not in table

    # fractions of the corrupted teacher the runs record would be other numbers altogether: CartPole 200/250, ...
    of_corrupted = np.mean([PPD_OF_CORRUPTED["CartPole-v1"][s] / CORRUPTED["CartPole-v1"][s] for s in range(3)])
    assert f"{of_corrupted:.2f}x" != found["CartPole-v1"][2]
    # ... which is what Table 1 still shows for the corrupted variant: fractions of its own teacher
    own = np.array(
        [[fraction(env, PPD_OF_CORRUPTED[env][s], CORRUPTED[env][s]) for env in ENVS] for s in range(3)]
    )  # CartPole 0.8, 3, 0.5; Pendulum 1.6, 7/6, 19/6
    assert own[:, 0] == pytest.approx([0.8, 3.0, 0.5])
    table_1 = section(report, f"Table 1 format: student score / teacher score ({VARIANT} teachers)")
    assert rows(table_1)["classic"][0] == suite_cell(own, "‡")
    assert suite_cell(own, "‡") != suite_cell(ppd, "‡")


def test_table_2_gives_no_interval_from_2_seeds(tmp_path):
    make_imperfect_grid(tmp_path, seeds=2)
    assert main(["report", str(tmp_path), "--reps", str(REPS)]) == 0
    table = section((tmp_path / "report.md").read_text(), TABLE_2)
    classic = rows(table)["classic"]
    # 4 scores: an IQM (the middle 2), no †; no brackets from 2 seeds
    expected = [suite_cell(fractions_of_original(scores, 2), "‡") for scores in (CORRUPTED, PPD_OF_CORRUPTED, PPO)]
    assert classic[1:] == expected
    assert all("[" not in cell and cell.endswith("(n=4)") for cell in classic[1:])
    assert "No interval where an environment has fewer than 3 seeds" in table
    assert rows(table)["CartPole-v1"][:2] == ["450", f"{np.mean([0.5, 0.25]):.2f}x"]


def test_a_baseline_that_records_the_corrupted_teacher_is_a_fraction_of_the_original(tmp_path):
    """A grid of corrupted teachers only (benchmarks/specs/imperfect-teachers.yaml): the runner gives the ppo
    baseline the spec's first variant, so its records hold the corrupted teacher's score; Table 2 looks the
    original's up in that teacher's config.json."""
    make_imperfect_grid(tmp_path, variants=(VARIANT,))
    record = json.loads((tmp_path / "runs" / "CartPole-v1" / "no-teacher" / "ppo-larger-s1" / "done.json").read_text())
    assert record["variant"] == VARIANT and record["teacher_mean_return"] == CORRUPTED["CartPole-v1"][1]
    assert main(["report", str(tmp_path), "--reps", str(REPS)]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "teacher variants: corrupted0.5x." in report
    found = rows(section(report, TABLE_2))
    ppo = fractions_of_original(PPO, 3)
    assert ppo[:, 0] == pytest.approx([100 / 500, 200 / 400, 300 / 450])
    assert found["CartPole-v1"] == ["450", "0.47x", "0.49x", f"{ppo[:, 0].mean():.2f}x"]
    assert found["classic"][3] == suite_cell(ppo, "‡")
    # Table 1 divides the baseline by the corrupted teacher its records name: 100/250, 200/100, 300/300 on CartPole
    own = np.array([[fraction(env, PPO[env][s], CORRUPTED[env][s]) for env in ENVS] for s in range(3)])
    table_1 = section(report, f"Table 1 format: student score / teacher score ({VARIANT} teachers)")
    assert rows(table_1)["classic"][1] == suite_cell(own, "‡")


def test_no_table_2_without_a_corrupted_variant(tmp_path):
    for seed in range(3):
        write_run(tmp_path, "CartPole-v1", "ppd", "larger", seed, 500.0, 400.0)
        write_run(tmp_path, "CartPole-v1", "ppo", "larger", seed, 500.0, 300.0)
    assert main(["report", str(tmp_path), "--reps", "100"]) == 0  # no teachers/ folder: nothing to read
    assert "Table 2 format" not in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda path: path.write_text(json.dumps({"sigma": 0.05, "seed": 0})), r"has no numeric original_mean_return"),
        (lambda path: path.write_text('{"original_mean_return": "x"}'), r"has no numeric original_mean_return \(got 'x'\)"),
        (lambda path: path.write_text('{"original_mean_return": 5'), r"is damaged: line 1"),
        (lambda path: path.unlink(), r"is missing: the record of the corrupted0.5x teacher of CartPole-v1, seed 1"),
    ],
)
def test_a_corrupted_teacher_without_its_original_score_is_named(tmp_path, capsys, damage, problem):
    make_imperfect_grid(tmp_path)
    path = tmp_path / "teachers" / "CartPole-v1" / f"s1-{VARIANT}" / "config.json"
    damage(path)
    assert main(["report", str(tmp_path), "--reps", "100"]) == 2
    assert re.search(re.escape(f"error: {path} ") + problem, capsys.readouterr().err)
    assert not (tmp_path / "report.md").exists()
