"""results.json and a static report.html (a matrix by area; each failure with expected,
actual and its full HTTP exchanges). No JavaScript."""

from __future__ import annotations

import html
import json
import time
from typing import Any, Dict, List

COLORS = {"pass": "#2e7d32", "fail": "#c62828", "xfail": "#8d6e63", "stale": "#ad1457",
          "skip": "#9e9e9e", "warn": "#ef6c00", "info": "#1565c0", "suite-bug": "#6a1b9a"}


def write_reports(run: Any, verdict: str, reasons: List[str], tb: Dict[str, Any]) -> None:
    run.report_dir.mkdir(parents=True, exist_ok=True)
    target = run.target
    doc = {
        "suite": "assent-conformance",
        "protocol_version": run.spec.openrpc.get("info", {}).get("version"),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(run.started)),
        "duration_s": round(time.time() - run.started, 3),
        "verdict": verdict,
        "verdict_reasons": reasons,
        "strict": run.strict,
        "selects": run.selects,
        "target": {
            "mode": "launch" if run.launch_template else "url",
            "launch": run.launch_template,
            "url": run.target_url,
            "info": target.info if target else None,
            "profiles": target.profiles if target else None,
            "error": run.target_error,
            "startup_s": run.main_launcher.startup_s if run.main_launcher else None,
        },
        "counts": run.counts(),
        "known_failures_file": run.known_path,
        "suite_problems": run.problems,
        "traceability": tb,
        "cases": [run.results[c].to_json() for c in run.selected],
    }
    (run.report_dir / "results.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False))
    (run.report_dir / "report.html").write_text(render_html(doc, run))


def _e(s: Any) -> str:
    return html.escape("" if s is None else str(s))


def _exchange_html(x: Dict[str, Any]) -> str:
    req = x["request"]
    out = ["<div class=ex>"]
    tag = " <b>(deliberately invalid)</b>" if req.get("deliberately_invalid") else ""
    src = " from %s" % x["source"] if x.get("source") else ""
    out.append("<div class=exh>%s %s via %s %s%s%s — %.1f ms</div>" % (
        _e(req["method"]), _e(req["path"]), _e(x["transport"]), _e(x["address"]), _e(src), tag,
        x.get("elapsed_ms", 0)))
    lines = ["%s %s HTTP/1.1" % (req["method"], req["path"])]
    lines += ["%s: %s" % (k, v) for k, v in req["headers"]]
    body = req["body"]
    lines.append("")
    lines.append(body["text"] + ("\n… (%d bytes in all)" % body["length"] if body.get("truncated") else ""))
    out.append("<pre>%s</pre>" % _e("\n".join(lines)))
    resp = x.get("response")
    if resp:
        lines = ["HTTP/1.1 %s %s" % (resp["status"], resp.get("reason", ""))]
        lines += ["%s: %s" % (k, v) for k, v in resp["headers"]]
        lines.append("")
        b = resp["body"]
        lines.append(b["text"] + ("\n… (%d bytes in all)" % b["length"] if b.get("truncated") else ""))
        out.append("<pre class=resp>%s</pre>" % _e("\n".join(lines)))
    else:
        out.append("<pre class=resp>no answer: %s</pre>" % _e(x.get("transport_error")))
    for n in x.get("notes", []):
        out.append("<div class=note>%s</div>" % _e(n))
    out.append("</div>")
    return "\n".join(out)


def render_html(doc: Dict[str, Any], run: Any) -> str:
    cases = doc["cases"]
    areas: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}
    for c in cases:
        area = c["id"].split("/")[0]
        topic = "/".join(c["id"].split("/")[:2])
        areas.setdefault(area, {}).setdefault(topic, []).append(c)
    h = ["<!doctype html><meta charset=utf-8><title>Assent conformance report</title>",
         "<style>body{font:14px/1.4 sans-serif;margin:1.5em;max-width:1400px}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}"
         ".st{color:#fff;padding:1px 5px;border-radius:3px;font-size:12px}"
         "pre{background:#f6f6f6;padding:6px;overflow-x:auto;white-space:pre-wrap;word-break:break-all;max-height:30em;overflow-y:auto}"
         "pre.resp{background:#eef4fb}.ex{margin:0 0 1em 1em}.exh{font-weight:bold;font-size:12px}"
         ".note{color:#c62828;font-size:12px}.cell{display:inline-block;width:14px;height:14px;margin:1px}"
         "details{margin:.3em 0}summary{cursor:pointer}</style>"]
    t = doc["target"]
    info = t.get("info") or {}
    verdict_color = COLORS["pass"] if doc["verdict"] == "pass" else COLORS["fail"]
    h.append("<h1>Assent conformance: <span class=st style='background:%s'>%s</span></h1>" % (
        verdict_color, _e(doc["verdict"].upper())))
    h.append("<p>Target: %s %s, protocol %s, profiles %s (%s). Started %s, %.1f s.%s</p>" % (
        _e(info.get("name", "?")), _e(info.get("daemon_version", "?")), _e(info.get("protocol_version", "?")),
        _e(",".join(t.get("profiles") or [])), _e(t["mode"]), _e(doc["started"]), doc["duration_s"],
        " Strict." if doc["strict"] else ""))
    if t.get("error"):
        h.append("<p><b>Target not reached:</b><pre>%s</pre></p>" % _e(t["error"]))
    if doc["verdict_reasons"]:
        h.append("<ul>%s</ul>" % "".join("<li>%s</li>" % _e(r) for r in doc["verdict_reasons"]))
    h.append("<p>%s</p>" % " ".join("<span class=st style='background:%s'>%s %d</span>" % (COLORS[s], s, n)
                                    for s, n in doc["counts"].items() if n))
    # Matrix.
    h.append("<h2>Matrix by area</h2><table><tr><th>area</th><th>topic</th><th>cases</th></tr>")
    for area in sorted(areas):
        first = True
        for topic in sorted(areas[area]):
            cells = "".join("<a href='#%s' title='%s: %s'><span class=cell style='background:%s'></span></a>" % (
                _e(c["id"]), _e(c["id"]), _e(c["status"]), COLORS.get(c["status"], "#000"))
                for c in areas[area][topic])
            h.append("<tr><td>%s</td><td>%s</td><td>%s</td></tr>" % (_e(area) if first else "", _e(topic), cells))
            first = False
    h.append("</table>")
    # Problems first.
    bad = [c for c in cases if c["status"] in ("fail", "stale", "suite-bug", "warn")]
    if bad:
        h.append("<h2>Failures and warnings</h2>")
        for c in bad:
            h.append(_case_html(c, open_=True))
    h.append("<h2>All cases</h2><table><tr><th>case</th><th>status</th><th>level</th><th>profile</th><th>requirements</th><th>ms</th><th>title / message</th></tr>")
    for c in cases:
        h.append("<tr id='%s'><td><a href='#d-%s'>%s</a></td><td><span class=st style='background:%s'>%s</span></td><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%s%s</td></tr>" % (
            _e(c["id"]), _e(c["id"]), _e(c["id"]), COLORS.get(c["status"], "#000"), _e(c["status"]),
            _e(c["level"]), _e(c["profile"]), _e(", ".join(c["requirements"])), c["duration_s"] * 1000,
            _e(c["title"]), ("<br><small>%s</small>" % _e(c["message"][:300])) if c["message"] else ""))
    h.append("</table><h2>Case details</h2>")
    for c in cases:
        h.append(_case_html(c, open_=False))
    tb = doc["traceability"]
    h.append("<h2>Traceability</h2>")
    h.append("<p>%d requirements covered by at least one case; %d excluded with a reason.</p>" % (
        len(tb["covered"]), len(tb["excluded"])))
    if tb["uncovered_must"]:
        h.append("<p style='color:#c62828'><b>MUST requirements without a case:</b> %s</p>" % _e(", ".join(tb["uncovered_must"])))
    if tb["uncovered_other"]:
        h.append("<p><b>SHOULD/MAY requirements without a case:</b> %s</p>" % _e(", ".join(tb["uncovered_other"])))
    h.append("<table><tr><th>requirement</th><th>level</th><th>cases / exclusion</th></tr>")
    for r in run.spec.requirements:
        rid = r["id"]
        if rid in tb["covered"]:
            cell = ", ".join("<a href='#%s'>%s</a>" % (_e(c), _e(c)) for c in tb["covered"][rid])
        elif rid in tb["excluded"]:
            cell = "<i>excluded: %s</i>" % _e(tb["excluded"][rid])
        else:
            cell = "<b style='color:#c62828'>no case</b>"
        h.append("<tr><td title='%s'>%s</td><td>%s</td><td>%s</td></tr>" % (_e(r["text"]), _e(rid), _e(r["level"]), cell))
    h.append("</table>")
    return "\n".join(h)


