"""The students' memory side by side: Table 1's cells of a grid that sweeps it (``frame_stack``, ``recurrent``),
one row per method and one column per memory, so that a memoryless student, a frame-stacked one and an LSTM
of the same method (and PPO from scratch with each) read across a line.
"""

from __future__ import annotations

from typing import Any

from sb3_distill.report.statistics import DEFAULT_REPS
from sb3_distill.report.tables import (
    SIZE_ORDER,
    Aggregate,
    Run,
    _ordered,
    aggregate_row,
    of_variant,
    ordered_methods,
    short_label,
    table_with_notes,
)

#: The sweep settings that give a student memory; every other setting stays in the row's method.
MEMORY_SETTINGS = ("frame_stack", "recurrent")
NO_MEMORY = "no memory"


def split_memory(label: str) -> tuple[str, str]:
    """``ppd frame_stack=4`` -> (``ppd``, ``frame_stack=4``); ``ppd lambda=2`` -> (``ppd lambda=2``, ``no memory``)."""
    base, _, setting = label.partition(" ")
    parts = setting.split()
    memory = [part for part in parts if part.split("=", 1)[0] in MEMORY_SETTINGS]
    rest = [part for part in parts if part not in memory]
    return " ".join([base, *rest]), " ".join(memory) or NO_MEMORY


def sweeps_memory(runs: list[Run]) -> bool:
    """Whether some run's student has memory set by a sweep (then the report has a memory table)."""
    return any(split_memory(run.method)[1] != NO_MEMORY for run in runs)


def memory_styles(methods: list[str]) -> dict[str, dict[str, Any]]:
    """Line styles for curves of a memory sweep: one colour per method, one line style per memory (solid: none,
    dashed: stacked observations, dotted: an LSTM), so that the memories of a method read as one family."""
    bases = list(dict.fromkeys(split_memory(method)[0] for method in methods))
    dashes = {NO_MEMORY: "-", "frame_stack": "--", "recurrent": ":"}
    styles = {}
    for method in methods:
        base, memory = split_memory(method)
        kind = memory if memory == NO_MEMORY else memory.split("=", 1)[0]
        styles[method] = {"color": f"C{bases.index(base) % 10}", "linestyle": dashes.get(kind, "-.")}
    return styles


def memory_table(runs: list[Run], variant: str, reps: int = DEFAULT_REPS) -> str:
    """Markdown: per suite, student size and method, Table 1's aggregate of each memory (:meth:`Aggregate.text`),
    blank where it did not run; under it, the lines that explain the cells' marks and limits."""
    runs = of_variant(runs, variant)
    memories = sorted({split_memory(run.method)[1] for run in runs}, key=lambda memory: (memory != NO_MEMORY, memory))
    lines = ["| suite | size | method | " + " | ".join(memories) + " |", "|" + " --- |" * (3 + len(memories))]
    cells_of: list[Aggregate] = []
    undefined = False
    for suite in sorted({run.suite for run in runs}):
        here = [run for run in runs if run.suite == suite]
        for size in _ordered({run.student for run in here}, SIZE_ORDER):
            sized = [run for run in here if run.student == size]
            labels = {split_memory(label): label for label in {run.method for run in sized}}
            for method in ordered_methods({method for method, _ in labels}):
                columns = [(size, labels.get((method, memory), "")) for memory in memories]  # "": did not run
                cells, aggregates, undefined_here = aggregate_row(sized, columns, reps)
                cells_of += aggregates
                undefined |= undefined_here
                lines.append(f"| {suite} | {size} | {short_label(method)} | " + " | ".join(cells) + " |")
    return table_with_notes(lines, cells_of, runs, undefined, variant)
