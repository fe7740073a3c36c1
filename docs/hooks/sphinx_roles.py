"""MkDocs hook: Sphinx markup that the docstrings use, shown as plain code on the API reference pages.

The docstrings are written for Sphinx (``:param:`` fields, which mkdocstrings reads, and roles such as
``:func:`resume```, which it leaves as they are). On the ``reference/`` pages this hook drops the role
names, so ``:func:`resume``` reads as ``resume`` in code, and turns a paragraph's closing ``::`` (a
literal block follows) into ``:``.
"""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|attr|data|exc|obj|const|ref):(<code>)")
LITERAL_BLOCK_MARKER = re.compile(r"::(</p>)")


def on_page_content(html: str, page: Any, **_: Any) -> str:
    if not page.file.src_uri.startswith("reference/"):
        return html
    return LITERAL_BLOCK_MARKER.sub(r":\1", ROLE.sub(r"\1", html))
