"""Reading SB3 model zips and VecNormalize files from strangers without running code hidden in them.

An SB3 zip stores some attributes as base64 cloudpickle, and ``VecNormalize.save`` writes a pickle;
unpickling either can execute arbitrary code. Here only the entries a teacher needs are unpickled
(spaces, the policy class and its keyword arguments), through an unpickler that resolves nothing but
an allow-list of known-safe types; tensors are read with ``torch.load(weights_only=True)``. Anything
outside the allow-list is refused, naming the object and the opt-in ``trust_pickle=True``.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zipfile
from typing import Any

import cloudpickle
import numpy as np
import torch as th
from gymnasium import spaces

#: Functions that pickles of numpy arrays, numpy random generators and plain objects refer to.
ALLOWED_FUNCTIONS = {
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
    ("copyreg", "_reconstructor"),
    ("builtins", "object"),
    ("collections", "OrderedDict"),
}

#: Modules whose classes may be resolved, if they derive from one of ``ALLOWED_BASES``.
ALLOWED_MODULES = (
    "gymnasium.spaces",
    "numpy",
    "torch.nn.modules",
    "torch.optim",
    "stable_baselines3",
    "sb3_contrib",
    "sb3_distill",
)


def _allowed_bases() -> tuple[type, ...]:
    from stable_baselines3.common.policies import BasePolicy
    from stable_baselines3.common.running_mean_std import RunningMeanStd
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    from stable_baselines3.common.vec_env import VecNormalize

    return (
        spaces.Space,
        th.nn.Module,  # activations, feature extractors, policies
        th.optim.Optimizer,
        BasePolicy,
        BaseFeaturesExtractor,
        RunningMeanStd,
        VecNormalize,
        np.random.BitGenerator,
        np.random.SeedSequence,
        np.random.Generator,
        np.generic,
    )


class UnsafePickleError(ValueError):
    """A file asked to unpickle something outside the allow-list."""


class AllowListUnpickler(pickle.Unpickler):
    """An unpickler that resolves only allow-listed functions and classes of known-safe types.

    :param file: the pickle stream
    :param source: the file it comes from, for messages
    :param entry: which entry of the file, for messages
    """

    def __init__(self, file: io.BytesIO, source: str, entry: str):
        super().__init__(file)
        self.source = source
        self.entry = entry

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED_FUNCTIONS:
            return super().find_class(module, name)
        if any(module == allowed or module.startswith(allowed + ".") for allowed in ALLOWED_MODULES):
            found = super().find_class(module, name)
            if isinstance(found, type) and issubclass(found, _allowed_bases()):
                return found
        raise UnsafePickleError(
            f"Refusing to unpickle {module}.{name} from {self.source} (entry {self.entry!r}): it is not a type a "
            "teacher file may contain, and unpickling it could run code. If you trust this file, load it with "
            "trust_pickle=True (command line: --trust-pickle)."
        )


def loads(payload: bytes, source: str, entry: str, trust_pickle: bool = False) -> Any:
    """Unpickle ``payload``: through the allow-list, or with cloudpickle when ``trust_pickle``."""
    if trust_pickle:
        return cloudpickle.loads(payload)
    try:
        return AllowListUnpickler(io.BytesIO(payload), source, entry).load()
    except UnsafePickleError:
        raise
    except Exception as error:
        raise ValueError(f"Could not read entry {entry!r} of {source}: {type(error).__name__}: {error}") from error


#: The attributes of a model zip that rebuilding its policy needs.
POLICY_ENTRIES = ("policy_class", "observation_space", "action_space", "policy_kwargs", "use_sde")


def read_model_zip(
    path: str, device: th.device | str = "cpu", trust_pickle: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The policy-building attributes and the policy's tensors of an SB3 model zip.

    :return: ``(data, policy_state_dict)``, ``data`` holding the entries of ``POLICY_ENTRIES`` present
    """
    if not zipfile.is_zipfile(path):
        raise ValueError(f"Teacher file {path!r} is not an SB3 model: it is not a zip archive.")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if "data" not in names or "policy.pth" not in names:
            raise ValueError(f"Teacher file {path!r} is not an SB3 model zip: it has no 'data' and 'policy.pth' entries.")
        try:
            raw = json.loads(archive.read("data").decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(
                f"Teacher file {path!r} is not an SB3 model zip: its 'data' entry is not JSON ({error})."
            ) from None
        data = {}
        for key in POLICY_ENTRIES:
            if key not in raw:
                continue
            value = raw[key]
            if isinstance(value, dict) and ":serialized:" in value:
                value = loads(base64.b64decode(value[":serialized:"].encode()), path, key, trust_pickle)
            data[key] = value
        with archive.open("policy.pth") as file:
            state_dict = th.load(io.BytesIO(file.read()), map_location=device, weights_only=True)
    missing = [key for key in ("policy_class", "observation_space", "action_space") if key not in data]
    if missing:
        raise ValueError(f"Teacher file {path!r} is not an SB3 model zip: its data lacks {missing}.")
    return data, state_dict
