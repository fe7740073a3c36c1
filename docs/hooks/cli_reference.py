"""MkDocs hook: the CLI reference page, rendered from the argparse parsers at build time.

``docs/reference/cli.md`` holds an introduction and the marker ``<!-- cli-reference -->``; this hook
replaces the marker with every subcommand's usage and options as ``sb3_distill.cli.main.build_parser``
defines them, so the page cannot drift from ``sb3-distill COMMAND --help``.
"""

from __future__ import annotations

import argparse
import html
import re
from typing import Any

MARKER = "<!-- cli-reference -->"
PAGE = "reference/cli.md"
USAGE_WIDTH = 100


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"{PAGE} has lost its marker {MARKER}")
    return markdown.replace(MARKER, render_cli_reference())


def render_cli_reference() -> str:
    from sb3_distill.cli.main import build_parser

    parser = build_parser()
    lines = ["```text", usage(parser), "```", ""]
    for name, subparser in subcommands(parser).items():
        lines += [f"## `sb3-distill {name}`", "", escape(subparser.description or ""), ""]
        lines += ["```text", usage(subparser), "```", ""]
        positionals = [action for action in subparser._actions if not action.option_strings]
        options = [action for action in subparser._actions if action.option_strings and action.dest != "help"]
        if positionals:
            lines += ["| argument | description |", "| --- | --- |"]
            lines += [f"| `{action.metavar or action.dest}` | {describe(subparser, action)} |" for action in positionals]
            lines.append("")
        if options:
            lines += ["| option | description | default |", "| --- | --- | --- |"]
            lines += [f"| {flags(action)} | {describe(subparser, action)} | {default(action)} |" for action in options]
            lines.append("")
    return "\n".join(lines)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(prog=parser.prog, width=USAGE_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def flags(action: argparse.Action) -> str:
    """The option strings with their metavar, as the usage line writes them."""
    formatter = argparse.HelpFormatter(prog="")
    if action.nargs == 0:
        names = action.option_strings
    else:
        metavar = formatter._format_args(action, action.dest.upper())
        names = [f"{option} {metavar}" for option in action.option_strings]
    return "<br>".join(f"`{name}`" for name in names)


def describe(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    return escape(parser._get_formatter()._expand_help(action))


def default(action: argparse.Action) -> str:
    value = action.default
    if value is None or value is argparse.SUPPRESS or action.nargs == 0 or action.required:
        return ""
    return f"`{value}`"


def escape(text: str) -> str:
    """Plain help text as Markdown: no HTML, emphasis or table cells out of ``<``, ``*``, ``_``, ``|``."""
    text = html.escape(" ".join(text.split()), quote=False)
    return re.sub(r"([\\`*_\[\]|])", r"\\\1", text)
