"""Distil to deploy: the trained agent as it runs outside training (its files, its environment), and its export."""

from sb3_distill.deploy.deployable import Deployable, find_deployable
from sb3_distill.deploy.evaluate import EvaluationResult, evaluate
from sb3_distill.deploy.export import DEFAULT_TOLERANCE, FORMATS, ExportResult, Parity, ParityError, export
from sb3_distill.deploy.graph import DeployedPolicy, NotExportable

__all__ = [
    "DEFAULT_TOLERANCE",
    "FORMATS",
    "Deployable",
    "DeployedPolicy",
    "EvaluationResult",
    "ExportResult",
    "NotExportable",
    "Parity",
    "ParityError",
    "evaluate",
    "export",
    "find_deployable",
]
