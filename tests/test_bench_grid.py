"""The grid on a tiny spec: every run's folder, restart without redoing finished runs, failures recorded."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re

import pytest

from sb3_distill.cli.main import main
from sb3_distill.teachers import bundled_teacher_path

TEACHER = bundled_teacher_path()

TINY = """\
seeds: [0]
methods: [ppd, student-distill, ppo]
students: [smaller]
teachers: [original, corrupted:0.05]
envs:
  CartPole-v1:
    teacher: train
    teacher_steps: 2048
    distill_steps: 1024
    eval_episodes: 2
    n_envs: 2
    params: {student-distill: {n_steps: -1}}
"""


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grid")
    spec = folder / "tiny.yaml"
    spec.write_text(TINY)
    assert main(["bench", str(spec), "--out", str(folder / "out")]) == 1  # student-distill's n_steps: -1 fails
    return folder


def test_every_run_has_its_results_and_curve(grid):
    out = grid / "out"
    for variant in ("original", "corrupted0.05"):
        teacher = json.loads((out / "teachers" / "CartPole-v1" / f"s0-{variant}" / "done.json").read_text())
        assert os.path.exists(teacher["teacher"])
        ppd = json.loads((out / "runs" / "CartPole-v1" / variant / "ppd-smaller-s0" / "done.json").read_text())
        assert ppd["steps"] == 1024 and ppd["eval_episodes"] == 2
        assert 0 < ppd["student_policy_parameters"] < ppd["teacher_policy_parameters"]
        with open(out / "runs" / "CartPole-v1" / variant / "ppd-smaller-s0" / "evaluations.csv") as file:
            rows = list(csv.DictReader(file))
        assert rows and int(rows[-1]["timesteps"]) == 1024
    config = json.loads((out / "teachers" / "CartPole-v1" / "s0-original" / "config.json").read_text())
    results = json.loads((out / "runs" / "CartPole-v1" / "original" / "ppd-smaller-s0" / "results.json").read_text())
    assert results["config"]["teacher_score"] == [config["eval_mean_return"], config["eval_std_return"]]
    assert results["teacher_mean_return"] == config["eval_mean_return"]  # measured once, by train-teacher
    corrupted = json.loads((out / "runs" / "CartPole-v1" / "corrupted0.05" / "ppd-smaller-s0" / "results.json").read_text())
    assert corrupted["config"]["teacher_score"] is None
    baseline = out / "runs" / "CartPole-v1" / "no-teacher" / "ppo-smaller-s0"
    assert (baseline / "done.json").exists()  # once, not per teacher variant
    assert not (out / "runs" / "CartPole-v1" / "corrupted0.05" / "ppo-smaller-s0").exists()


def test_train_teacher_evaluates_as_the_runs_would(grid, tmp_path):
    """The grid's reuse of train-teacher's score is exact: a run that evaluates the teacher itself gets the same."""
    teacher = grid / "out" / "teachers" / "CartPole-v1" / "s0-original"
    config = json.loads((teacher / "config.json").read_text())
    assert (
        main(
            [
                "distill",
                "--teacher",
                str(teacher / "CartPole-v1.zip"),
                "--steps",
                "128",
                "--n-envs",
                "2",
                "--seed",
                "0",
                "--eval-episodes",
                "2",
                "--out",
                str(tmp_path / "run"),
                "--no-progress",
            ]
        )
        == 0
    )
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (results["teacher_mean_return"], results["teacher_std_return"]) == (
        config["eval_mean_return"],
        config["eval_std_return"],
    )


def test_a_failing_run_is_recorded_and_the_grid_goes_on(grid):
    failed = grid / "out" / "runs" / "CartPole-v1" / "original" / "student-distill-smaller-s0"
    record = json.loads((failed / "error.json").read_text())
    assert record["status"] == "failed" and "negative dimensions" in record["error"]  # n_steps: -1
    assert not (failed / "done.json").exists()


def test_a_teacher_with_a_negative_score_reaches_its_runs(tmp_path):
    """Acrobot's returns are negative: "-500.0,0.0" must reach distill as --teacher-score's value, not as an option."""
    spec = tmp_path / "acrobot.yaml"
    spec.write_text(
        "seeds: [0]\nmethods: [ppd]\nstudents: [smaller]\nenvs:\n  Acrobot-v1:\n    teacher: train\n"
        "    teacher_steps: 256\n    distill_steps: 256\n    eval_episodes: 1\n    n_envs: 2\n"
    )
    assert main(["bench", str(spec), "--out", str(tmp_path / "out")]) == 0
    config = json.loads((tmp_path / "out" / "teachers" / "Acrobot-v1" / "s0-original" / "config.json").read_text())
    run = json.loads((tmp_path / "out" / "runs" / "Acrobot-v1" / "original" / "ppd-smaller-s0" / "done.json").read_text())
    assert config["eval_mean_return"] < 0 and run["teacher_mean_return"] == config["eval_mean_return"]


def test_a_setting_the_config_refuses_fails_the_job_not_the_grid(tmp_path, capsys):
    """A spec value that only the run itself can check (gSDE on a discrete action space) fails that job with
    error.json, and the grid goes on with the others; bench then exits with status 1, naming the error.json."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "seeds: [0]\nmethods: [ppd, ppo]\nstudents: [smaller]\nenvs:\n  CartPole-v1:\n"
        f"    teacher: {TEACHER}\n    distill_steps: 256\n    eval_episodes: 1\n    n_envs: 2\n"
        "    params: {ppd: {use_sde: true}}\n"
    )
    assert main(["bench", str(spec), "--out", str(tmp_path / "out")]) == 1
    printed = capsys.readouterr()
    assert "grid finished: 2 run, 0 already done, 1 failed" in printed.out
    path = tmp_path / "out" / "runs" / "CartPole-v1" / "original" / "ppd-smaller-s0" / "error.json"
    error = json.loads(path.read_text())
    assert "gSDE" in error["error"]
    assert printed.err.strip().splitlines()[-1] == f"sb3-distill bench: 1 job failed; see {path}"


