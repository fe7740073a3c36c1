"""The paper's benchmark grid as a product: a YAML spec, its expansion into runs, and their execution."""

from sb3_distill.bench.grid import run_grid
from sb3_distill.bench.plan import DistillJob, Plan, TeacherJob, plan
from sb3_distill.bench.spec import BenchSpec, SpecError, load_spec

__all__ = ["BenchSpec", "DistillJob", "Plan", "SpecError", "TeacherJob", "load_spec", "plan", "run_grid"]
