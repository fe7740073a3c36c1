"""RL Zoo hyperparameter files (``--hyperparams FILE``): read as the Zoo reads them, without running anything."""

from __future__ import annotations

import json
import os
import textwrap

import gymnasium as gym
import pytest
import torch as th
import yaml
from stable_baselines3 import PPO
from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
from stable_baselines3.common.utils import LinearSchedule

from sb3_distill import envs
from sb3_distill.cli.main import main
from sb3_distill.experiment import (
    ConfigError,
    DistillConfig,
    TeacherConfig,
    ZooHyperparamsError,
    apply_zoo_hyperparams,
    parse_policy_kwargs,
    read_zoo_hyperparams,
    with_zoo_hyperparams,
)

HAND_WRITTEN = """\
# a hand-written file in the Zoo's ppo.yml format
default:
  n_timesteps: 1e6
  policy: 'MlpPolicy'

atari:
  env_wrapper:
    - stable_baselines3.common.atari_wrappers.AtariWrapper:
        clip_reward: false
  frame_stack: 4
  policy: 'CnnPolicy'
  n_envs: 8
  n_timesteps: !!float 1e7
  learning_rate: lin_2.5e-4

CartPole-v1:
  n_envs: 4
  n_timesteps: !!float 2e5
  policy: 'MlpPolicy'
  n_steps: 32
  gamma: 0.98
  ent_coef: 1e-3
  learning_rate: lin_0.001
  clip_range: lin_0.2
  normalize: "{'norm_obs': True, 'norm_reward': True}"
  policy_kwargs: "dict(log_std_init=-2,
                       ortho_init=False,
                       activation_fn=nn.ReLU,
                       net_arch=dict(pi=[256, 256], vf=[256, 256])
                       )"
"""


def write(folder, text: str, name: str = "ppo.yml") -> str:
    path = os.path.join(folder, name)
    with open(path, "w") as file:
        file.write(textwrap.dedent(text))
    return path


@pytest.fixture
def hand_written(tmp_path) -> str:
    return write(tmp_path, HAND_WRITTEN)


# --- the reader -----------------------------------------------------------------------------------------------------


def test_an_entry_becomes_the_runs_settings(hand_written):
    settings = read_zoo_hyperparams(hand_written, "CartPole-v1")
    assert settings.entry == "CartPole-v1"
    assert settings.steps == 200_000 and isinstance(settings.steps, int)
    assert settings.n_envs == 4 and settings.normalize is True and settings.policy == "MlpPolicy"
    assert settings.params["ent_coef"] == 0.001  # YAML 1.1 reads 1e-3 as text; the Zoo's files mean a number
    assert settings.params["learning_rate"] == "lin_0.001"
    assert settings.params["policy_kwargs"].startswith("dict(log_std_init=-2,")
    assert set(settings.params) == {"n_steps", "gamma", "ent_coef", "learning_rate", "clip_range", "policy_kwargs"}

    config = DistillConfig(**apply_zoo_hyperparams(settings, DistillConfig, {"env": "CartPole-v1"}))
    json.dumps(config.to_dict())  # what the run folder records stays plain data
    arguments = config.algorithm_arguments()
    assert isinstance(arguments["learning_rate"], LinearSchedule) and arguments["learning_rate"](1.0) == 0.001
    assert arguments["clip_range"](1.0) == pytest.approx(0.2) and arguments["clip_range"](0.0) == 0.0
    assert arguments["policy_kwargs"] == {
        "log_std_init": -2,
        "ortho_init": False,
        "activation_fn": th.nn.ReLU,
        "net_arch": {"pi": [256, 256], "vf": [256, 256]},
    }


def test_atari_ids_fall_back_to_the_atari_entry_then_any_id_to_default(hand_written):
    atari = read_zoo_hyperparams(hand_written, "PongNoFrameskip-v4")
    # AtariWrapper without reward clipping and 4 frames is what the Atari suite applies: taken, not passed on
    assert atari.entry == "atari" and atari.steps == 10_000_000 and atari.policy == "CnnPolicy"
    assert dict(atari.params) == {"learning_rate": "lin_2.5e-4"}
    other = read_zoo_hyperparams(hand_written, "Acrobot-v1")
    # the Zoo's defaults for what the entry leaves out: one environment, no normalisation
    assert (other.entry, other.steps, other.n_envs, other.normalize, dict(other.params)) == ("default", 10**6, 1, False, {})


