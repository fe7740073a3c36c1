"""The frontier section of reports: parameters and latency per network, measured once and read back from
``latency.json``, on the committed td3-raw grid's records (its teacher is the test suite's TD3 zip)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace

import pytest

from sb3_distill.report.build import _frontier_sections, build_report
from sb3_distill.report.frontier import LATENCY_FILE
from sb3_distill.report.tables import read_runs

pytest.importorskip("onnxruntime")

ROOT = os.path.join(os.path.dirname(__file__), "..")
GRID = os.path.join(ROOT, "docs", "results", "td3-raw")
TEACHER = os.path.abspath(os.path.join(ROOT, "tests", "teachers", "td3-Pendulum-v1.zip"))


def _point_teachers_at(grid: str, teacher: str) -> None:
    """Point every run's ``results.json`` at ``teacher``, the zip the frontier rebuilds the networks from."""
    for folder, _, files in os.walk(os.path.join(grid, "runs")):
        if "results.json" in files:
            path = os.path.join(folder, "results.json")
            record = json.loads(open(path).read())
            record["teacher"] = teacher
            with open(path, "w") as file:
                json.dump(record, file)


@pytest.fixture
def grid(tmp_path):
    """A copy of the grid's records without its latency file, its runs pointing at this checkout's teacher."""
    out = tmp_path / "grid"
    shutil.copytree(GRID, out, ignore=shutil.ignore_patterns(LATENCY_FILE, "figures", "report.md"))
    _point_teachers_at(str(out), TEACHER)
    return str(out)


