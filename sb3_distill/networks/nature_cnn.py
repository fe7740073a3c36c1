"""The paper's smaller image student: Nature-CNN (Mnih et al., 2015) with filters {32, 32, 32} and FC 128."""

from __future__ import annotations

import torch as th
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn


class SmallNatureCNN(BaseFeaturesExtractor):
    """Convolutions 8x8 stride 4, 4x4 stride 2, 3x3 stride 1, then Linear(``features_dim``) -> ReLU.

    As the paper describes it this has ~236k policy parameters on Atari, where its Table 4 reports
    279.3k; the text does not describe the difference.

    :param observation_space: ``[C, H, W]`` images of at least 36x36
    :param features_dim: width of the fully connected layer (128 in the paper)
    :param conv_filters: channels of the three convolutions
    """

    def __init__(
        self, observation_space: spaces.Box, features_dim: int = 128, conv_filters: tuple[int, int, int] = (32, 32, 32)
    ):
        super().__init__(observation_space, features_dim)
        self.conv_filters = tuple(conv_filters)
        c0, c1, c2 = conv_filters
        self.cnn = nn.Sequential(
            nn.Conv2d(observation_space.shape[0], c0, kernel_size=8, stride=4),
            nn.ReLU(),
            nn.Conv2d(c0, c1, kernel_size=4, stride=2),
            nn.ReLU(),
            nn.Conv2d(c1, c2, kernel_size=3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        with th.no_grad():
            flat = self.cnn(th.zeros(1, *observation_space.shape)).shape[1]
        self.linear = nn.Sequential(nn.Linear(flat, features_dim), nn.ReLU())

    def forward(self, observations: th.Tensor) -> th.Tensor:
        return self.linear(self.cnn(observations))
