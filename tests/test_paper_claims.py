"""The results summary (benchmarks/paper_claims.py): its tables and verdicts follow from the records."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys

from tests.test_report import corrupted_record, write_random_scores, write_run, write_teacher

ENVS = ("MinAtar/Breakout-v1", "MinAtar/Asterix-v1")
SEEDS = (0, 1, 2)
TEACHER = 10.0
REPS = 2000


def paper_claims():
    path = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "paper_claims.py")
    spec = importlib.util.spec_from_file_location("paper_claims", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["paper_claims"] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def write_spec(out, teachers, methods: str, students: str, variant: str) -> None:
    """The grid's committed spec: the summary reads its planned runs and which teacher each environment has."""
    steps = "distill_steps: 1000" + (", teacher_steps: 1000" if "train" in teachers.values() else "")
    envs = "".join(f"  {env}: {{teacher: {teachers[env]}, {steps}}}\n" for env in ENVS)
    spec = f"seeds: [0, 1, 2]\nmethods: [{methods}]\nstudents: [{students}]\nteachers: [{variant}]\nenvs:\n{envs}"
    os.makedirs(out, exist_ok=True)
    (out / "spec.yaml").write_text(spec)


def committed_teachers(folder) -> dict[str, str]:
    """One teacher file per game that several grids name, as the MinAtar grids share benchmarks/teachers/."""
    os.makedirs(folder, exist_ok=True)
    paths = {env: str(folder / f"{env.split('/')[1]}.zip") for env in ENVS}
    for path in paths.values():
        open(path, "wb").close()  # the spec only checks that the file exists
    return paths


def make_table_1_grid(out, teachers) -> None:
    """PPD at 1.2x of the teacher, student-distill and teacher-distill tied at 0.8x, at every size."""
    write_spec(out, teachers, "ppd, student-distill, teacher-distill", "smaller, same, larger", "original")
    for env in ENVS:
        for seed in SEEDS:
            for size in ("smaller", "same", "larger"):
                jitter = 0.01 * seed
                write_run(out, env, "ppd", size, seed, TEACHER, TEACHER * (1.2 + jitter))
                write_run(out, env, "student-distill", size, seed, TEACHER, TEACHER * (0.8 + jitter))
                write_run(out, env, "teacher-distill", size, seed, TEACHER, TEACHER * (0.8 + jitter))
    write_random_scores(out, {env: 0.0 for env in ENVS})


def make_table_2_grid(out, teachers) -> None:
    """Corrupted teachers at 5 of their original's 10; larger students of them: PPD 7, student-distill 4;
    PPO from scratch 3, recorded against the original teacher."""
    write_spec(out, teachers, "ppd, student-distill, ppo", "larger", "corrupted:0.5x")
    for env in ENVS:
        for seed in SEEDS:
            record = corrupted_record(env, seed, 0.3, TEACHER, TEACHER / 2)
            write_teacher(out, env, seed, "corrupted0.5x", record)
            variant = {"variant": "corrupted0.5x"}
            write_run(out, env, "ppd", "larger", seed, TEACHER / 2, 7.0 + 0.1 * seed, **variant)
            write_run(out, env, "student-distill", "larger", seed, TEACHER / 2, 4.0 + 0.1 * seed, **variant)
            write_run(out, env, "ppo", "larger", seed, TEACHER, 3.0 + 0.1 * seed)
    write_random_scores(out, {env: 0.0 for env in ENVS})


def verdicts(page: str) -> dict[str, str]:
    """``claim -> verdict`` of the page's claims table."""
    rows = page.split("## Claims\n", 1)[1].splitlines()
    claims = [row.split(" | ") for row in rows if row[:4] in ("| 1 ", "| 2 ", "| 7 ")]
    return {cells[1]: cells[-1].rstrip(" |") for cells in claims}


def test_the_summary_gives_each_claim_the_verdict_its_records_support(tmp_path):
    table_1, table_2 = tmp_path / "minatar", tmp_path / "imperfect"
    teachers = committed_teachers(tmp_path / "teachers")
    make_table_1_grid(table_1, teachers)
    make_table_2_grid(table_2, teachers)
    page = paper_claims().summary([str(table_1), str(table_2)], REPS)
    said = verdicts(page)

    for size in ("smaller", "same", "larger"):
        assert said[f"minatar {size}: ppd > sd"] == "holds"
        assert said[f"minatar {size}: ppd > td"] == "holds"
        assert said[f"minatar {size}: sd > td"] == "not separable"  # tied run for run
    assert said["minatar ppd: larger > smaller"] == "not separable"
    assert said["minatar larger ppd > teacher"] == "holds"
    # Table 2 divides by the ORIGINAL teacher: PPD 0.7, student-distill 0.4, the corrupted teacher 0.5
    assert said["minatar larger: ppd > corrupted teacher"] == "holds"
    assert said["minatar larger: ppd > sd"] == "holds"
    assert said["minatar larger: sd > corrupted teacher"] == "does not hold"
    # Table 7 pairs the first grid's PPD students (1.2x) with the second grid's PPO from scratch (0.3x):
    # both grids name the same teacher files
    assert said["minatar larger: ppd > ppo"] == "holds"
    assert "The 6 corrupted teachers (corrupted0.5x) keep 0.500 to 0.500 of their original's score" in page

    table_2_rows = page.split("## Table 2", 1)[1].split("\n## ", 1)[0]
    here = next(line for line in table_2_rows.splitlines() if line.startswith("| here, minatar"))
    corrupted, td, sd, ppd = here.strip("| ").split(" | ")[1:]
    assert corrupted.startswith("0.50x") and sd.startswith("0.41x") and ppd.startswith("0.71x") and td == ""
    on = "(on MinAtar/Asterix-v1, MinAtar/Breakout-v1)"
    assert f"`{table_1}`: 54 finished runs of 54 planned {on}." in page
    assert f"`{table_2}`: 18 finished runs of 18 planned {on}." in page
    assert "**Partial:**" not in page


def test_the_summary_pairs_runs_only_where_they_share_a_teacher(tmp_path):
    """Two grids that each train their own teachers: the second grid's PPO from scratch learnt nothing from
    the first grid's teachers, so no Table 7 claim pairs them, and its row is left out."""
    table_1, table_2 = tmp_path / "minatar", tmp_path / "imperfect"
    make_table_1_grid(table_1, {env: "train" for env in ENVS})
    make_table_2_grid(table_2, {env: "train" for env in ENVS})
    unfinished = next(path for path in table_2.rglob("done.json") if path.parent.name.startswith("ppo-"))
    shutil.rmtree(unfinished.parent)  # one run of the second grid has not finished
    page = paper_claims().summary([str(table_1), str(table_2)], REPS)

    assert "minatar larger: ppd > ppo" not in verdicts(page)
    assert f"`{table_2}`: 17 finished runs of 18 planned" in page
    assert "**Partial:** `imperfect` is still running." in page
    assert "| here, minatar" not in page.split("## Table 7", 1)[1].split("\n## ", 1)[0]
    assert verdicts(page)["minatar larger: ppd > corrupted teacher"] == "holds"  # within one grid: paired
