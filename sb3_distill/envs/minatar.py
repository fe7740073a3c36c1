"""MinAtar (Young & Tian, 2019): 10x10 Atari stand-ins that train on a CPU (their network: ``networks.MinAtarCNN``)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class ChannelsFirst(gym.ObservationWrapper):
    """MinAtar's boolean ``[10, 10, C]`` grids as float32 ``[C, 10, 10]``, the layout of torch convolutions."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        shape = env.observation_space.shape
        if shape is None or len(shape) != 3:
            raise ValueError(f"ChannelsFirst needs [height, width, channels] observations, got shape {shape}.")
        height, width, channels = shape
        self.observation_space = spaces.Box(0.0, 1.0, shape=(channels, height, width), dtype=np.float32)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.transpose(observation, (2, 0, 1)).astype(np.float32)


def register() -> None:
    """Register ``MinAtar/<Game>-v0`` and ``-v1`` with Gymnasium (minatar does not do it on import)."""
    try:
        import minatar.gym
    except ImportError as error:
        raise ImportError("MinAtar environments need minatar: pip install 'sb3-distill[minatar]'.") from error
    if "MinAtar/Breakout-v1" not in gym.registry:
        minatar.gym.register_envs()