def _case_html(c: Dict[str, Any], open_: bool) -> str:
    anchor = "" if open_ else " id='d-%s'" % _e(c["id"])
    out = ["<details%s%s><summary><span class=st style='background:%s'>%s</span> <b>%s</b> — %s (%s; %s)</summary>" % (
        anchor, " open" if open_ else "", COLORS.get(c["status"], "#000"), _e(c["status"]), _e(c["id"]),
        _e(c["title"]), _e(c["level"]), _e(", ".join(c["requirements"])))]
    if c["message"]:
        out.append("<pre>%s</pre>" % _e(c["message"]))
    if c.get("violated_requirement"):
        out.append("<p>Requirement: %s</p>" % _e(c["violated_requirement"]))
    if "expected" in c:
        out.append("<table><tr><th>expected</th><td><pre>%s</pre></td></tr><tr><th>actual</th><td><pre>%s</pre></td></tr></table>" % (
            _e(c["expected"]), _e(c["actual"])))
    if c.get("known_failure"):
        out.append("<p>Known failure: %s</p>" % _e(c["known_failure"]))
    if c.get("location"):
        out.append("<p>At %s</p>" % _e(c["location"]))
    for n in c.get("notes", []):
        out.append("<p>Note: %s</p>" % _e(n))
    exs = c.get("exchanges", [])
    if c["status"] in ("pass", "skip") and not open_:
        if exs:
            out.append("<p>%d exchange(s), in results.json.</p>" % len(exs))
    else:
        for x in exs:
            out.append(_exchange_html(x))
    out.append("</details>")
    return "\n".join(out)
