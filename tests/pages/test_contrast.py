"""Badges at WCAG AA contrast (issue 13): every `.badge` rule of the stylesheet,
its text colour on its background, at least 4.5:1 (small text)."""

import re
from pathlib import Path

CSS = (Path(__file__).resolve().parents[2] / "web/static/web/app.css").read_text()


def _luminance(colour: str) -> float:
    value = colour.lstrip("#")
    if len(value) == 3:
        value = "".join(ch * 2 for ch in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _resolve(value: str, variables: dict[str, str]) -> str:
    value = value.strip()
    match = re.fullmatch(r"var\((--[\w-]+)\)", value)
    return variables[match.group(1)] if match else value


def test_every_badge_has_aa_contrast():
    variables = dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{3,6})", CSS))
    base = re.search(r"\.badge \{[^}]*background: (#\w+); color: ([^;]+);", CSS)
    checked = {".badge": (base.group(1), _resolve(base.group(2), variables))}
    for selector, body in re.findall(r"([^{}]*\.badge[^{}]*)\{([^}]*)\}", CSS):
        background = re.search(r"background:\s*(#[0-9a-fA-F]{3,6})", body)
        colour = re.search(r"(?<![-\w])color:\s*([^;]+);", body)
        if background and colour:
            checked[selector.strip()] = (background.group(1), _resolve(colour.group(1), variables))

    low = {
        selector: round(_contrast(background, colour), 2)
        for selector, (background, colour) in checked.items()
        if _contrast(background, colour) < 4.5
    }
    assert len(checked) > 8
    assert low == {}
