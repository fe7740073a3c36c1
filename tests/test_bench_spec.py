"""Benchmark specs: every error names its line before anything runs; the plan's runs and folders."""

from __future__ import annotations

import os
import textwrap

import pytest

from sb3_distill.bench import SpecError, load_spec, plan

GOOD = """\
seeds: [0, 1]
methods: [ppd, student-distill, teacher-distill, ppo]
students: [smaller, larger]
teachers: [original, corrupted:0.05]
envs:
  CartPole-v1:
    teacher: train
    teacher_steps: 60000
    distill_steps: 30000
    eval_episodes: 10
    params: {ppd: {learning_rate: 0.001}}
  Pendulum-v1:
    teacher: train
    teacher_steps: 100000
    distill_steps: 50000
"""


def write(tmp_path, text: str) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_plan_has_every_run_once_with_its_own_folder(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    jobs = plan(spec, str(tmp_path / "out"))
    # teachers: 2 envs x 2 seeds x (original + corrupted)
    assert len(jobs.teachers) == 8
    assert [job.variant.sigma for job in jobs.teachers][:4] == [0.0] * 4  # originals before their copies
    # distillation: 2 envs x 2 seeds x 2 sizes x (3 methods x 2 variants + ppo once)
    assert len(jobs.runs) == 2 * 2 * 2 * (3 * 2 + 1)
    assert len({job.folder for job in jobs.runs}) == len(jobs.runs)
    cartpole_ppd = [job for job in jobs.runs if job.env.env_id == "CartPole-v1" and job.method == "ppd"]
    assert all(job.params() == {"learning_rate": 0.001} for job in cartpole_ppd)
    assert spec.envs[0].eval_episodes == 10 and spec.envs[1].eval_episodes == 50  # the suite's default
    corrupted = [job for job in jobs.teachers if job.variant.sigma == 0.05]
    assert all(job.original_folder.endswith("-original") for job in corrupted)


@pytest.mark.parametrize(
    "old, new, message",
    [
        (
            "methods: [ppd, student-distill, teacher-distill, ppo]",
            "methods: [ppd, distil]",
            r"line 2: unknown method 'distil'",
        ),
        ("students: [smaller, larger]", "students: [tiny]", r"line 3: unknown student 'tiny'"),
        ("teachers: [original, corrupted:0.05]", "teachers: [corrupted:-1]", r"line 4: a teacher variant"),
        ("  Pendulum-v1:", "  NoSuchEnv-v0:", r"line 12: unknown environment 'NoSuchEnv-v0'"),
        ("    distill_steps: 50000", "    distill_steps: -5", r"line 15: distill_steps must be an integer >= 1, got -5"),
        (
            "    teacher: train\n    teacher_steps: 100000",
            "    teacher: /no/such/teacher.zip",
            r"line 13: the teacher '/no/such/teacher.zip' of Pendulum-v1 does not exist",
        ),
        ("    eval_episodes: 10", "    eval_episode: 10", r"line 10: unknown setting 'eval_episode'"),
        ("seeds: [0, 1]", "seeds: [0, 0]", r"line 1: seeds repeat a value"),
        (
            "    params: {ppd: {learning_rate: 0.001}}",
            "    params: {ppdd: {learning_rate: 0.001}}",
            r"line 11: params for unknown method 'ppdd'",
        ),
    ],
)
def test_spec_errors_name_the_line(tmp_path, old, new, message):
    assert old in GOOD
    with pytest.raises(SpecError, match=message):
        load_spec(write(tmp_path, GOOD.replace(old, new)))


def test_missing_budgets_and_files(tmp_path):
    with pytest.raises(SpecError, match=r"line 6: CartPole-v1 gives no distill_steps"):
        load_spec(write(tmp_path, GOOD.replace("    distill_steps: 30000\n", "")))
    with pytest.raises(SpecError, match=r"line 6: CartPole-v1 trains its teacher .* no teacher_steps"):
        load_spec(write(tmp_path, GOOD.replace("    teacher_steps: 60000\n", "")))
    with pytest.raises(SpecError, match="Cannot read the spec"):
        load_spec(str(tmp_path / "missing.yaml"))
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(write(tmp_path, "envs: [unclosed"))
    with pytest.raises(SpecError, match="names no environments"):
        load_spec(write(tmp_path, "seeds: [0]\n"))


SWEEP = "sweep:\n  ppd: {lambda: [0.5, 'lin:3:0.5:1e5'], n_epochs: [4, 10]}\n  ppo: {n_epochs: [2]}\n"


def test_a_sweep_runs_every_combination_of_its_values(tmp_path):
    spec = load_spec(write(tmp_path, GOOD + SWEEP))
    jobs = plan(spec, str(tmp_path / "out"))
    assert len(spec.settings("ppd")) == 4 and spec.settings("student-distill") == ((),)
    # 2 envs x 2 seeds x 2 sizes x (ppd: 4 settings x 2 variants + td, sd: 2 variants + ppo once)
    assert len(jobs.runs) == 2 * 2 * 2 * (4 * 2 + 2 * 2 + 1)
    assert len({job.folder for job in jobs.runs}) == len(jobs.runs)
    job = next(
        job
        for job in jobs.runs
        if job.setting == (("lambda", "lin:3:0.5:1e5"), ("n_epochs", 10))
        and job.env.env_id == "CartPole-v1"
        and job.student == "larger"
        and job.seed == 1
    )
    assert job.label == "ppd lambda=lin:3:0.5:1e5 n_epochs=10"
    assert job.key.endswith("original/ppd-lambda=lin:3:0.5:1e5-n_epochs=10-larger-s1")
    assert job.distill_lambda == "lin:3:0.5:1e5"
    assert job.params() == {"learning_rate": 0.001, "n_epochs": 10}  # the spec's params, the setting on top
    assert {job.label for job in jobs.runs if job.method == "ppo"} == {"ppo n_epochs=2"}


def test_a_preset_sweep_passes_preset_not_an_algorithm_argument(tmp_path):
    spec = load_spec(write(tmp_path, GOOD + "sweep:\n  student-distill: {preset: [null, paper]}\n"))
    runs = [job for job in plan(spec, str(tmp_path / "out")).runs if job.method == "student-distill"]
    assert {job.preset for job in runs} == {None, "paper"}
    assert {job.label for job in runs} == {"student-distill preset=None", "student-distill preset=paper"}
    assert all("preset" not in job.params() for job in runs)


@pytest.mark.parametrize(
    "sweep, message",
    [
        ("sweep:\n  dqn: {n_epochs: [4]}\n", r"line 17: sweep of 'dqn', which is not among the spec's methods"),
        ("sweep:\n  ppo: {lambda: [1]}\n", r"line 17: the ppo baseline has λ = 0 by definition"),
        ("sweep:\n  ppd:\n    lambda: [1, -2]\n", r"line 18: λ must be a finite number >= 0"),
        ("sweep:\n  ppd:\n    preset: [fast]\n", r"line 18: unknown preset 'fast'; expected one of \['paper'\], or null"),
        ("sweep:\n  ppd: {n_epochs: [4, 4]}\n", r"line 17: the sweep of ppd repeats a value of n_epochs"),
        ("sweep:\n  ppd: {n_epochs: []}\n", r"line 17: the sweep of ppd gives no values for n_epochs"),
    ],
)
def test_sweep_errors_name_the_line(tmp_path, sweep, message):
    with pytest.raises(SpecError, match=message):
        load_spec(write(tmp_path, GOOD + sweep))


SHIPPED = {  # spec: (teacher jobs, distillation runs, the extra its environments need)
    "small-cpu.yaml": (4, 32, "minatar"),
    "mujoco.yaml": (6, 72, "mujoco"),
    "atari.yaml": (55, 660, "ale_py"),
    "atari-reduced.yaml": (12, 96, "ale_py"),
    "procgen.yaml": (20, 240, "envpool"),
    "ppd-early-mujoco.yaml": (6, 54, "mujoco"),
    "ppd-no-regression.yaml": (18, 72, "minatar"),
}


def test_every_shipped_spec_is_checked():
    folder = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "specs")
    assert sorted(name for name in os.listdir(folder) if name.endswith(".yaml")) == sorted(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_specs_are_valid(name, tmp_path):
    teachers, runs, extra = SHIPPED[name]
    pytest.importorskip(extra)
    spec = load_spec(os.path.join(os.path.dirname(__file__), "..", "benchmarks", "specs", name))
    jobs = plan(spec, str(tmp_path))
    assert (len(jobs.teachers), len(jobs.runs)) == (teachers, runs)
    assert all(env.distill_steps > 0 and env.teacher == "train" for env in spec.envs)
