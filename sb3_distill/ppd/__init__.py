from sb3_distill.ppd.ppd import PPD, ProximalPolicyDistillation

__all__ = ["PPD", "ProximalPolicyDistillation"]