def test_an_env_without_entry_names_the_file_the_env_and_the_entries(tmp_path):
    path = write(tmp_path, "CartPole-v1: {n_timesteps: 1000}\nPendulum-v1: {n_timesteps: 1000}\n")
    with pytest.raises(ZooHyperparamsError) as error:
        read_zoo_hyperparams(path, "Acrobot-v1")
    message = str(error.value)
    assert path in message and "'Acrobot-v1'" in message and "['CartPole-v1', 'Pendulum-v1']" in message
    assert "\n" not in message


def test_a_key_given_twice_is_refused_with_its_line(tmp_path):
    path = write(tmp_path, "CartPole-v1:\n  n_steps: 32\n  gamma: 0.98\n  n_steps: 64\n")
    with pytest.raises(ValueError, match=r"line 4: the key 'n_steps' is given twice \(first on line 2\)"):
        read_zoo_hyperparams(path, "CartPole-v1")


def test_yaml_merge_keys_are_read_as_the_zoo_reads_them(tmp_path):
    path = write(
        tmp_path,
        """\
        CartPole-v1: &base
          n_timesteps: 1000
          gamma: 0.9
        Acrobot-v1:
          <<: *base
          gamma: 0.95
        """,
    )
    settings = read_zoo_hyperparams(path, "Acrobot-v1")
    assert settings.steps == 1000 and dict(settings.params) == {"gamma": 0.95}


def test_a_python_file_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "marker"
    path = write(tmp_path, f"open({str(marker)!r}, 'w')\nhyperparams = {{}}\n", name="hyperparams.py")
    with pytest.raises(ZooHyperparamsError, match=r"\.yml or \.yaml.*runs \.py hyperparameter files as code"):
        read_zoo_hyperparams(path, "CartPole-v1")
    assert not marker.exists()


def test_yaml_tags_that_build_objects_are_refused(tmp_path):
    marker = tmp_path / "marker"
    path = write(tmp_path, f"CartPole-v1:\n  gamma: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ZooHyperparamsError, match="not valid YAML for the safe loader"):
        read_zoo_hyperparams(path, "CartPole-v1")
    assert not marker.exists()


@pytest.mark.parametrize(
    "entry, message",
    [
        ("env_wrapper: [gymnasium.wrappers.TimeLimit]", "env_wrapper is not supported: it names Gymnasium wrappers"),
        ("vec_env_wrapper: stable_baselines3.common.vec_env.VecFrameStack", "vec_env_wrapper is not supported"),
        ("frame_stack: 4", "frame_stack is not supported"),  # not an Atari id: nothing stacks frames
        ("callback: rl_zoo3.callbacks.ParallelTrainCallback", "callback is not supported: it names callbacks"),
        ("env_kwargs: {sutton_barto_reward: true}", "env_kwargs is not supported"),
        ("policy: my_package.MyPolicy", "policy must be the name of one of PPO's policies"),
        ("n_timesteps: 1500.5", "n_timesteps must be a whole number"),
        ("n_envs: 0", "n_envs must be a whole number >= 1"),
    ],
)
def test_keys_that_name_code_or_missing_features_are_refused(tmp_path, entry, message):
    path = write(tmp_path, f"CartPole-v1:\n  {entry}\n")
    with pytest.raises(ZooHyperparamsError, match=message) as error:
        read_zoo_hyperparams(path, "CartPole-v1")
    assert f"{path} [CartPole-v1]" in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    "env_id, value, expected",
    [
        ("CartPole-v1", "true", True),
        ("CartPole-v1", "false", False),
        ("CartPole-v1", "\"{'norm_obs': True, 'norm_reward': True}\"", True),
        ("CartPole-v1", '"dict(norm_obs=False, norm_reward=False)"', False),
        ("HalfCheetah-v4", "{norm_obs: true}", True),
        ("PongNoFrameskip-v4", "\"{'norm_obs': False, 'norm_reward': True}\"", True),  # the Atari suite's own
        ("CartPole-v1", "\"{'norm_obs': True, 'norm_reward': False}\"", "norm_obs=True, norm_reward=False"),
        ("PongNoFrameskip-v4", "true", "runs on the atari suite normalise with norm_obs=False"),
        ("CartPole-v1", "\"{'norm_obs': True, 'gamma': 0.9}\"", r"normalize option\(s\) \['gamma'\] are not supported"),
        ("CartPole-v1", "\"__import__('os').system('true')\"", "a call of a function other than dict"),
        ("CartPole-v1", "yes please", r"\[CartPole-v1\]: normalize is not a Python expression"),
        ("CartPole-v1", "[true]", "normalize must be true, false"),
    ],
)
def test_normalize_as_the_zoo_writes_it(tmp_path, env_id, value, expected):
    path = write(tmp_path, f"{env_id}:\n  normalize: {value}\n")
    if isinstance(expected, bool):
        assert read_zoo_hyperparams(path, env_id).normalize is expected
    else:
        with pytest.raises(ValueError, match=expected):
            read_zoo_hyperparams(path, env_id)


