"""Feature extractors of the paper's image policies (§5) and of the MinAtar stand-in."""

from sb3_distill.networks.impala_cnn import ImpalaCNN
from sb3_distill.networks.minatar_cnn import MinAtarCNN
from sb3_distill.networks.nature_cnn import SmallNatureCNN

__all__ = ["ImpalaCNN", "MinAtarCNN", "SmallNatureCNN"]
