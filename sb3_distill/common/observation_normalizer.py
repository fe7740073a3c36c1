"""Frozen observation statistics that travel with a teacher.

A teacher trained behind ``VecNormalize`` only makes sense on observations normalised with the
statistics it was trained with. This class holds a frozen copy of those statistics, independent of
any environment and of the student's own normalisation.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import VecNormalize

Obs = np.ndarray | dict[str, np.ndarray]


def observation_count(obs: Obs) -> int:
    """How many observations a batch holds (a ``Dict`` batch: its entries' common length)."""
    return len(next(iter(obs.values()))) if isinstance(obs, dict) else len(obs)


def select_observations(obs: Obs, index: slice | np.ndarray) -> Obs:
    """The observations ``index`` picks out of a batch (of every entry of a ``Dict`` batch)."""
    return {key: value[index] for key, value in obs.items()} if isinstance(obs, dict) else obs[index]


def map_observations(obs: Obs, function: Callable[[np.ndarray], np.ndarray]) -> Obs:
    """``function`` applied to a batch, or to each entry of a ``Dict`` batch."""
    return {key: function(value) for key, value in obs.items()} if isinstance(obs, dict) else function(obs)


class ObservationNormalizer:
    """``clip((obs - mean) / sqrt(var + epsilon), -clip_obs, clip_obs)`` with frozen statistics.

    :param obs_rms: running statistics of the observation, one per normalised key of a Dict observation,
        or ``None`` for a teacher that sees raw observations
    :param clip_obs: clipping bound applied after normalisation
    :param epsilon: added to the variance, as in ``VecNormalize``
    """

    def __init__(self, obs_rms: RunningMeanStd | dict[str, RunningMeanStd] | None, clip_obs: float, epsilon: float):
        self.clip_obs = float(clip_obs)
        self.epsilon = float(epsilon)
        self.stats: dict[str, tuple[np.ndarray, np.ndarray]] | tuple[np.ndarray, np.ndarray] | None
        if obs_rms is None:
            self.stats = None
        elif isinstance(obs_rms, dict):
            self.stats = {key: self._frozen(rms) for key, rms in obs_rms.items()}
        else:
            self.stats = self._frozen(obs_rms)

    @staticmethod
    def _frozen(rms: RunningMeanStd) -> tuple[np.ndarray, np.ndarray]:
        return np.array(rms.mean, dtype=np.float64), np.array(rms.var, dtype=np.float64)

    @classmethod
    def identity(cls) -> ObservationNormalizer:
        """For a teacher trained on raw observations: it sees them unchanged, whatever the student's normalisation."""
        return cls(None, clip_obs=np.inf, epsilon=0.0)

    @property
    def is_identity(self) -> bool:
        return self.stats is None

    @classmethod
    def from_vec_normalize(cls, vec_normalize: VecNormalize) -> ObservationNormalizer:
        """A frozen copy of ``vec_normalize``'s observation statistics (the identity if it does not normalise observations)."""
        if not vec_normalize.norm_obs:
            return cls.identity()
        return cls(vec_normalize.obs_rms, vec_normalize.clip_obs, vec_normalize.epsilon)

    @classmethod
    def load(cls, path: str | os.PathLike, trust_pickle: bool = False) -> ObservationNormalizer:
        """Read the statistics of a ``VecNormalize`` saved with ``VecNormalize.save`` (a .pkl file).

        :param path: the .pkl file
        :param trust_pickle: unpickle without the allow-list of safe types (only for files you trust)
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Teacher normalisation file not found: {path!r}. Expected a VecNormalize .pkl.")
        vec_normalize = read_vec_normalize(path, trust_pickle)
        return cls.from_vec_normalize(vec_normalize)

    def _normalize(self, obs: np.ndarray, stats: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        mean, var = stats
        return np.clip((obs - mean) / np.sqrt(var + self.epsilon), -self.clip_obs, self.clip_obs).astype(np.float32)

    def __call__(self, obs: Obs) -> Obs:
        if self.stats is None:
            return obs
        if isinstance(self.stats, dict):
            assert isinstance(obs, dict), "This normaliser was built for Dict observations"
            return {key: self._normalize(value, self.stats[key]) if key in self.stats else value for key, value in obs.items()}
        assert not isinstance(obs, dict), "This normaliser was built for array observations"
        return self._normalize(obs, self.stats)


def read_vec_normalize(path: str, trust_pickle: bool = False) -> VecNormalize:
    """A ``VecNormalize`` saved with ``VecNormalize.save``, read through the allow-list (no environment attached).

    :param path: the .pkl file
    :param trust_pickle: unpickle without the allow-list of safe types (only for files you trust)
    :raises UnsafePickleError: the file holds something outside the allow-list
    :raises ValueError: the file is not a pickled ``VecNormalize``
    """
    from sb3_distill.common.safe_loading import UnsafePickleError, loads

    with open(path, "rb") as file:
        payload = file.read()
    try:
        vec_normalize = loads(payload, path, "VecNormalize", trust_pickle)
    except UnsafePickleError:
        raise
    except Exception as error:
        raise ValueError(f"Could not read {path!r} as a VecNormalize .pkl: {error}") from error
    if not isinstance(vec_normalize, VecNormalize):
        raise ValueError(f"{path!r} holds a {type(vec_normalize).__name__}, expected a pickled VecNormalize.")
    return vec_normalize
