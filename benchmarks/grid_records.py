"""Carry a grid's finished work from one machine to the next through git, so that a restarted
``sb3-distill bench`` skips every job that finished on an earlier machine.

    python benchmarks/grid_records.py save results/minatar docs/results/minatar
    python benchmarks/grid_records.py restore docs/results/minatar results/minatar

``save`` keeps the spec, the records of every finished job (its JSON and CSV files, as
``export_results.py`` keeps them) and, while an unfinished job still needs them, the models of the
teachers the grid trained (their .zip and ``vecnormalize.pkl``). A job that has not finished is not kept:
it runs again from its start. A corrupted teacher is not kept either: ``restore`` writes it again from its
original, sigma and seed (the noise is seeded) and checks that its tensors equal the saved copy's (a
SHA-256 of every tensor, in order), so a restored grid distils from the very teacher its finished runs had.

Paths inside the records that point into the saved grid's folder are rewritten to the restored one's.
``restore`` leaves a finished job that is already in the grid's folder as it is.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import zipfile
from typing import Any

from sb3_distill.bench.plan import DistillJob, Plan, TeacherJob, plan
from sb3_distill.bench.runner import DONE, read_done
from sb3_distill.bench.spec import load_spec
from sb3_distill.common.safe_loading import load_tensors
from sb3_distill.corruption import corrupt_model_file

MANIFEST = "grid_records.json"
SPEC = "spec.yaml"
RECORD_SUFFIXES = (".json", ".csv")
SKIPPED_FOLDERS = {"checkpoints", "tb"}
STATISTICS = "vecnormalize.pkl"


def tensors_digest(zip_path: str) -> str:
    """SHA-256 of the policy's tensors in a model zip, by name in order (``torch.save`` adds a random id to
    its file, so the zip's own bytes differ between two writes of the same tensors)."""
    with zipfile.ZipFile(zip_path) as archive:
        state = load_tensors(archive.read("policy.pth"), zip_path, "policy.pth")
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def save(source: str, target: str) -> dict[str, int]:
    """Copy what ``restore`` needs of the grid in ``source`` to ``target``; return what was kept."""
    jobs = plan(load_spec(os.path.join(source, SPEC)), source)
    previous = (
        _read_json(os.path.join(target, MANIFEST)).get("corrupted", {})
        if os.path.exists(os.path.join(target, MANIFEST))
        else {}
    )
    for stale in ("teachers", "runs"):  # an earlier save's; everything it held is in ``source`` too
        shutil.rmtree(os.path.join(target, stale), ignore_errors=True)
    os.makedirs(target, exist_ok=True)
    needed = _teachers_still_needed(jobs)
    shutil.copy2(os.path.join(source, SPEC), os.path.join(target, SPEC))
    corrupted: dict[str, dict[str, Any]] = {}
    counts = {"teachers": 0, "runs": 0, "models": 0}
    for job in _jobs(jobs):
        done = read_done(job.folder)
        if done is None:
            continue
        _copy_records(job.folder, os.path.join(target, job.key))
        counts["teachers" if isinstance(job, TeacherJob) else "runs"] += 1
        if isinstance(job, TeacherJob):
            model = str(done["teacher"])
            if job.variant.sigma > 0 and not os.path.exists(model) and job.key in previous:
                # a restored grid writes a corrupted copy again only while a job needs it (its original's model is
                # kept only then): the earlier save's record of it stands
                corrupted[job.key] = previous[job.key]
            elif job.variant.sigma > 0:
                config = _read_json(os.path.join(job.folder, "config.json"))
                corrupted[job.key] = {
                    "model": os.path.relpath(model, job.folder),
                    "corrupted_from": _portable(str(config["corrupted_from"]), source),
                    "sigma": config["sigma"],
                    "seed": config["seed"],
                    "tensors_sha256": tensors_digest(model),
                }
            elif _is_inside(model, job.folder) and job.folder in needed:  # a teacher the grid trained
                for path in (model, os.path.join(os.path.dirname(model), STATISTICS)):
                    if os.path.exists(path):
                        shutil.copy2(path, os.path.join(target, job.key, os.path.relpath(path, job.folder)))
                        counts["models"] += 1
    with open(os.path.join(target, MANIFEST), "w") as file:
        json.dump({"folder": _normalized(source), "corrupted": corrupted}, file, indent=2)
    return counts


def _jobs(jobs: Plan) -> list[TeacherJob | DistillJob]:
    return [*jobs.teachers, *jobs.runs]


