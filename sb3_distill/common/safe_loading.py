"""One safe reader for every file the project loads: SB3 model zips (teachers, students, checkpoints),
their ``.pth`` tensors, and ``VecNormalize`` .pkl files, from strangers, without running code hidden in them.

An SB3 zip stores some attributes as base64 cloudpickle, its ``.pth`` entries are torch pickles, and
``VecNormalize.save`` writes a pickle; unpickling any of them can execute arbitrary code. Here pickles go
through an unpickler that decides from the (module, name) strings alone whether a name may be resolved,
and imports nothing that is not on its allow-list; ``.pth`` entries are read with
``torch.load(weights_only=True)``. Anything outside the allow-list is refused with a message that names the
file, the entry and the object, and the opt-in ``trust_pickle=True``, the only way around the check. A damaged
file (truncated, a flipped byte) is refused with a one-line message that names it.
"""

from __future__ import annotations

import _compat_pickle
import base64
import importlib
import io
import json
import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import cloudpickle
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.save_util import recursive_setattr
from stable_baselines3.common.type_aliases import GymEnv
from stable_baselines3.common.utils import check_for_correct_spaces, get_device
from stable_baselines3.common.vec_env.patch_gym import _convert_space

#: ``(module, name)`` pairs that may be resolved whatever they are: the functions and classes that pickles of
#: numpy arrays, scalars and random generators, SB3's schedules and episode buffers, and plain containers refer to.
ALLOWED_NAMES = frozenset(
    {
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
        ("numpy.random._pickle", "__randomstate_ctor"),
        ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
        ("numpy.random.bit_generator", "SeedSequence"),
        ("numpy.random._generator", "Generator"),
        ("numpy.random.mtrand", "RandomState"),
        ("numpy.random._pcg64", "PCG64"),
        ("numpy.random._pcg64", "PCG64DXSM"),
        ("numpy.random._mt19937", "MT19937"),
        ("numpy.random._philox", "Philox"),
        ("numpy.random._sfc64", "SFC64"),
        *(
            ("numpy", scalar)
            for scalar in (
                "bool_",
                "int8",
                "int16",
                "int32",
                "int64",
                "uint8",
                "uint16",
                "uint32",
                "uint64",
                "float16",
                "float32",
                "float64",
            )
        ),
        ("_codecs", "encode"),  # bytes in protocol-2 pickles
        ("copyreg", "_reconstructor"),
        ("builtins", "object"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "complex"),
        ("builtins", "slice"),
        ("builtins", "range"),
        ("builtins", "bytearray"),
        ("collections", "OrderedDict"),
        ("collections", "deque"),  # ep_info_buffer, ep_success_buffer
        ("stable_baselines3.common.utils", "FloatSchedule"),
        ("stable_baselines3.common.utils", "ConstantSchedule"),
        ("stable_baselines3.common.utils", "LinearSchedule"),
        ("stable_baselines3.common.type_aliases", "TrainFreq"),
        ("stable_baselines3.common.type_aliases", "TrainFrequencyUnit"),
    }
)

#: Packages whose public classes may be resolved, if they derive from one of ``_allowed_bases()``. Only their
#: public modules are imported (no ``__main__``, no ``_private`` module), and only after the names are checked.
ALLOWED_PACKAGES = (
    "gymnasium.spaces",
    "torch.nn.modules",
    "torch.optim",
    "stable_baselines3",
    "sb3_contrib",
    "sb3_distill",
)

#: The message's advice, where a file holds something the allow-list refuses.
TRUST_ADVICE = "If you trust this file, load it with trust_pickle=True (command line: --trust-pickle)."


def _allowed_bases() -> tuple[type, ...]:
    from enum import Enum

    from stable_baselines3.common.buffers import BaseBuffer
    from stable_baselines3.common.noise import ActionNoise
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
        BaseBuffer,  # rollout_buffer_class, replay_buffer_class
        ActionNoise,
        RunningMeanStd,
        VecNormalize,
        Enum,  # settings such as HER's goal selection strategy
    )


def _public_module_of_allowed_package(module: str) -> bool:
    """Whether ``module`` names a public module of an allowed package, decided from the string alone."""
    parts = module.split(".")
    if not all(part.isidentifier() and not part.startswith("_") for part in parts):
        return False
    return any(module == package or module.startswith(package + ".") for package in ALLOWED_PACKAGES)