def _rows(report: str) -> dict[tuple[str, str], list[str]]:
    section = report.split("## Size, latency and return")[1].split("\n## ")[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    return {(cells[0].strip(), cells[1].strip()): [c.strip() for c in cells] for cells in rows[1:]}


def test_the_report_tabulates_and_plots_each_network_and_keeps_its_latency(grid):
    report = open(build_report(grid, reps=1000)).read()
    rows = _rows(report)
    assert rows[("teacher", "teacher")][2] == "4,481"  # the TD3 teacher's actor, as the runs recorded it
    for method in ("teacher-distill", "student-distill", "ppd", "ppo"):
        assert rows[("larger", method)][2] == "13,449"
        assert float(rows[("larger", method)][3]) > 0 and float(rows[("larger", method)][4]) > 0
    assert os.path.isfile(os.path.join(grid, "figures", "frontier-Pendulum-v1.png"))
    # the mean return is the mean of the runs' own records
    done = [
        json.loads(open(os.path.join(grid, "runs", "Pendulum-v1", "original", f"ppd-larger-s{s}", "done.json")).read())
        for s in range(3)
    ]
    assert rows[("larger", "ppd")][5] == f"{sum(d['student_mean_return'] for d in done) / 3:.1f} (3)"
    # rebuilt, the report reads the latencies back instead of measuring them again
    before = open(os.path.join(grid, LATENCY_FILE)).read()
    assert _rows(open(build_report(grid, reps=1000)).read()) == rows
    assert open(os.path.join(grid, LATENCY_FILE)).read() == before


def test_a_network_that_does_not_rebuild_to_the_recorded_size_is_not_measured(grid):
    for folder, _, files in os.walk(os.path.join(grid, "runs")):
        if "results.json" in files:
            path = os.path.join(folder, "results.json")
            record = json.loads(open(path).read())
            record["student_policy_parameters"] = 99
            with open(path, "w") as file:
                json.dump(record, file)
    rows = _rows(open(build_report(grid, reps=1000)).read())
    assert "the runs recorded 99" in rows[("larger", "ppd")][2]
    assert rows[("teacher", "teacher")][2] == "4,481"


def test_a_network_that_could_not_be_measured_is_tried_again_by_the_next_report(grid):
    """A failure is not cached for good: while the teacher's zip stays missing, rebuilding the report leaves
    ``latency.json`` byte for byte as it was; once the zip is back, the next report measures every network."""
    _point_teachers_at(grid, os.path.join(grid, "moved-away.zip"))
    rows = _rows(open(build_report(grid, reps=1000)).read())
    assert rows[("teacher", "teacher")][2].startswith("n/a (no teacher zip or config.json")
    assert rows[("larger", "ppd")][2].startswith("n/a (no teacher zip or config.json")
    before = open(os.path.join(grid, LATENCY_FILE)).read()
    build_report(grid, reps=1000)
    assert open(os.path.join(grid, LATENCY_FILE)).read() == before

    _point_teachers_at(grid, TEACHER)
    rows = _rows(open(build_report(grid, reps=1000)).read())
    assert rows[("teacher", "teacher")][2] == "4,481"
    for method in ("teacher-distill", "student-distill", "ppd", "ppo"):
        assert rows[("larger", method)][2] == "13,449" and float(rows[("larger", method)][3]) > 0
    assert '"measured": false' not in open(os.path.join(grid, LATENCY_FILE)).read()


def test_a_grid_without_original_teachers_gets_no_frontier_of_its_baseline_alone(grid):
    """A grid of corrupted teachers (the imperfect-teachers spec) has no original teacher to set the students
    against: the section says so instead of tabulating the no-teacher baseline, and measures nothing."""
    runs = [run if run.baseline else replace(run, variant="corrupted0.5x") for run in read_runs(grid)]
    assert any(run.baseline for run in runs) and any(not run.baseline for run in runs)
    sections = _frontier_sections(grid, runs, os.path.join(grid, "figures"))
    assert "this grid has none" in "\n".join(sections)
    assert not any(line.startswith("| ") for line in sections)
    assert not os.path.exists(os.path.join(grid, LATENCY_FILE))


MEMORY_GRID = """\
seeds: [0]
methods: [ppd]
students: [same]
teachers: [original]
envs:
  CartPole-v1:
    teacher: train
    teacher_steps: 2048
    distill_steps: 512
    eval_episodes: 2
    curve_points: 1
    curve_episodes: 1
    n_envs: 2
    student_observation: 0:2
sweep:
  ppd: [{}, {frame_stack: 4}, {recurrent: true}]
"""


def test_students_that_read_less_or_remember_are_timed_as_the_networks_they_were(tmp_path):
    """A student view, a frame stack and an LSTM each change the student's network: each is its own row, rebuilt
    from its run's config at the size the run recorded, not as the size alone on the teacher's observation. The
    students' zips are not needed (committed records leave them out)."""
    from sb3_distill.cli.main import main

    spec = tmp_path / "memory.yaml"
    spec.write_text(MEMORY_GRID)
    out = tmp_path / "out"
    assert main(["bench", str(spec), "--out", str(out)]) == 0
    for zip_file in (out / "runs").rglob("student.zip"):
        zip_file.unlink()
    rows = _rows(open(build_report(str(out), reps=100)).read())
    folders = {
        "same obs=0:2": ("ppd", "ppd-same-s0"),
        "same obs=0:2 frame_stack=4": ("ppd frame_stack=4", "ppd-frame_stack=4-same-s0"),
        "same obs=0:2 recurrent": ("ppd recurrent=True", "ppd-recurrent=True-same-s0"),
    }
    counts = {}
    for name, (method, folder) in folders.items():
        recorded = json.loads((out / "runs" / "CartPole-v1" / "original" / folder / "results.json").read_text())
        row = rows[(name, method)]
        counts[name] = int(row[2].replace(",", ""))
        assert counts[name] == recorded["student_policy_parameters"]
        assert float(row[3]) > 0 and float(row[4]) > 0
    # the counts are the actor's: 2 entries read instead of CartPole's 4 take 2 inputs from its first layer of
    # 64 units, 4 stacked frames of 2 entries give it 6 more
    assert int(rows[("teacher", "teacher")][2].replace(",", "")) - counts["same obs=0:2"] == 2 * 64
    assert counts["same obs=0:2 frame_stack=4"] - counts["same obs=0:2"] == 6 * 64
