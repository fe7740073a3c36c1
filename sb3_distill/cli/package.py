"""``sb3-distill package``: a finished run as a Hub-ready folder (zip, statistics, config, model card, ONNX)."""

from __future__ import annotations

import argparse

from sb3_distill.deploy.package import PackageResult, package


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a finished distill run folder (student.zip, results.json)")
    parser.add_argument("--out", required=True, help="the package folder to write (new, or empty)")
    parser.add_argument(
        "--push",
        metavar="ORG/REPO",
        help="upload the folder to this Hub model repository (needs huggingface_hub and huggingface-cli login)",
    )
    parser.add_argument("--force", action="store_true", help="write into an --out that holds files already")
    parser.add_argument("--no-onnx", action="store_true", help="leave out the ONNX export and its figures")
    parser.add_argument("--trust-pickle", action="store_true", help="read the run's files without the allow-list")


def run(args: argparse.Namespace) -> PackageResult:
    result = package(
        args.run_dir,
        args.out,
        push=args.push,
        force=args.force,
        export_onnx=not args.no_onnx,
        trust_pickle=args.trust_pickle,
    )
    print(summary(result))
    return result


def summary(result: PackageResult) -> str:
    lines = [f"wrote {result.out}: {', '.join(result.files)}"]
    if result.onnx_skipped is not None:
        lines.append(f"no ONNX export: {result.onnx_skipped}")
    if result.repo_url is not None:
        lines.append(f"uploaded to {result.repo_url}")
    return "\n".join(lines)