def test_precedence_explicit_settings_win_and_params_merge_on_top(hand_written):
    settings = read_zoo_hyperparams(hand_written, "CartPole-v1")
    arguments = {"env": "CartPole-v1", "steps": 1000, "n_envs": 8, "params": {"gamma": 0.9, "n_epochs": 3}}
    merged = apply_zoo_hyperparams(settings, DistillConfig, arguments, given={"steps", "params"})
    assert merged["steps"] == 1000  # given explicitly
    assert merged["n_envs"] == 4  # not given: the file's
    assert merged["params"]["gamma"] == 0.9 and merged["params"]["n_epochs"] == 3 and merged["params"]["n_steps"] == 32
    # without ``given``, the arguments that are not None are the explicit ones
    teacher = TeacherConfig(
        **apply_zoo_hyperparams(settings, TeacherConfig, {"env": "CartPole-v1", "policy": None, "n_envs": 2})
    )
    assert teacher.policy == "MlpPolicy" and teacher.steps == 200_000 and teacher.normalize is True and teacher.n_envs == 2


def test_a_distillation_takes_the_students_policy_only(tmp_path):
    path = write(tmp_path, "CartPole-v1:\n  policy: CnnPolicy\n")
    settings = read_zoo_hyperparams(path, "CartPole-v1")
    with pytest.raises(ZooHyperparamsError, match=r"policy 'CnnPolicy' is not the student's.*'MlpPolicy'"):
        apply_zoo_hyperparams(settings, DistillConfig, {"env": "CartPole-v1"})
    assert TeacherConfig(**apply_zoo_hyperparams(settings, TeacherConfig, {"env": "CartPole-v1", "steps": 10})).policy == (
        "CnnPolicy"
    )


def test_the_env_is_read_from_the_teacher_when_not_given(hand_written):
    merged = with_zoo_hyperparams(hand_written, DistillConfig, {"teacher": None}, given=set())  # the bundled CartPole
    assert merged["n_envs"] == 4 and merged["params"]["n_steps"] == 32


def test_a_misspelled_argument_is_named_with_the_file(tmp_path):
    path = write(tmp_path, "CartPole-v1:\n  n_step: 32\n")
    settings = read_zoo_hyperparams(path, "CartPole-v1")
    with pytest.raises(ZooHyperparamsError, match=r"\[CartPole-v1\]: unknown argument 'n_step' .*did you mean 'n_steps'"):
        apply_zoo_hyperparams(settings, DistillConfig, {"env": "CartPole-v1"})
    with pytest.raises(ZooHyperparamsError, match=r"unknown argument 'n_step' of the teacher \(PPO\)"):
        apply_zoo_hyperparams(settings, TeacherConfig, {"env": "CartPole-v1"})


# --- the RL Zoo's own ppo.yml ---------------------------------------------------------------------------------------

