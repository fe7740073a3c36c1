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
    "sac-raw.yaml": (3, 12, "gymnasium"),
    "td3-raw.yaml": (3, 12, "gymnasium"),
    "imperfect-teachers.yaml": (30, 60, "minatar"),
    "minatar.yaml": (9, 81, "minatar"),
    "blind-halfcheetah.yaml": (3, 36, "mujoco"),
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
    root = os.path.join(os.path.dirname(__file__), "..")  # a spec's teacher file is named from the repository root
    assert all(env.distill_steps > 0 for env in spec.envs)
    assert all(env.teacher == "train" or os.path.isfile(os.path.join(root, env.teacher)) for env in spec.envs)


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("seeds: [0, 1]", "seeds: [0, 1]\nseeds: [2]", r"line 2: the key 'seeds' is given twice \(first on line 1\)"),
        (
            "    distill_steps: 50000\n",
            "    distill_steps: 50000\n  CartPole-v1:\n    teacher: train\n    teacher_steps: 10\n    distill_steps: 10\n",
            r"line 16: the key 'CartPole-v1' is given twice \(first on line 6\); YAML would keep only the last",
        ),
        (
            "    eval_episodes: 10",
            "    eval_episodes: 10\n    eval_episodes: 5",
            r"line 11: the key 'eval_episodes' is given twice",
        ),
        (
            "    params: {ppd: {learning_rate: 0.001}}",
            "    params: {ppd: {learning_rate: 0.001, learning_rate: 0.01}}",
            r"line 11: the key 'learning_rate' is given twice \(first on line 11\)",
        ),
        (
            "    params: {ppd: {learning_rate: 0.001}}",
            "    params:\n      ppd: {n_epochs: 4}\n      ppd: {n_epochs: 5}",
            r"line 13: the key 'ppd' is given twice \(first on line 12\)",
        ),
        (
            "    eval_episodes: 10",
            "    eval_episodes: 10\n    teacher_params:\n      n_steps: 64\n      n_steps: 128",
            r"line 13: the key 'n_steps' is given twice \(first on line 12\)",
        ),
    ],
)
def test_a_key_given_twice_is_refused(tmp_path, old, new, message):
    """YAML keeps the last of two equal keys without a word: the spec refuses them, naming the second."""
    assert old in GOOD
    with pytest.raises(SpecError, match=message):
        load_spec(write(tmp_path, GOOD.replace(old, new)))


def test_a_key_given_twice_in_a_sweep_is_refused(tmp_path):
    with pytest.raises(SpecError, match=r"line 18: the key 'n_epochs' is given twice \(first on line 17\)"):
        load_spec(write(tmp_path, GOOD + "sweep:\n  ppd: {n_epochs: [4],\n        n_epochs: [10]}\n"))


@pytest.mark.parametrize(
    "old, new, message",
    [
        (
            "{ppd: {learning_rate: 0.001}}",
            "{ppd: {n_epoch: 4}}",
            r"line 11: params of ppd: unknown argument 'n_epoch' of ppd \(ProximalPolicyDistillation\); "
            r"did you mean 'n_epochs'\?",
        ),
        (
            "{ppd: {learning_rate: 0.001}}",
            "{student-distill: {learning_rat: 0.001}}",
            r"line 11: params of student-distill: unknown argument 'learning_rat' .*did you mean 'learning_rate'\?",
        ),
        ("{ppd: {learning_rate: 0.001}}", "{ppd: {seed: 3}}", r"line 11: params of ppd: 'seed' is set by the grid"),
        (
            "{ppd: {learning_rate: 0.001}}",
            "{ppd: {distill_lambda: 2}}",
            r"line 11: params of ppd: 'distill_lambda' is set by the grid .*sweep 'lambda' under sweep:",
        ),
        ("{ppd: {learning_rate: 0.001}}", "{ppo: {tensorboard_log: tb}}", r"line 11: params of ppo: 'tensorboard_log' is set"),
        (
            "{ppd: {learning_rate: 0.001}}",
            "{ppd: {learning_rate: 0.001}}\n    teacher_params: {n_step: 64}",
            r"line 12: teacher_params of CartPole-v1: unknown argument 'n_step' of the teacher \(PPO\); "
            r"did you mean 'n_steps'\?",
        ),
        (
            "{ppd: {learning_rate: 0.001}}",
            "{ppd: {learning_rate: 0.001}}\n    teacher_params: {seed: 1}",
            r"line 12: teacher_params of CartPole-v1: 'seed' is set by the grid when it trains a teacher",
        ),
    ],
)
def test_algorithm_arguments_are_checked_against_the_signature(tmp_path, old, new, message):
    assert old in GOOD
    with pytest.raises(SpecError, match=message):
        load_spec(write(tmp_path, GOOD.replace(old, new)))


