"""Calibrated imperfect teachers: σ searched so that the copy keeps a target fraction of the teacher's score."""

from __future__ import annotations

import json
import math
import os
import tempfile
import textwrap

import pytest
import torch as th

from sb3_distill import load_teacher
from sb3_distill.bench import SpecError, load_spec, plan
from sb3_distill.bench.backends import _phases
from sb3_distill.bench.runner import read_done, run_job
from sb3_distill.cli.main import main
from sb3_distill.corruption import search_sigma
from sb3_distill.evaluation import evaluation_env, score
from sb3_distill.experiment import ConfigError, CorruptionConfig, corrupt
from sb3_distill.teachers import bundled_teacher_path

PENDULUM = os.path.join(os.path.dirname(__file__), "teachers", "sac-Pendulum-v1.zip")


def parameters(path: str) -> th.Tensor:
    return th.cat([p.detach().flatten() for p in load_teacher(path).policy.parameters()])


@pytest.fixture(scope="module")
def cartpole_half(tmp_path_factory):
    """The bundled CartPole teacher (500) corrupted to keep half of its score, on 5 evaluation episodes."""
    config = CorruptionConfig(teacher=bundled_teacher_path(), target_fraction=0.5, tolerance=0.1, eval_episodes=5)
    out = str(tmp_path_factory.mktemp("half") / "CartPole-v1.zip")
    return config, corrupt(config, out, verbose=0)


def test_search_brackets_then_bisects_in_log_sigma():
    def fraction(sigma: float) -> float:  # decreasing in σ, 0.5 at σ = 0.3
        return 1 / (1 + (sigma / 0.3) ** 4)

    search = search_sigma(fraction, 0.5, 0.01, 20)
    assert search.sigma is not None and abs(search.fraction - 0.5) <= 0.01
    sigmas = [sigma for sigma, _ in search.trace]
    assert sigmas[:3] == [0.05, 0.2, 0.8]  # geometric from the paper's σ until bracketed
    assert math.isclose(sigmas[3], math.sqrt(0.2 * 0.8))  # then the geometric mean of the bracket
    assert search.closest == (search.sigma, search.fraction)
    flat = search_sigma(lambda sigma: 1.0, 0.5, 0.05, 5)  # a teacher whose score does not move
    assert flat.sigma is None and len(flat.trace) == 5 and flat.closest[1] == 1.0 and flat.jump is None
    step = search_sigma(lambda sigma: 1.0 if sigma < 0.3 else 0.0, 0.5, 0.05, 100)  # jumps over the band
    assert step.sigma is None and step.jump is not None and step.jump[0] < 0.3 <= step.jump[1] < 1.001 * step.jump[0]
    assert len(step.trace) < 20


def test_target_fraction_is_reached_and_recorded(cartpole_half):
    config, result = cartpole_half
    record = result.record
    assert record["target_fraction"] == 0.5 and record["tolerance"] == 0.1
    assert record["original_mean_return"] == 500.0 and record["random_score_source"] == "measured"
    random = record["random_mean_return"]
    assert 5 < random < 60  # a random CartPole policy lasts a few dozen steps
    fraction = (record["corrupted_mean_return"] - random) / (500.0 - random)
    assert math.isclose(fraction, record["fraction"]) and abs(fraction - 0.5) <= 0.1
    assert record["sigma"] > 0.05, "sigma 0.05 hardly changes the MLP teacher: the search must go further"
    steps = record["search"]
    assert steps[-1]["sigma"] == record["sigma"] and steps[-1]["fraction"] == record["fraction"]
    assert all(abs(step["fraction"] - 0.5) > 0.1 for step in steps[:-1])
    with open(os.path.join(os.path.dirname(result.path), "config.json")) as file:
        assert json.load(file) == record
    # the written zip, loaded and scored independently on the same episodes, scores what was recorded
    env = evaluation_env("CartPole-v1", config.seed)
    assert score(load_teacher(result.path, env=env), env, config.eval_episodes).mean == record["corrupted_mean_return"]
    noise = parameters(result.path) - parameters(bundled_teacher_path())
    assert abs(noise.std().item() - record["sigma"]) < 0.05 * record["sigma"]


def test_same_seed_same_sigma_and_tensors_other_seed_differs(tmp_path):
    def run(seed: int, name: str) -> tuple[dict, th.Tensor]:
        config = CorruptionConfig(
            teacher=PENDULUM, env="Pendulum-v1", target_fraction=0.5, tolerance=0.1, eval_episodes=5, seed=seed
        )
        result = corrupt(config, str(tmp_path / name / "teacher.zip"), verbose=0)
        return result.record, parameters(result.path)

    first, first_tensors = run(0, "a")
    again, again_tensors = run(0, "b")
    other, other_tensors = run(1, "c")
    assert first["sigma"] == again["sigma"] and th.equal(first_tensors, again_tensors)
    assert first == again and (tmp_path / "a" / "config.json").read_text() == (tmp_path / "b" / "config.json").read_text()
    assert first["random_mean_return"] < first["original_mean_return"] < 0  # negative returns: still a fraction
    assert other["sigma"] != first["sigma"] or not th.equal(other_tensors, first_tensors)