#: Each entry of rl_zoo3 2.9's ppo.yml whose environment can be made here: None (read into valid configs) or
#: the start of its refusal. Entries of environments that cannot be made here (Bullet, MiniGrid, Box2D, v2
#: MuJoCo) are not read.
ZOO_OUTCOMES = {
    "Pendulum-v1": None,
    "CartPole-v1": None,
    "MountainCar-v0": None,
    "MountainCarContinuous-v0": None,
    "Acrobot-v1": None,
    "Ant-v4": None,
    "Swimmer-v4": None,
    "HalfCheetah-v4": None,
    "Hopper-v4": None,
    "Humanoid-v4": None,
    "Walker2d-v4": None,
    # the Zoo's AtariWrapper clips rewards; the suite's does not (it normalises them)
    "atari": "env_wrapper is not supported: it asks for AtariWrapper with clip_reward=True",
}


def _makeable(env_id: str) -> bool:
    try:
        envs.check_env_id(env_id)
        gym.make(env_id).close()
    except Exception:  # any reason it cannot be made here
        return False
    return True


def test_the_zoos_own_ppo_yml(tmp_path):
    rl_zoo3 = pytest.importorskip("rl_zoo3")
    path = os.path.join(os.path.dirname(rl_zoo3.__file__), "hyperparams", "ppo.yml")
    with open(path) as file:
        document = yaml.safe_load(file)
    makeable = {key for key in document if key != "default" and _makeable("PongNoFrameskip-v4" if key == "atari" else key)}
    assert makeable == set(ZOO_OUTCOMES), "classify the entries of this rl_zoo3 version in ZOO_OUTCOMES"
    for key, refusal in ZOO_OUTCOMES.items():
        env_id = "PongNoFrameskip-v4" if key == "atari" else key
        if refusal is not None:
            with pytest.raises(ZooHyperparamsError, match=refusal) as error:
                read_zoo_hyperparams(path, env_id)
            assert f"[{key}]" in str(error.value) and "\n" not in str(error.value)
            continue
        settings = read_zoo_hyperparams(path, env_id)
        entry = document[key]
        assert settings.entry == key
        assert settings.steps == int(entry["n_timesteps"]) and settings.n_envs == entry.get("n_envs", 1)
        assert settings.normalize is entry.get("normalize", False)
        expected = {
            name: value for name, value in entry.items() if name not in ("n_timesteps", "n_envs", "normalize", "policy")
        }
        assert dict(settings.params) == expected
        distill = DistillConfig(**apply_zoo_hyperparams(settings, DistillConfig, {"env": env_id}))
        teacher = TeacherConfig(**apply_zoo_hyperparams(settings, TeacherConfig, {"env": env_id}))
        for arguments in (distill.algorithm_arguments(), teacher.algorithm_arguments()):
            for name, value in expected.items():
                if isinstance(value, str) and value.startswith("lin_"):
                    assert isinstance(arguments[name], LinearSchedule)
                    assert arguments[name](1.0) == pytest.approx(float(value[4:]))
                elif name == "policy_kwargs":
                    assert arguments[name] == eval(value, {"dict": dict, "nn": th.nn})  # the Zoo's own file
                else:
                    assert arguments[name] == value
    cartpole = read_zoo_hyperparams(path, "CartPole-v1")
    assert (cartpole.steps, cartpole.n_envs) == (100_000, 8)
    assert dict(cartpole.params) == {
        "n_steps": 32,
        "batch_size": 256,
        "gae_lambda": 0.8,
        "gamma": 0.98,
        "n_epochs": 20,
        "ent_coef": 0.0,
        "learning_rate": "lin_0.001",
        "clip_range": "lin_0.2",
    }


# --- policy_kwargs text ---------------------------------------------------------------------------------------------


def test_policy_kwargs_text_gives_the_objects_it_names():
    kwargs = parse_policy_kwargs(
        "dict(log_std_init=-2.5, ortho_init=False, activation_fn=th.nn.Tanh, net_arch=dict(pi=[64, 64], vf=[32]), "
        "optimizer_class=RMSpropTFLike, optimizer_kwargs={'alpha': 0.99, 'eps': 1e-5}, features=(1, -2), other=None)"
    )
    assert kwargs == {
        "log_std_init": -2.5,
        "ortho_init": False,
        "activation_fn": th.nn.Tanh,
        "net_arch": {"pi": [64, 64], "vf": [32]},
        "optimizer_class": RMSpropTFLike,
        "optimizer_kwargs": {"alpha": 0.99, "eps": 1e-5},
        "features": (1, -2),
        "other": None,
    }
    assert parse_policy_kwargs("dict(a=nn.ReLU, b=torch.nn.GELU, c=torch.optim.Adam, d=th.optim.SGD)") == {
        "a": th.nn.ReLU,
        "b": th.nn.GELU,
        "c": th.optim.Adam,
        "d": th.optim.SGD,
    }


