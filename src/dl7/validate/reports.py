"""Validation reports: JSON for tools, JUnit XML for CI (one test case per case and per known mistake).

A JSON report reads back into the same :class:`Report` (:func:`report_from_json`), so the
reports of shards can be merged into one (:mod:`dl7.validate.shards`).
"""

from __future__ import annotations

from typing import Any

from dl7.validate.model import CaseResult, MistakeOutcome, Problem, Report, RunAllStop, ShardPlan


def report_json(report: Report) -> dict[str, Any]:
    shard = report.shard
    return {
        "course": report.course,
        "ok": report.ok,
        "seconds": round(report.seconds, 2),
        "executed": report.executed,
        "known_mistakes": report.known_mistakes,
        "cases": [
            {
                "notebook": c.notebook,
                "case": c.case,
                "ok": c.ok,
                "cached": c.cached,
                "skipped": c.skipped,
                "seconds": round(c.seconds, 2),
                "problems": [{"exercise": p.exercise, "reason": p.reason} for p in c.problems],
                **(
                    {
                        "mistakes": [
                            {
                                "exercise": m.exercise,
                                "label": m.label,
                                "ok": m.ok,
                                "status": m.status,
                                "message": m.message,
                            }
                            for m in c.mistakes
                        ]
                    }
                    if c.mistakes
                    else {}
                ),
                **(
                    {"stopped_run_all": [{"cell": s.cell, "error": s.error} for s in c.stopped_run_all]}
                    if c.stopped_run_all
                    else {}
                ),
            }
            for c in report.cases
        ],
        **(
            {
                "shard": {
                    "index": shard.index,
                    "count": shard.count,
                    "plan": shard.plan,
                    "cases": shard.cases,
                    "notebooks": list(shard.notebooks),
                }
            }
            if shard is not None
            else {}
        ),
    }


def report_from_json(data: dict[str, Any]) -> Report:
    """The report :func:`report_json` wrote; KeyError, TypeError or ValueError if it is not one."""
    if not isinstance(data, dict) or not isinstance(data["cases"], list):
        raise TypeError("a JSON object with a list of cases was expected")
    cases = tuple(
        CaseResult(
            str(c["notebook"]),
            str(c["case"]),
            bool(c["ok"]),
            tuple(Problem(p["exercise"], str(p["reason"])) for p in c["problems"]),
            float(c["seconds"]),
            cached=bool(c["cached"]),
            skipped=bool(c["skipped"]),
            mistakes=tuple(
                MistakeOutcome(
                    str(m["exercise"]), str(m["label"]), str(m["status"]), str(m["message"]), bool(m["ok"])
                )
                for m in c.get("mistakes", [])
            ),
            stopped_run_all=tuple(
                RunAllStop(int(s["cell"]), str(s["error"])) for s in c.get("stopped_run_all", [])
            ),
        )
        for c in data["cases"]
    )
    shard = data.get("shard")
    plan = (
        ShardPlan(
            int(shard["index"]),
            int(shard["count"]),
            str(shard["plan"]),
            int(shard["cases"]),
            tuple(map(str, shard["notebooks"])),
        )
        if shard is not None
        else None
    )
    return Report(str(data["course"]), cases, float(data["seconds"]), int(data["executed"]), shard=plan)


def junit_xml(report: Report) -> str:
    from xml.etree import ElementTree as ET

    suite = ET.Element("testsuite", name=f"dl7.validate.{report.course}", errors="0", skipped="0")
    tests = failures = 0
    for c in report.cases:
        if c.mistakes:
            # One test case per known mistake: CI lists each mistake a check must reject.
            share = c.seconds / len(c.mistakes)
            for m in c.mistakes:
                tests += 1
                case = ET.SubElement(
                    suite,
                    "testcase",
                    classname=c.notebook,
                    name=f"mistake {m.exercise}: {m.label}",
                    time=f"{share:.2f}",
                )
                reasons = [p for p in c.problems if p.exercise == m.exercise and m.label in p.reason]
                if not m.ok:
                    failures += 1
                    text = reasons[0].reason if reasons else f"passes with the known mistake {m.label!r}"
                    ET.SubElement(
                        case, "failure", message=f"{m.exercise}: {text}", type="dl7.validate"
                    ).text = text
                else:
                    out = (
                        "cached: inputs unchanged since it last failed as it should"
                        if c.cached
                        else m.message
                    )
                    ET.SubElement(case, "system-out").text = f"{m.status}: {out}"
            others = [
                p
                for p in c.problems
                if not any(p.exercise == m.exercise and m.label in p.reason for m in c.mistakes)
            ]
            if not others:
                continue
            c_problems = tuple(others)
        else:
            c_problems = c.problems
        tests += 1
        case = ET.SubElement(suite, "testcase", classname=c.notebook, name=c.case, time=f"{c.seconds:.2f}")
        if not c.ok or c_problems:
            failures += 1
            text = "\n".join(f"{p.exercise}: {p.reason}" if p.exercise else p.reason for p in c_problems)
            first = c_problems[0] if c_problems else Problem(None, "failed")
            message = f"{first.exercise}: {first.reason}" if first.exercise else first.reason
            ET.SubElement(case, "failure", message=message, type="dl7.validate").text = text
        elif c.cached:
            ET.SubElement(case, "system-out").text = "cached: inputs unchanged since it last passed"
        elif c.stopped_run_all:
            ET.SubElement(case, "system-out").text = "Run All in JupyterLab stops at " + ", ".join(
                f"cell {s.cell} ({s.error})" for s in c.stopped_run_all
            )
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("time", f"{report.seconds:.2f}")
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
