"""A tiny, safe Markdown renderer for the debrief questions of the report.

Parley has no Markdown library among its dependencies, and a prompt file needs only a
small subset: headings, lists, paragraphs, quotes, code, strong and emphasis. The output
is :class:`~markupsafe.Markup` built from escaped parts: every character of the source is
escaped, and the only tags in the output are the ones written here.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_LIST_ITEM = re.compile(r"^\s{0,3}([-*+]|\d{1,9}[.)])\s+(.*)$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_CODE_SPAN = re.compile(r"(`[^`]+`)")
#: Inline rules, applied in order to escaped text (so they can only see escaped text).
_INLINE = (
    (re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)"), r"\1 (\2)"),  # a link keeps text and address
    (re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"__(?=\S)(.+?)(?<=\S)__"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"<em>\1</em>"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"<em>\1</em>"),
)


def _inline(text: str) -> Markup:
    """Escape, then code spans, strong and emphasis; links keep their text and address."""
    out = Markup()
    for part in _CODE_SPAN.split(text):
        if len(part) > 2 and part.startswith("`") and part.endswith("`"):
            out += Markup("<code>{}</code>").format(part[1:-1])
            continue
        html = str(escape(part))
        for pattern, replacement in _INLINE:
            html = pattern.sub(replacement, html)
        out += Markup(html)  # escaped above; the rules only add the tags they name
    return out


def markdown_to_html(text: str, heading_offset: int = 2) -> Markup:
    """Render a small, safe subset of Markdown: headings, lists, paragraphs, quotes, code.

    Every character of the source is escaped; the only tags in the output are the ones
    this function writes. Headings move down by ``heading_offset`` levels (a ``#`` in a
    prompt file sits under the page's own ``<h2>``).
    """
    blocks: list[Markup] = []
    paragraph: list[str] = []
    quote: list[str] = []
    items: list[list[str]] = []
    list_tag = ""
    list_start = 1
    lines = text.replace("\r\n", "\n").split("\n")

    def flush() -> None:
        nonlocal items, list_tag
        if paragraph:
            blocks.append(Markup("<p>{}</p>").format(_inline(" ".join(paragraph))))
            paragraph.clear()
        if quote:
            blocks.append(
                Markup("<blockquote><p>{}</p></blockquote>").format(_inline(" ".join(quote)))
            )
            quote.clear()
        if items:
            start = (
                Markup(' start="{}"').format(list_start)
                if list_tag == "ol" and list_start != 1
                else Markup()
            )
            lis = Markup().join(Markup("<li>{}</li>").format(_inline(" ".join(i))) for i in items)
            blocks.append(Markup("<{0}{1}>{2}</{0}>").format(Markup(list_tag), start, lis))
            items, list_tag = [], ""

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if _FENCE.match(line):
            flush()
            fence = stripped[:3]
            code: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                code.append(lines[i])
                i += 1
            blocks.append(Markup("<pre><code>{}</code></pre>").format("\n".join(code)))
            i += 1
            continue
        if not stripped:
            flush()
        elif heading := _HEADING.match(line):
            flush()
            level = min(6, len(heading.group(1)) + heading_offset)
            blocks.append(Markup("<h{0}>{1}</h{0}>").format(level, _inline(heading.group(2))))
        elif item := _LIST_ITEM.match(line):
            marker, rest = item.groups()
            tag = "ul" if marker in "-*+" else "ol"
            if paragraph or quote or (items and tag != list_tag):
                flush()
            if not items:
                list_tag = tag
                list_start = int(marker[:-1]) if tag == "ol" else 1
            items.append([rest])
        elif stripped.startswith(">"):
            if paragraph or items:
                flush()
            quote.append(stripped.lstrip(">").strip())
        elif items:
            items[-1].append(stripped)
        elif quote:
            quote.append(stripped)
        else:
            paragraph.append(stripped)
        i += 1
    flush()
    return Markup("\n").join(blocks)