@pytest.mark.parametrize(
    "payload, kind",
    [
        ("__import__('os').system('touch {marker}')", "a call of a function other than dict"),
        ("().__class__.__bases__[0].__subclasses__()", "a call of a function other than dict"),
        ("dict(x=().__class__.__bases__[0])", "a subscript"),
        ("open('{marker}', 'w')", "a call of a function other than dict"),
        ("dict(activation_fn=lambda: open('{marker}', 'w'))", "a lambda"),
        ("dict(net_arch=[open('{marker}', 'w') for _ in range(1)])", "a comprehension"),
        ("dict(activation_fn=nn.ReLU())", "a call of a function other than dict"),
        ("dict(activation_fn=nn.functional.relu)", "a name off the allow-list"),
        ("dict(activation_fn=nn.init)", "not a torch.nn.Module class"),
        ("dict(optimizer_class=th.optim.lr_scheduler)", "not a torch.optim.Optimizer class"),
        ("dict(activation_fn=os.system)", "a name off the allow-list"),
        ("dict(**{'net_arch': [64]})", r"a \*\* unpacking"),
        ("dict(net_arch=[2 ** 1000])", "arithmetic"),
        ("[64, 64]", "must give a mapping of argument names"),
        ("dict(net_arch=[64", "not a Python expression"),
    ],
)
def test_policy_kwargs_payloads_are_refused_without_running(tmp_path, payload, kind):
    marker = tmp_path / "marker"
    text = payload.replace("{marker}", str(marker))
    with pytest.raises(ValueError, match=kind) as error:
        parse_policy_kwargs(text)
    assert "\n" not in str(error.value)
    assert not marker.exists()


def test_policy_kwargs_text_in_params_is_recorded_as_text_and_converted_for_the_algorithm():
    text = "dict(net_arch=[64, 64], activation_fn=nn.Tanh)"
    for config in (
        DistillConfig(params={"policy_kwargs": text}),
        TeacherConfig(env="CartPole-v1", steps=10, params={"policy_kwargs": text}),
    ):
        assert config.params["policy_kwargs"] == text
        json.dumps(config.to_dict())
        assert config.algorithm_arguments()["policy_kwargs"] == {"net_arch": [64, 64], "activation_fn": th.nn.Tanh}


@pytest.mark.parametrize("config_class", [DistillConfig, TeacherConfig])
def test_invalid_policy_kwargs_text_is_refused_when_the_config_is_built(config_class):
    extra = {"env": "CartPole-v1", "steps": 10} if config_class is TeacherConfig else {}
    with pytest.raises(
        ConfigError, match=r"^params: policy_kwargs: \"open\('x'\)\" \(a call of a function other than dict\)"
    ) as error:
        config_class(params={"policy_kwargs": "dict(net_arch=open('x'))"}, **extra)
    assert error.value.setting == "params"


# --- the command line -----------------------------------------------------------------------------------------------

SMALL = """\
CartPole-v1:
  n_envs: 2
  n_timesteps: !!float 256
  policy: 'MlpPolicy'
  n_steps: 64
  batch_size: 64
  n_epochs: 2
  gamma: 0.95
  learning_rate: lin_1e-3
  policy_kwargs: "dict(net_arch=dict(pi=[16, 16], vf=[16, 16]), activation_fn=nn.ReLU)"
"""


def test_train_teacher_with_hyperparams(tmp_path):
    path = write(tmp_path, SMALL)
    out = tmp_path / "teacher"
    argv = ["train-teacher", "--env", "CartPole-v1", "--hyperparams", path, "--out", str(out), "--no-progress"]
    assert main([*argv, "--eval-episodes", "1"]) == 0
    model = PPO.load(out / "CartPole-v1.zip", device="cpu")
    assert model.n_steps == 64 and model.n_envs == 2 and model.n_epochs == 2 and model.gamma == 0.95
    assert model.num_timesteps == 256
    assert model.policy_kwargs["activation_fn"] is th.nn.ReLU
    assert model.policy_kwargs["net_arch"] == {"pi": [16, 16], "vf": [16, 16]}
    assert model.learning_rate(1.0) == pytest.approx(1e-3)
    record = json.loads((out / "config.json").read_text())
    assert record["steps"] == 256 and record["params"]["learning_rate"] == "lin_1e-3"
    assert record["params"]["policy_kwargs"].startswith("dict(net_arch=")