@pytest.mark.parametrize(
    "sweep, message",
    [
        (
            "sweep:\n  ppd:\n    lambda: [1, 2]\n    n_epoch: [4, 10]\n",
            r"line 19: the sweep of ppd: unknown argument 'n_epoch' of ppd \(ProximalPolicyDistillation\); "
            r"did you mean 'n_epochs'\?",
        ),
        (
            "sweep:\n  ppd: {distill_lambda: [1, 2]}\n",
            r"line 17: the sweep of ppd: 'distill_lambda' is set by the grid .*sweep 'lambda' under sweep:",
        ),
        ("sweep:\n  ppd: {policy: [MlpPolicy]}\n", r"line 17: the sweep of ppd: 'policy' is set by the grid"),
    ],
)
def test_swept_argument_names_are_checked_against_the_signature(tmp_path, sweep, message):
    with pytest.raises(SpecError, match=message):
        load_spec(write(tmp_path, GOOD + sweep))


def test_known_arguments_pass(tmp_path):
    params = (
        "    params: {ppd: {learning_rate: 0.001}, ppo: {target_kl: 0.02}}\n"
        "    teacher_params: {n_steps: 64, policy_kwargs: {net_arch: [32]}}"
    )
    sweep = "sweep:\n  ppd: {lambda: [1], preset: [null], n_epochs: [4]}\n"
    spec = load_spec(write(tmp_path, GOOD.replace("    params: {ppd: {learning_rate: 0.001}}", params) + sweep))
    assert spec.envs[0].params["ppo"] == {"target_kl": 0.02} and spec.envs[0].teacher_params["n_steps"] == 64
    assert spec.settings("ppd") == ((("lambda", 1), ("n_epochs", 4), ("preset", None)),)


def test_the_ppo_baseline_of_a_grid_of_corrupted_teachers_compares_with_the_original(tmp_path):
    """It learns without a teacher; its records' teacher score must be the original's, not the corrupted copy's."""
    spec = load_spec(
        write(
            tmp_path,
            "seeds: [0]\nmethods: [ppd, ppo]\nstudents: [larger]\nteachers: ['corrupted:0.5x']\n"
            "envs:\n  CartPole-v1: {teacher_steps: 1000, distill_steps: 1000}\n",
        )
    )
    jobs = plan(spec, str(tmp_path / "out"))
    ppo = next(job for job in jobs.runs if job.method == "ppo")
    ppd = next(job for job in jobs.runs if job.method == "ppd")
    assert ppo.teacher_folder.endswith("s0-original") and ppo.variant.name == "original"
    assert ppd.teacher_folder.endswith("s0-corrupted0.5x")
    assert ppo.key == os.path.join("runs", "CartPole-v1", "no-teacher", "ppo-larger-s0")
    assert [job.variant.name for job in jobs.teachers] == ["original", "corrupted0.5x"]  # the original is made first


def test_a_teacher_frame_stack_needs_a_given_original_teacher(tmp_path):
    given = GOOD.replace(
        "    teacher: train\n    teacher_steps: 60000\n", f"    teacher: {tmp_path}\n    teacher_frame_stack: 4\n"
    )
    with pytest.raises(SpecError, match=r"line 8: teacher_frame_stack with corrupted teachers \(corrupted0.05\)"):
        load_spec(write(tmp_path, given))
    spec = load_spec(write(tmp_path, given.replace("teachers: [original, corrupted:0.05]", "teachers: [original]")))
    assert (spec.envs[0].teacher_frame_stack, spec.envs[1].teacher_frame_stack) == (4, None)
    trained = GOOD.replace("    teacher_steps: 60000\n", "    teacher_steps: 60000\n    teacher_frame_stack: 4\n")
    with pytest.raises(SpecError, match=r"line 9: teacher_frame_stack describes a given teacher .* \('teacher: train'\)"):
        load_spec(write(tmp_path, trained))
    with pytest.raises(SpecError, match=r"line 8: teacher_frame_stack must be an integer >= 1, got 0"):
        load_spec(write(tmp_path, given.replace("teacher_frame_stack: 4", "teacher_frame_stack: 0")))