class UnsafePickleError(ValueError):
    """A file asked to unpickle something outside the allow-list.

    :param problem: what was refused, in which file and entry
    :param advice: how to load the file anyway, if it is trusted (the caller knows best how)
    """

    def __init__(self, problem: str, advice: str = ""):
        super().__init__(f"{problem} {advice}" if advice else problem)
        self.problem = problem
        self.advice = advice

    def with_advice(self, advice: str) -> UnsafePickleError:
        """The same refusal, with other advice."""
        return UnsafePickleError(self.problem, advice)


class DamagedFileError(ValueError):
    """A file is damaged (truncated, a flipped byte) or is not the kind of file it should be."""


class AllowListUnpickler(pickle.Unpickler):
    """An unpickler that resolves only allow-listed functions and classes of known-safe types.

    Whether a name may be resolved is decided from its ``(module, name)`` strings before anything is
    imported: a module that is not on the allow-list is never imported (importing can run code).

    :param file: the pickle stream
    :param source: the file it comes from, for messages
    :param entry: which entry of the file, for messages
    """

    def __init__(self, file: io.BytesIO, source: str, entry: str):
        super().__init__(file)
        self.source = source
        self.entry = entry

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 names in old pickles (``__builtin__.set``), renamed first as pickle's own find_class does,
        # so that the name checked is the name resolved
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        if (module, name) in ALLOWED_NAMES:
            return super().find_class(module, name)
        if _public_module_of_allowed_package(module) and name.isidentifier() and not name.startswith("_"):
            try:
                found = vars(importlib.import_module(module)).get(name)  # no module __getattr__: it may import
            except ImportError:
                found = None
            if isinstance(found, type) and issubclass(found, _allowed_bases()):
                return found
        raise UnsafePickleError(
            f"Refusing to unpickle {module}.{name} from {self.source} (entry {self.entry!r}): it is not on the "
            "allow-list of types a model file may contain, and unpickling it could run code.",
            TRUST_ADVICE,
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
        raise ValueError(f"Could not read entry {entry!r} of {source}: {_one_line(error)}") from error


def load_tensors(payload: bytes, source: str, entry: str, device: th.device | str = "cpu", trust_pickle: bool = False) -> Any:
    """Read a ``.pth`` entry: with ``torch.load(weights_only=True)``, or as any pickle when ``trust_pickle``.

    :raises UnsafePickleError: the entry holds more than tensors (and ``trust_pickle`` is off)
    :raises DamagedFileError: the entry cannot be read
    """
    try:
        return th.load(io.BytesIO(payload), map_location=device, weights_only=not trust_pickle)
    except pickle.UnpicklingError as error:
        if trust_pickle or "Weights only load failed" not in str(error):
            raise _damaged(source, entry, error) from None
        unsafe = re.search(r"GLOBAL (\S+) was not an allowed global", str(error))
        named = f" (it names {unsafe.group(1)})" if unsafe else ""
        raise UnsafePickleError(
            f"Refusing to read entry {entry!r} of {source}: it holds more than tensors{named}, and reading it could run code.",
            "Only trust_pickle=True (command line: --trust-pickle) reads it; use it only for files you trust.",
        ) from None
    except Exception as error:
        raise _damaged(source, entry, error) from None


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _damaged(source: str, entry: str | None, error: BaseException) -> DamagedFileError:
    where = f"entry {entry!r} of {source}" if entry else source
    return DamagedFileError(
        f"Could not read {where}: the file is damaged or truncated ({_one_line(error)}). Use an intact copy of it."
    )


def _read_zip(path: str, members: Callable[[str], bool], kind: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The parsed JSON ``data`` entry and the bytes of the ``.pth`` entries that ``members`` selects.

    The file is read once, into memory, so what is checked is what is loaded.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{kind} {path!r} not found.")
    with open(path, "rb") as file:
        content = file.read()
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile as error:
        raise DamagedFileError(
            f"{kind} {path!r} is not an SB3 model: it is not a zip archive, or it is damaged or truncated "
            f"({_one_line(error)})."
        ) from None
    except Exception as error:
        raise _damaged(path, None, error) from None
    with archive:
        names = archive.namelist()
        if "data" not in names or "policy.pth" not in names:
            raise DamagedFileError(f"{kind} {path!r} is not an SB3 model zip: it has no 'data' and 'policy.pth' entries.")
        found: dict[str, bytes] = {}
        for name in ["data", *(name for name in names if os.path.splitext(name)[1] == ".pth" and members(name))]:
            try:
                found[name] = archive.read(name)
            except Exception as error:  # reading bytes runs no code: BadZipFile (CRC), zlib.error, EOFError, ...
                raise _damaged(path, name, error) from None
    try:
        raw = json.loads(found.pop("data").decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DamagedFileError(
            f"{kind} {path!r} is not an SB3 model zip, or it is damaged: its 'data' entry is not JSON ({error})."
        ) from None
    if not isinstance(raw, dict):
        raise DamagedFileError(f"{kind} {path!r} is not an SB3 model zip: its 'data' entry is not a JSON object.")
    return raw, found


def _decode_data(
    raw: dict[str, Any],
    keys: Iterable[str],
    path: str,
    trust_pickle: bool,
    custom_objects: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """SB3's ``json_to_data`` for the entries ``keys`` of ``raw``, unpickling through the allow-list."""
    data = {}
    for key in keys:
        if key not in raw:
            continue
        value = raw[key]
        if custom_objects is not None and key in custom_objects:
            data[key] = custom_objects[key]
        elif isinstance(value, dict) and ":serialized:" in value:
            try:
                payload = base64.b64decode(str(value[":serialized:"]).encode())
            except ValueError as error:
                raise _damaged(path, key, error) from None
            if not trust_pickle:
                data[key] = loads(payload, path, key)
                continue
            try:  # as SB3 does: an entry that cannot be deserialised is left out, with a warning
                data[key] = cloudpickle.loads(payload)
            except (RuntimeError, TypeError, AttributeError) as error:
                warnings.warn(
                    f"Could not deserialize object {key} of {path}. Consider using `custom_objects` argument to "
                    f"replace this object.\nException: {error}",
                    stacklevel=3,
                )
        else:
            data[key] = value
    return data


#: The attributes of a model zip that rebuilding its policy needs.
POLICY_ENTRIES = ("policy_class", "observation_space", "action_space", "policy_kwargs", "use_sde")


def read_model_zip(
    path: str, device: th.device | str = "cpu", trust_pickle: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The policy-building attributes and the policy's tensors of an SB3 model zip (a teacher).

    Only the entries of ``POLICY_ENTRIES`` and ``policy.pth`` are read: nothing else of the file is unpickled.

    :return: ``(data, policy_state_dict)``, ``data`` holding the entries of ``POLICY_ENTRIES`` present
    """
    raw, tensors = _read_zip(path, lambda name: name == "policy.pth", "Teacher file")
    data = _decode_data(raw, POLICY_ENTRIES, path, trust_pickle)
    state_dict = load_tensors(tensors["policy.pth"], path, "policy.pth", device, trust_pickle)
    missing = [key for key in ("policy_class", "observation_space", "action_space") if key not in data]
    if missing:
        raise DamagedFileError(f"Teacher file {path!r} is not an SB3 model zip: its data lacks {missing}.")
    return data, state_dict


def read_model(
    path: str | os.PathLike,
    device: th.device | str = "auto",
    trust_pickle: bool = False,
    custom_objects: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """SB3's ``load_from_zip_file``, safely: ``(data, params, pytorch_variables)`` of a whole model zip.

    Every pickled entry of ``data`` goes through the allow-list, every ``.pth`` entry through
    ``torch.load(weights_only=True)``; ``trust_pickle=True`` reads both as SB3 does (only for files you trust).
    """
    path = os.fspath(path)
    device = get_device(device)
    raw, tensors = _read_zip(path, lambda name: True, "Model file")
    data = _decode_data(raw, list(raw), path, trust_pickle, custom_objects)
    params: dict[str, Any] = {}
    pytorch_variables = None
    for name, payload in tensors.items():
        loaded = load_tensors(payload, path, name, device, trust_pickle)
        if name in ("pytorch_variables.pth", "tensors.pth"):  # "tensors.pth": its name before SB3 0.9
            pytorch_variables = loaded
        else:
            params[os.path.splitext(name)[0]] = loaded
    return data, params, pytorch_variables


SelfAlgorithm = TypeVar("SelfAlgorithm", bound=BaseAlgorithm)


def load_model(  # noqa: C901 (mirrors BaseAlgorithm.load)
    algorithm_class: type[SelfAlgorithm],
    path: str | os.PathLike,
    env: GymEnv | None = None,
    device: th.device | str = "auto",
    trust_pickle: bool = False,
    custom_objects: dict[str, Any] | None = None,
    force_reset: bool = True,
    **kwargs: Any,
) -> SelfAlgorithm:
    """``algorithm_class.load(path, ...)``, reading the file with the safe reader of :func:`read_model`.

    What SB3's ``BaseAlgorithm.load`` restores is restored the same way: the attributes (``num_timesteps``,
    schedules, episode buffers, ...), the weights and optimizer states, the other torch variables, and with
    ``env`` given, ``_last_obs`` discarded (``force_reset``) and ``n_envs`` updated.

    :param algorithm_class: the algorithm the file holds (e.g. ``PPD``)
    :param path: the .zip
    :param env: the environment to run the model on
    :param device: torch device
    :param trust_pickle: unpickle the file's objects without the allow-list (only for files you trust)
    :param custom_objects: entries to use instead of the file's (not read from it), as in SB3
    :param force_reset: discard the stored last observation, so the environment is reset before training
    :param kwargs: attributes to set on the model, as in SB3
    :raises UnsafePickleError: the file holds something outside the allow-list
    :raises DamagedFileError: the file is damaged or not an SB3 model zip
    """
    path = os.fspath(path)
    data, params, pytorch_variables = read_model(path, device, trust_pickle, custom_objects)

    # From here on, BaseAlgorithm.load (stable-baselines3 2.x), step by step.
    if "policy_kwargs" in data:
        if "device" in data["policy_kwargs"]:
            del data["policy_kwargs"]["device"]
        saved_net_arch = data["policy_kwargs"].get("net_arch")  # backward compatibility, convert to new format
        if saved_net_arch and isinstance(saved_net_arch, list) and isinstance(saved_net_arch[0], dict):
            data["policy_kwargs"]["net_arch"] = saved_net_arch[0]

    if "policy_kwargs" in kwargs and kwargs["policy_kwargs"] != data["policy_kwargs"]:
        raise ValueError(
            f"The specified policy kwargs do not equal the stored policy kwargs."
            f"Stored kwargs: {data['policy_kwargs']}, specified kwargs: {kwargs['policy_kwargs']}"
        )
    if "observation_space" not in data or "action_space" not in data:
        raise DamagedFileError(f"Model file {path!r} stores no observation_space and action_space.")
    for key in ("observation_space", "action_space"):
        data[key] = _convert_space(data[key])

    if env is not None:
        env = algorithm_class._wrap_env(env, data["verbose"])
        check_for_correct_spaces(env, data["observation_space"], data["action_space"])
        if force_reset:  # the environment is reset before training (SB3 issue 597)
            data["_last_obs"] = None
        data["n_envs"] = env.num_envs  # SB3 issue 1018
    elif "env" in data:
        env = data["env"]

    model = algorithm_class(  # type: ignore[call-arg]
        policy=data["policy_class"],
        env=env,
        device=device,
        _init_setup_model=False,
    )
    model.__dict__.update(data)
    model.__dict__.update(kwargs)
    model._setup_model()

    try:
        model.set_parameters(params, exact_match=True, device=device)
    except RuntimeError as error:
        # A2C/PPO policies saved with SB3 < 1.7.0 (SB3 issue 1233)
        if "pi_features_extractor" in str(error) and "Missing key(s) in state_dict" in str(error):
            model.set_parameters(params, exact_match=False, device=device)
            warnings.warn(
                "You are probably loading a A2C/PPO model saved with SB3 < 1.7.0, we deactivated exact_match so you "
                f"can save the model again to avoid issues in the future. Original error: {error}",
                stacklevel=2,
            )
        else:
            raise
    except ValueError as error:
        # DQN policies saved with SB3 < 2.4.0 kept the target network in the optimizer (SB3 PR 1963)
        saved_optim_params = params["policy.optimizer"]["param_groups"][0]["params"]
        n_params = len(model.policy.optimizer.param_groups[0]["params"])
        if len(saved_optim_params) == 2 * n_params:
            params["policy.optimizer"]["param_groups"][0]["params"] = saved_optim_params[:n_params]
            model.set_parameters(params, exact_match=True, device=device)
            warnings.warn(
                "You are probably loading a DQN model saved with SB3 < 2.4.0, we truncated the optimizer state so "
                f"you can save the model again to avoid issues in the future. Original error: {error}",
                stacklevel=2,
            )
        else:
            raise

    if pytorch_variables is not None:
        for name in pytorch_variables:
            if pytorch_variables[name] is None:  # e.g. SAC's log_ent_coef when the coefficient is fixed
                continue
            recursive_setattr(model, f"{name}.data", pytorch_variables[name].data)

    if model.use_sde:  # sample the gSDE exploration matrix on the right device (SB3 issue 44)
        model.policy.reset_noise()  # type: ignore[operator]
    return model


__all__ = [
    "ALLOWED_NAMES",
    "ALLOWED_PACKAGES",
    "AllowListUnpickler",
    "DamagedFileError",
    "UnsafePickleError",
    "load_model",
    "load_tensors",
    "loads",
    "read_model",
    "read_model_zip",
]