def test_distill_with_hyperparams_explicit_options_win(tmp_path):
    path = write(tmp_path, SMALL.replace("!!float 256", "!!float 512"))
    out = tmp_path / "run"
    argv = ["distill", "--hyperparams", path, "--out", str(out), "--no-progress", "--eval-episodes", "1"]
    argv += ["--teacher-score", "500,0", "--steps", "256", "--param", "gamma=0.9"]  # --steps beats n_timesteps
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["steps"] == 256 and results["config"]["n_envs"] == 2
    params = results["config"]["params"]
    assert params["gamma"] == 0.9  # --param beats the file
    assert params["n_steps"] == 64 and params["learning_rate"] == "lin_1e-3" and params["policy_kwargs"].startswith("dict(")
    student = PPO.load(out / "student.zip", device="cpu")
    assert student.n_steps == 64 and student.batch_size == 64 and student.gamma == 0.9 and student.n_envs == 2
    assert student.policy_kwargs["activation_fn"] is th.nn.ReLU
    assert student.policy_kwargs["net_arch"] == {"pi": [16, 16], "vf": [16, 16]}


def test_hyperparams_with_resume_is_refused(tmp_path, capsys):
    path = write(tmp_path, SMALL)
    assert main(["distill", "--resume", str(tmp_path / "run"), "--hyperparams", path]) == 2
    assert "--hyperparams would change them" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["distill", "train-teacher"])
@pytest.mark.parametrize(
    "name, text, message",
    [
        ("no-entry.yml", "Acrobot-v1: {n_timesteps: 100}\n", "has no entry for 'CartPole-v1'"),
        ("twice.yml", "CartPole-v1:\n  gamma: 0.9\n  gamma: 0.8\n", "the key 'gamma' is given twice"),
        ("typo.yml", "CartPole-v1:\n  n_timesteps: 100\n  gama: 0.9\n", "unknown argument 'gama'"),
        ("hyperparams.py", "hyperparams = {}\n", "expected a YAML hyperparameter file"),
        ("wrapped.yml", "CartPole-v1:\n  env_wrapper: gymnasium.wrappers.TimeLimit\n", "env_wrapper is not supported"),
        ("payload.yml", "CartPole-v1:\n  policy_kwargs: \"dict(a=open('{marker}', 'w'))\"\n", "is not allowed"),
    ],
)
def test_refused_files_exit_2_with_one_line_and_leave_no_folder(tmp_path, capsys, command, name, text, message):
    marker = tmp_path / "marker"
    path = write(tmp_path, text.replace("{marker}", str(marker)), name=name)
    out = tmp_path / "out"
    argv = [command, "--env", "CartPole-v1", "--hyperparams", path, "--out", str(out), "--no-progress"]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert f"sb3-distill {command}: error: " in error and message in error and error.count("\n") == 1
    assert not out.exists() and not marker.exists()


def test_policy_kwargs_text_on_the_command_line(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["train-teacher", "--env", "CartPole-v1", "--steps", "64", "--out", str(out), "--param"]
    assert main([*argv, "policy_kwargs=dict(net_arch=[8], activation_fn=nn.Sigmoid())"]) == 2
    assert "error: --param: policy_kwargs: 'nn.Sigmoid()'" in capsys.readouterr().err and not out.exists()
    assert main(["train-teacher", "--env", "CartPole-v1", "--out", str(out)]) == 2
    assert "--steps is required" in capsys.readouterr().err and not out.exists()


def test_a_teacher_that_ppo_refuses_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["train-teacher", "--env", "CartPole-v1", "--steps", "64", "--out", str(out), "--param", "batch_size=1"]
    assert main(argv) == 2
    assert "error: --param: PPO refused its arguments" in capsys.readouterr().err and not out.exists()
