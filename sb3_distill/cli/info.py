"""``sb3-distill info``: an environment's suite, the paper's teacher network for it, and a student size's parameters."""

from __future__ import annotations

import argparse

from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticCnnPolicy, ActorCriticPolicy
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first
from stable_baselines3.common.vec_env import VecEnv, VecTransposeImage

from sb3_distill import envs
from sb3_distill.experiment.configs import parse_entries
from sb3_distill.student_sizes import STUDENT_SIZES, policy_parameter_count, student_policy_kwargs, teacher_policy_kwargs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, help="environment id, e.g. HalfCheetah-v5, PongNoFrameskip-v4")
    parser.add_argument("--student", choices=STUDENT_SIZES, default=None, help="one size (default: all three)")
    parser.add_argument(
        "--student-observation", metavar="ENTRIES", help="the entries the student reads, e.g. 0,2 or 0:8 (default: all)"
    )
    parser.add_argument("--frame-stack", type=int, default=1, metavar="N", help="the student reads its last N observations")


def _policy_space(env: VecEnv) -> spaces.Space:
    space = env.observation_space
    if is_image_space(space) and not is_image_space_channels_first(space):  # type: ignore[arg-type]
        # SB3 feeds channel-first images to its CNN policies
        space = VecTransposeImage.transpose_space(space)  # type: ignore[arg-type]
    env.close()
    return space


def run(args: argparse.Namespace) -> dict:
    suite = envs.suite_of(args.env)
    entries = None if args.student_observation is None else parse_entries(args.student_observation)
    if args.frame_stack < 1:
        raise ValueError(f"--frame-stack must be positive, got {args.frame_stack}.")
    env = envs.make(args.env, 1, seed=0, normalize=False, training=False)
    action_space = env.action_space
    observation_space = _policy_space(env)
    student_space = observation_space
    if entries is not None or args.frame_stack > 1:  # the student's view: its entries, its memory, nothing privileged
        deployed = envs.make(
            args.env,
            1,
            0,
            normalize=False,
            training=False,
            student_observation=entries,
            privileged=False,
            frame_stack=args.frame_stack,
        )
        student_space = _policy_space(deployed)
    policy_class = ActorCriticCnnPolicy if suite.policy == "CnnPolicy" else ActorCriticPolicy

    def build(policy_kwargs: dict, space: spaces.Space = observation_space) -> ActorCriticPolicy:
        return policy_class(space, action_space, lambda _: 3e-4, **policy_kwargs)

    teacher = build(teacher_policy_kwargs(suite.name))
    teacher_count = policy_parameter_count(teacher)
    print(f"{args.env}: suite {suite.name}, {suite.policy}, observations {observation_space.shape}, actions {action_space}")
    if student_space is not observation_space:
        read = "all entries" if entries is None else f"entries {list(entries)}"
        print(
            f"teacher reads {observation_space.shape} (the full observation); student reads {read}, last "
            f"{args.frame_stack}: {student_space.shape}"
        )
    print(f"evaluation: {'deterministic' if suite.deterministic_eval else 'stochastic'}, {suite.eval_episodes} episodes")
    print(f"{'network':<10}{'policy params':>15}{'x teacher':>11}  architecture")
    print(f"{'teacher':<10}{teacher_count:>15,}{1.0:>11.2f}  {_describe(teacher_policy_kwargs(suite.name))}")
    counts = {"teacher": teacher_count}
    for size in [args.student] if args.student else STUDENT_SIZES:
        kwargs = student_policy_kwargs(teacher, size)
        count = policy_parameter_count(build(kwargs, student_space))
        counts[size] = count
        print(f"{size:<10}{count:>15,}{count / teacher_count:>11.2f}  {_describe(kwargs)}")
    return counts


def _describe(policy_kwargs: dict) -> str:
    if "features_extractor_class" in policy_kwargs:
        return f"{policy_kwargs['features_extractor_class'].__name__}({policy_kwargs['features_extractor_kwargs']})"
    return f"MLP {policy_kwargs['net_arch']}"
