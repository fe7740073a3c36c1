"""The core shared by the distillation algorithms."""
