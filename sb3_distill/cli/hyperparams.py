"""The command line's text forms of settings: ``--param key=value`` and ``--net-arch 64,64``."""

from __future__ import annotations

from sb3_distill.experiment import parse_params

__all__ = ["parse_net_arch", "parse_params"]


def parse_net_arch(text: str | None) -> list[int] | None:
    """``"64,64"`` -> ``[64, 64]``."""
    if text is None:
        return None
    try:
        layers = [int(width) for width in text.split(",") if width.strip()]
    except ValueError:
        raise ValueError(f"--net-arch expects comma-separated layer widths such as 64,64, got {text!r}.") from None
    if not layers or min(layers) <= 0:
        raise ValueError(f"--net-arch expects positive layer widths such as 64,64, got {text!r}.")
    return layers
