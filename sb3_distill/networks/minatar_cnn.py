"""The MinAtar paper's network (Young & Tian, 2019), for its 10x10 grids."""

from __future__ import annotations

import torch as th
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor


class MinAtarCNN(BaseFeaturesExtractor):
    """The MinAtar paper's network: one 3x3 convolution (``filters``) and a fully connected layer.

    :param observation_space: ``[C, 10, 10]``
    :param features_dim: width of the fully connected layer (128 in the MinAtar paper)
    :param filters: convolution channels (16 in the MinAtar paper)
    """

    def __init__(self, observation_space: spaces.Box, features_dim: int = 128, filters: int = 16):
        super().__init__(observation_space, features_dim)
        self.filters = filters
        channels, height, width = observation_space.shape
        self.cnn = th.nn.Sequential(th.nn.Conv2d(channels, filters, kernel_size=3, stride=1), th.nn.ReLU(), th.nn.Flatten())
        self.linear = th.nn.Sequential(th.nn.Linear(filters * (height - 2) * (width - 2), features_dim), th.nn.ReLU())

    def forward(self, observations: th.Tensor) -> th.Tensor:
        return self.linear(self.cnn(observations))
