"""``sb3-distill export``: a trained agent as an ONNX or TorchScript file, checked against ``predict`` first."""

from __future__ import annotations

import argparse

from sb3_distill.deploy import DEFAULT_TOLERANCE, FORMATS, ExportResult, export


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="a distill run folder, a train-teacher folder, an RL Zoo run folder, or an SB3 .zip")
    parser.add_argument("--format", choices=FORMATS, default="onnx", help="onnx (checked through onnxruntime) or torchscript")
    parser.add_argument("--out", required=True, help="the file to write; the figures go to OUT.json")
    parser.add_argument("--env", help="Gymnasium id, for a zip whose folder does not record its environment")
    parser.add_argument("--best", action="store_true", help="export the folder's best_model.zip")
    parser.add_argument(
        "--observations", type=int, default=1000, help="observations to compare on, from running the agent in its environment"
    )
    parser.add_argument(
        "--tolerance", type=float, default=DEFAULT_TOLERANCE, help="largest difference allowed between Box actions"
    )
    parser.add_argument(
        "--min-agreement", type=float, default=1.0, help="smallest fraction of discrete actions that must equal predict's"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the environment the observations come from")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads of both runtimes while measuring latency")
    parser.add_argument("--trust-pickle", action="store_true", help="read the files without the allow-list")


def run(args: argparse.Namespace) -> ExportResult:
    result = export(
        args.source,
        args.out,
        format=args.format,
        env=args.env,
        best=args.best,
        observations=args.observations,
        tolerance=args.tolerance,
        min_agreement=args.min_agreement,
        seed=args.seed,
        measure_latency=not args.no_latency,
        threads=args.threads,
        trust_pickle=args.trust_pickle,
    )
    print(summary(result))
    return result


def summary(result: ExportResult) -> str:
    parity = result.parity
    if parity.max_abs_difference is not None:
        check = f"largest difference from predict {parity.max_abs_difference:.2g} (tolerance {parity.tolerance:g})"
    else:
        check = f"actions equal to predict's: {parity.agreement:.1%}"
    lines = [
        f"wrote {result.path} ({result.format}, {result.file_bytes:,} bytes, {result.parameters:,} parameters)",
        f"inputs {', '.join(result.inputs)} -> outputs {', '.join(result.outputs)}",
        f"parity on {parity.observations} observations from {result.env_id}, through {parity.runtime}: {check}",
    ]
    if result.latency_ms:
        threads = result.settings.get("threads")
        lines.append(f"latency, ms (median / p99, {threads} thread{'s' if threads != 1 else ''}):")
        for runtime, name in (("exported", result.format), ("sb3_predict", "SB3 predict")):
            cells = [f"batch {size}: {t['median']:.3f} / {t['p99']:.3f}" for size, t in result.latency_ms[runtime].items()]
            lines.append(f"  {name:<12} " + "   ".join(cells))
    lines.append(f"figures in {result.report_path}")
    return "\n".join(lines)