def test_unreachable_target_is_a_clear_error_and_writes_nothing(tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "out" / "teacher.zip"
    config = CorruptionConfig(
        teacher=PENDULUM, env="Pendulum-v1", target_fraction=0.2, tolerance=0.05, eval_episodes=3, max_evaluations=1
    )
    with pytest.raises(ConfigError, match=r"^target_fraction 0.2 was not reached within 1 evaluations") as error:
        corrupt(config, str(out), verbose=0)
    message = str(error.value)
    closest = float(message.split("closest fraction kept was ")[1].split(",")[0])
    assert abs(closest - 0.2) > 0.05 and "at sigma 0.05." in message and "\n" not in message
    assert not (tmp_path / "out").exists() and not os.listdir(scratch)


@pytest.mark.parametrize("target", [0, 0.0, 1, 1.5, -0.5, float("nan"), float("inf"), True])
def test_targets_outside_zero_one_are_refused(target):
    with pytest.raises(ConfigError, match=r"^target_fraction must be a number strictly between 0 and 1") as error:
        CorruptionConfig(teacher=PENDULUM, target_fraction=target)
    assert error.value.setting == "target_fraction"


def test_sigma_and_target_exclude_each_other():
    with pytest.raises(ConfigError, match=r"^sigma and target_fraction exclude each other"):
        CorruptionConfig(teacher=PENDULUM, sigma=0.05, target_fraction=0.5)
    assert CorruptionConfig(teacher=PENDULUM).sigma == 0.05  # fixed σ stays the default
    assert CorruptionConfig(teacher=PENDULUM, target_fraction=0.5).sigma is None
    for setting, value in (("tolerance", 0), ("tolerance", 1), ("max_evaluations", 0)):
        with pytest.raises(ConfigError, match=rf"^{setting} must be"):
            CorruptionConfig(teacher=PENDULUM, target_fraction=0.5, **{setting: value})


def test_cli_target_fraction_writes_the_sigma_found(tmp_path, capsys):
    out = tmp_path / "corrupted" / "teacher.zip"
    arguments = ["corrupt", "--teacher", PENDULUM, "--env", "Pendulum-v1", "--out", str(out), "--eval-episodes", "3"]
    assert main([*arguments, "--target-fraction", "0.5", "--tolerance", "0.1"]) == 0
    config = json.loads((out.parent / "config.json").read_text())
    assert config["target_fraction"] == 0.5 and config["sigma"] > 0 and config["command"].endswith("--tolerance 0.1")
    assert abs(config["fraction"] - 0.5) <= 0.1 and len(config["search"]) >= 1
    assert "fraction kept" in capsys.readouterr().out
    assert main([*arguments, "--target-fraction", "0.5", "--sigma", "0.05"]) == 2
    assert "error: --sigma and target_fraction exclude each other" in capsys.readouterr().err
    assert main([*arguments, "--target-fraction", "1.5"]) == 2
    assert "error: --target-fraction must be a number strictly between 0 and 1" in capsys.readouterr().err


SPEC = """\
seeds: [0]
methods: [ppd]
students: [smaller]
teachers: [{variants}]
envs:
  Pendulum-v1:
    teacher: {teacher}
    teacher_steps: 1000
    distill_steps: 1000
    eval_episodes: 5
"""


def write_spec(tmp_path, variants: str) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(SPEC.format(variants=variants, teacher=PENDULUM)))
    return str(path)


@pytest.mark.parametrize(
    "variant", ["corrupted:1.5x", "corrupted:x", "corrupted:0x", "corrupted:1x", "corrupted:nanx", "corrupted:inf"]
)
def test_spec_refuses_bad_calibrated_variants(tmp_path, variant):
    with pytest.raises(SpecError, match=r"line 4: a teacher variant is 'original', 'corrupted:SIGMA'"):
        load_spec(write_spec(tmp_path, f"original, {variant}"))


def test_spec_plans_calibrated_variants_in_the_corrupted_phase(tmp_path):
    spec = load_spec(write_spec(tmp_path, "original, corrupted:0.5, corrupted:0.5x"))
    assert [variant.name for variant in spec.teachers] == ["original", "corrupted0.5", "corrupted0.5x"]
    calibrated = spec.teachers[2]
    assert calibrated.target_fraction == 0.5 and calibrated.sigma > 0
    jobs = plan(spec, str(tmp_path / "out"))
    assert len({job.folder for job in jobs.teachers}) == 3 and len({job.folder for job in jobs.runs}) == 3
    originals, corrupted, _ = _phases(jobs)
    assert [job.variant.name for job in originals] == ["original"]
    assert [job.variant.name for job in corrupted] == ["corrupted0.5", "corrupted0.5x"]


def test_grid_teacher_job_runs_the_calibrated_corruption(tmp_path):
    jobs = plan(load_spec(write_spec(tmp_path, "corrupted:0.5x")), str(tmp_path / "out"))
    for phase in _phases(jobs)[:2]:
        for job in phase:
            assert run_job(job)["status"] == "done"
    job = jobs.teachers[-1]
    done = read_done(job.folder)
    assert done is not None and done["target_fraction"] == 0.5 and abs(done["fraction"] - 0.5) <= 0.05
    with open(os.path.join(job.folder, "config.json")) as file:
        record = json.load(file)
    assert record["sigma"] == done["sigma"] > 0 and done["teacher"].endswith(".zip")
    assert record["corrupted_from"] == PENDULUM and record["search"][-1]["sigma"] == done["sigma"]
