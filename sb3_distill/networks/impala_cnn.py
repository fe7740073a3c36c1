"""IMPALA-CNN (Espeholt et al., 2018) as the paper's reference code builds it: teachers {16, 32, 32} + 256."""

from __future__ import annotations

import torch as th
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn


class _ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv0 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)

    def forward(self, x: th.Tensor) -> th.Tensor:
        return x + self.conv1(th.relu(self.conv0(th.relu(x))))


class _ConvSequence(nn.Module):
    """conv3x3 -> maxpool(3, stride 2) -> two residual blocks."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.res0 = _ResidualBlock(out_channels)
        self.res1 = _ResidualBlock(out_channels)

    def forward(self, x: th.Tensor) -> th.Tensor:
        return self.res1(self.res0(self.pool(self.conv(x))))


class ImpalaCNN(BaseFeaturesExtractor):
    """Three conv sequences, then ReLU -> Linear(``features_dim``) -> ReLU.

    Takes channel-first images (SB3 transposes channel-last ones for ``CnnPolicy``); uint8 images are
    scaled to [0, 1] by SB3's preprocessing before they reach this module.

    :param observation_space: ``[C, H, W]`` images
    :param features_dim: width of the fully connected layer (256 teacher, 1024 larger student)
    :param conv_filters: channels of the three sequences ({16, 32, 32} teacher, {32, 64, 64} larger)
    """

    def __init__(self, observation_space: spaces.Box, features_dim: int = 256, conv_filters: tuple[int, ...] = (16, 32, 32)):
        super().__init__(observation_space, features_dim)
        self.conv_filters = tuple(conv_filters)
        channels = observation_space.shape[0]
        sequences = []
        for filters in conv_filters:
            sequences.append(_ConvSequence(channels, filters))
            channels = filters
        self.cnn = nn.Sequential(*sequences, nn.Flatten(), nn.ReLU())
        with th.no_grad():
            flat = self.cnn(th.zeros(1, *observation_space.shape)).shape[1]
        self.linear = nn.Sequential(nn.Linear(flat, features_dim), nn.ReLU())

    def forward(self, observations: th.Tensor) -> th.Tensor:
        return self.linear(self.cnn(observations))