def test_restart_skips_finished_runs(grid, capsys):
    out = grid / "out"
    done = out / "runs" / "CartPole-v1" / "original" / "ppd-smaller-s0" / "done.json"
    before = done.stat().st_mtime_ns
    assert main(["bench", str(grid / "tiny.yaml"), "--out", str(out)]) == 1  # the failed runs fail again
    printed = capsys.readouterr().out
    assert done.stat().st_mtime_ns == before
    assert "[skipped] runs/CartPole-v1/original/ppd-smaller-s0" in printed
    # 2 teachers and 3 runs kept; the 2 failed runs are tried again (and fail again)
    assert "grid finished: 0 run, 5 already done, 2 failed" in printed
    assert "[failed] runs/CartPole-v1/original/student-distill-smaller-s0" in printed


def test_a_damaged_done_json_runs_its_job_again(grid, capsys):
    """done.json is only a marker, written last: one cut short (damaged after the fact) does not stop a
    restarted grid; a warning names it, and its job runs again from the start."""
    out = grid / "out"
    done = out / "runs" / "CartPole-v1" / "no-teacher" / "ppo-smaller-s0" / "done.json"
    done.write_text(done.read_text()[:30])
    with pytest.warns(UserWarning, match=re.escape(f"{done} is damaged")):
        assert main(["bench", str(grid / "tiny.yaml"), "--out", str(out)]) == 1  # the failed runs fail again
    printed = capsys.readouterr().out
    assert "[done] runs/CartPole-v1/no-teacher/ppo-smaller-s0" in printed
    assert "grid finished: 1 run, 4 already done, 2 failed" in printed
    record = json.loads(done.read_text())
    assert record["steps"] == 1024 and not record["resumed"]


def test_a_bench_where_every_job_fails_exits_1(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "seeds: [0]\nmethods: [ppd, ppo]\nstudents: [smaller]\nenvs:\n  CartPole-v1:\n"
        f"    teacher: {TEACHER}\n    distill_steps: 256\n    eval_episodes: 1\n    n_envs: 2\n"
        "    params: {ppd: {use_sde: true}, ppo: {use_sde: true}}\n"
    )
    assert main(["bench", str(spec), "--out", str(tmp_path / "out")]) == 1
    printed = capsys.readouterr()
    assert "grid finished: 1 run, 0 already done, 2 failed" in printed.out  # the teacher, taken from its source
    runs = tmp_path / "out" / "runs" / "CartPole-v1"
    errors = [runs / "original" / "ppd-smaller-s0" / "error.json", runs / "no-teacher" / "ppo-smaller-s0" / "error.json"]
    assert all(error.exists() for error in errors)
    assert printed.err.strip().splitlines()[-1] == f"sb3-distill bench: 2 jobs failed; see {errors[0]}, {errors[1]}"