def _teachers_still_needed(jobs: Plan) -> set[str]:
    """Folders of the teacher jobs that an unfinished job still reads, itself or through a corrupted copy: a
    trained teacher's model is kept while the grid needs it, and left out of the records once it does not."""
    originals = {job.folder: job.original_folder for job in jobs.teachers}
    needed = set()
    for job in _jobs(jobs):
        if read_done(job.folder) is not None:
            continue
        if isinstance(job, TeacherJob):
            needed.add(job.original_folder)
        else:
            needed.update((job.teacher_folder, originals.get(job.teacher_folder, job.teacher_folder)))
    return needed


def restore(records: str, folder: str) -> dict[str, int]:
    """Put the saved grid in ``records`` back into ``folder``, so that ``sb3-distill bench`` resumes there."""
    manifest = _read_json(os.path.join(records, MANIFEST))
    saved_folder = str(manifest["folder"])
    jobs = plan(load_spec(os.path.join(records, SPEC)), folder)
    counts = {"restored": 0, "regenerated": 0}
    for job in _jobs(jobs):
        saved = os.path.join(records, job.key)
        if not os.path.exists(os.path.join(saved, DONE)) or read_done(job.folder) is not None:
            continue
        if os.path.exists(job.folder):  # the remains of an attempt that did not finish here
            shutil.rmtree(job.folder)
        shutil.copytree(saved, job.folder)
        for name in (DONE, "config.json"):
            _rewrite_paths(os.path.join(job.folder, name), saved_folder, folder)
        counts["restored"] += 1
        corruption = manifest["corrupted"].get(job.key) if isinstance(job, TeacherJob) else None
        if corruption is not None:
            counts["regenerated"] += _regenerate(corruption, job.folder, folder)
    return counts


def _regenerate(corruption: dict[str, Any], job_folder: str, folder: str) -> int:
    """Write the corrupted teacher again (1), or nothing when its original is not there (0)."""
    model = os.path.join(job_folder, corruption["model"])
    source = corruption["corrupted_from"]
    original = os.path.join(folder, source[len("GRID/") :]) if source.startswith("GRID/") else source
    if not os.path.exists(original):
        return 0  # its original was not kept: no unfinished job needed either of them when the records were saved
    corrupt_model_file(original, model, float(corruption["sigma"]), int(corruption["seed"]))
    if tensors_digest(model) != corruption["tensors_sha256"]:
        shutil.rmtree(job_folder)  # not this grid's teacher: the grid makes it again, and its runs use the new one
        raise SystemExit(
            f"{model}: the regenerated teacher's tensors differ from the saved one's (another torch version draws "
            "other noise?). Its folder is removed, so the grid corrupts the teacher again; the runs it finished with "
            "the saved teacher are no longer comparable: remove their folders too."
        )
    return 1


def _copy_records(job_folder: str, target: str) -> None:
    for current, subfolders, files in os.walk(job_folder):
        subfolders[:] = sorted(name for name in subfolders if name not in SKIPPED_FOLDERS)
        for name in sorted(files):
            if name.endswith(RECORD_SUFFIXES):
                destination = os.path.join(target, os.path.relpath(os.path.join(current, name), job_folder))
                os.makedirs(os.path.dirname(destination), exist_ok=True)
                shutil.copy2(os.path.join(current, name), destination)


def _rewrite_paths(path: str, old: str, new: str) -> None:
    """Point the record's string values that lie in the saved grid's folder into the restored one."""
    if not os.path.exists(path):
        return
    record = _read_json(path)

    def moved(value: Any) -> Any:
        if isinstance(value, str) and (_normalized(value) == old or _normalized(value).startswith(old + os.sep)):
            return os.path.join(new, os.path.relpath(_normalized(value), old))
        if isinstance(value, dict):
            return {key: moved(item) for key, item in value.items()}
        if isinstance(value, list):
            return [moved(item) for item in value]
        return value

    with open(path, "w") as file:
        json.dump(moved(record), file, indent=2)


def _portable(path: str, grid_folder: str) -> str:
    """``GRID/...`` for a path inside the grid's folder, else the path as the grid was given it."""
    if _is_inside(path, grid_folder):
        return "GRID/" + os.path.relpath(_normalized(path), _normalized(grid_folder))
    return path


def _is_inside(path: str, folder: str) -> bool:
    return _normalized(path).startswith(_normalized(folder) + os.sep)


def _normalized(path: str) -> str:
    return os.path.abspath(path)  # the grid records some paths as given and some absolute


def _read_json(path: str) -> dict[str, Any]:
    with open(path) as file:
        record: dict[str, Any] = json.load(file)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, source, target in (
        ("save", "the grid's --out folder", "where to keep its records"),
        ("restore", "the saved records", "the grid's --out folder"),
    ):
        command = commands.add_parser(name)
        command.add_argument("source", help=source)
        command.add_argument("target", help=target)
    args = parser.parse_args()
    counts = save(args.source, args.target) if args.command == "save" else restore(args.source, args.target)
    print(f"{args.command}: {counts}")


if __name__ == "__main__":
    main()
