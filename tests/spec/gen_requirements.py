#!/usr/bin/env python3
"""Regenerates spec/requirements.json from spec/PROTOCOL.md.

PROTOCOL.md is the source: every requirement is one list item of the form
    - **ASSENT-AREA-NNN** (KEYWORD) text...
The section is the nearest heading above it; the profile follows from the area
(EVT -> events, DISC -> discord, everything else -> core). test_spec.py checks that the
two files agree, so run this after editing PROTOCOL.md:
    /usr/bin/python3 tests/spec/gen_requirements.py
"""
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
LINE = re.compile(r"^- \*\*(ASSENT-([A-Z]+)-[0-9]{3})\*\* \((MUST NOT|MUST|SHOULD NOT|SHOULD|MAY)\) (.+)$")
HEADING = re.compile(r"^#{2,3} (.+)$")
PROFILE = {"EVT": "events", "DISC": "discord"}


def extract(text):
    section = ""
    out = []
    for line in text.splitlines():
        h = HEADING.match(line)
        if h:
            section = h.group(1).strip()
            continue
        m = LINE.match(line)
        if m:
            rid, area, keyword, body = m.groups()
            out.append({"id": rid, "level": keyword.split()[0], "section": section, "text": body.strip(),
                        "profile": PROFILE.get(area, "core")})
    return out


def main():
    reqs = extract((ROOT / "spec" / "PROTOCOL.md").read_text(encoding="utf-8"))
    with open(ROOT / "spec" / "requirements.json", "w", encoding="utf-8") as f:
        json.dump({"requirements": reqs}, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print("%d requirements" % len(reqs))


if __name__ == "__main__":
    main()