def test_spec_errors_stop_before_anything_runs(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text(TINY.replace("methods: [ppd, student-distill, ppo]", "methods: [ppd, bc]"))
    assert main(["bench", str(spec), "--out", str(tmp_path / "out")]) == 2
    assert "line 2: unknown method 'bc'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.xdist_group("ray")  # one Ray cluster at a time on this machine
def test_ray_backend_writes_the_same_layout(tmp_path, capsys):
    """A local Ray cluster, started by the test (2 CPUs); a teacher-free spec part keeps it short."""
    ray = pytest.importorskip("ray")
    spec = tmp_path / "ray.yaml"
    spec.write_text(
        TINY.replace("methods: [ppd, student-distill, ppo]", "methods: [ppd, ppo]").replace(
            "teachers: [original, corrupted:0.05]", "teachers: [original]"
        )
    )
    # "local": a new cluster, even where ray_current_cluster names one that `ray start` left
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert main(["bench", str(spec), "--out", str(tmp_path / "out"), "--backend", "ray"]) == 0
    finally:
        ray.shutdown()
    out = tmp_path / "out" / "runs" / "CartPole-v1"
    for run in (out / "original" / "ppd-smaller-s0", out / "no-teacher" / "ppo-smaller-s0"):
        record = json.loads((run / "done.json").read_text())
        assert record["status"] == "done" and record["steps"] == 1024
        assert (run / "evaluations.csv").exists() and (run / "student.zip").exists()
    assert "grid finished: 3 run, 0 already done, 0 failed" in capsys.readouterr().out


def test_report_of_the_grid(grid):
    out = grid / "out"
    record = json.loads((out / "runs" / "CartPole-v1" / "original" / "ppd-smaller-s0" / "done.json").read_text())
    assert record["steps_per_second"] > 0 and record["training_seconds"] > 0
    assert main(["report", str(out), "--reps", "100"]) == 0
    report = (out / "report.md").read_text()
    assert "original teachers" in report and "corrupted0.05 teachers" in report
    fraction = record["student_mean_return"] / record["teacher_mean_return"]
    # one run: its own fraction, a mean of one score (†) and no interval (fewer than 3 seeds)
    assert f"| classic | {fraction:.2f}x† (n=1) |" in report
    assert (out / "figures" / "curves-original-classic-smaller.png").exists()
    assert (out / "figures" / "curves-corrupted0.05-classic-smaller.png").exists()


def test_a_swept_argument_reaches_the_runs_and_the_report(tmp_path):
    spec = tmp_path / "sweep.yaml"
    spec.write_text(
        TINY.replace("methods: [ppd, student-distill, ppo]", "methods: [ppd]").replace(
            "teachers: [original, corrupted:0.05]", "teachers: [original]"
        )
        + "sweep:\n  ppd: {lambda: [0.5, 2], n_epochs: [3], preset: [paper]}\n"
    )
    out = tmp_path / "out"
    assert main(["bench", str(spec), "--out", str(out)]) == 0
    for value in ("0.5", "2"):
        run = out / "runs" / "CartPole-v1" / "original" / f"ppd-lambda={value}-n_epochs=3-preset=paper-smaller-s0"
        record = json.loads((run / "done.json").read_text())
        assert record["method"] == f"ppd lambda={value} n_epochs=3 preset=paper"
        assert record["setting"] == {"lambda": float(value), "n_epochs": 3, "preset": "paper"}
        results = json.loads((run / "results.json").read_text())
        assert results["distill_lambda"] == repr(float(value)) and results["preset"] == "paper"
        assert (results["params"]["n_epochs"], results["params"]["batch_size"]) == (3, 512)  # the sweep's, then the preset's
    assert main(["report", str(out), "--reps", "50"]) == 0
    assert (
        "| suite | smaller ppd lambda=0.5 n_epochs=3 preset=paper | smaller ppd lambda=2 n_epochs=3 preset=paper |"
        in (out / "report.md").read_text()
    )


def _benchmark_module(name):
    path = os.path.join(os.path.dirname(__file__), "..", "benchmarks", f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_saved_records_restore_a_grid_that_runs_only_what_had_not_finished(grid, tmp_path, capsys, monkeypatch):
    """A results folder does not outlive its machine: benchmarks/grid_records.py keeps finished jobs' records
    and trained teachers in git, and restores them elsewhere, the corrupted teacher regenerated to the tensor."""
    records = _benchmark_module("grid_records")
    out, saved, restored = grid / "out", tmp_path / "saved", tmp_path / "restored"
    monkeypatch.chdir(grid)  # the folder as a grid is given it, relative; its teachers' paths are absolute
    counts = records.save("out", str(saved))
    assert counts["teachers"] == 2 and counts["runs"] == 3  # the 2 failed runs are not kept
    models = sorted(path.relative_to(saved).as_posix() for path in saved.rglob("*.zip"))
    assert models == ["teachers/CartPole-v1/s0-original/CartPole-v1.zip"]  # the corrupted copy is regenerated
    assert not list(saved.rglob("checkpoints"))

    assert records.restore(str(saved), str(restored)) == {"restored": 5, "regenerated": 1}
    corrupted = json.loads((restored / "teachers" / "CartPole-v1" / "s0-corrupted0.05" / "done.json").read_text())
    assert corrupted["teacher"].startswith(str(restored))
    original = json.loads((out / "teachers" / "CartPole-v1" / "s0-corrupted0.05" / "done.json").read_text())
    assert records.tensors_digest(corrupted["teacher"]) == records.tensors_digest(original["teacher"])
    capsys.readouterr()
    assert main(["bench", str(grid / "tiny.yaml"), "--out", str(restored)]) == 1  # the failed runs fail again
    assert "grid finished: 0 run, 5 already done, 2 failed" in capsys.readouterr().out

    manifest = json.loads((saved / records.MANIFEST).read_text())
    manifest["corrupted"]["teachers/CartPole-v1/s0-corrupted0.05"]["seed"] += 1  # other noise than the saved teacher's
    (saved / records.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(SystemExit, match="differ from the saved one's"):
        records.restore(str(saved), str(tmp_path / "again"))
    assert not (tmp_path / "again" / "teachers" / "CartPole-v1" / "s0-corrupted0.05").exists()


def test_saved_records_keep_no_teacher_model_once_every_job_finished(grid, tmp_path):
    records = _benchmark_module("grid_records")
    out = grid / "out"
    runs = out / "runs" / "CartPole-v1"
    failed = [runs / variant / "student-distill-smaller-s0" for variant in ("original", "corrupted0.05")]
    try:
        for folder in failed:  # as if the two failed runs had finished
            (folder / "done.json").write_text(json.dumps({"key": str(folder.relative_to(out)), "status": "done"}))
        counts = records.save(str(out), str(tmp_path / "saved"))
    finally:
        for folder in failed:
            (folder / "done.json").unlink()
    assert counts == {"teachers": 2, "runs": 5, "models": 0}
    assert not list((tmp_path / "saved").rglob("*.zip"))
    assert records.restore(str(tmp_path / "saved"), str(tmp_path / "restored")) == {"restored": 7, "regenerated": 0}


def test_status_says_where_the_grid_stands_and_runs_nothing(grid, tmp_path, capsys):
    """``bench --status``: finished jobs, failed ones with their error, a run stopped after a checkpoint with the
    checkpoint's step, jobs not started; nothing runs and nothing is written."""
    import shutil

    from sb3_distill.bench.status import grid_status, summary

    spec = str(grid / "tiny.yaml")
    out = tmp_path / "out"
    shutil.copytree(grid / "out", out)
    stopped = out / "runs" / "CartPole-v1" / "original" / "ppd-smaller-s0"
    (stopped / "done.json").unlink()  # as if killed after its newest checkpoint
    newest = max(int(name.split("-")[1]) for name in os.listdir(stopped / "checkpoints"))
    statuses = {status.key: status for status in grid_status(spec, str(out))}
    assert summary(list(statuses.values())) == "4 done, 2 failed, 1 started (of 7 jobs)"
    failed = sorted(key for key, status in statuses.items() if status.state == "failed")
    assert failed == [
        os.path.join("runs", "CartPole-v1", variant, "student-distill-smaller-s0") for variant in ("corrupted0.05", "original")
    ]
    assert all("negative dimensions" in statuses[key].detail for key in failed)  # n_steps: -1
    started = statuses[os.path.join("runs", "CartPole-v1", "original", "ppd-smaller-s0")]
    assert (started.state, started.detail) == ("started", f"newest checkpoint at step {newest:,} of 1,024")

    capsys.readouterr()
    assert main(["bench", spec, "--out", str(out), "--status"]) == 0
    printed = capsys.readouterr().out
    assert "4 done, 2 failed, 1 started (of 7 jobs)" in printed
    assert f"[started] runs/CartPole-v1/original/ppd-smaller-s0: newest checkpoint at step {newest:,} of 1,024" in printed
    assert not (stopped / "done.json").exists()  # it ran nothing
    fresh = tmp_path / "fresh"
    assert summary(grid_status(spec, str(fresh))) == "7 pending (of 7 jobs)" and not fresh.exists()
