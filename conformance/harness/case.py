"""The @case decorator: every check of the suite has a stable hierarchical id, the spec
requirement(s) it checks, a level and a profile."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Sequence, Tuple, Union

CASE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*(/[a-z0-9][a-z0-9_.-]*)+$")
LEVELS = ("MUST", "SHOULD", "INFO")
PROFILES = ("core", "events", "discord")
# What a case may need beyond a reachable target; unmet needs skip the case.
NEEDS = ("launch", "mock", "approver2", "unix", "root")


@dataclass
class CaseMeta:
    id: str
    reqs: List[str]
    level: str
    profile: str
    needs: Tuple[str, ...]
    title: str
    module: str
    qualname: str
    area: str = field(init=False)

    def __post_init__(self) -> None:
        self.area = self.id.split("/")[0]

    def to_json(self) -> Dict[str, object]:
        return {"id": self.id, "requirements": self.reqs, "level": self.level,
                "profile": self.profile, "needs": list(self.needs), "title": self.title}


REGISTRY: Dict[str, CaseMeta] = {}
PROBLEMS: List[str] = []


def case(id: str, req: Union[str, Sequence[str]], level: str = "MUST", profile: str = "core",
         needs: Sequence[str] = ()) -> Callable:
    """Declare a conformance case.

    id:      stable hierarchical id, e.g. "rpc/envelope/id-null-is-request"
    req:     requirement id(s) of spec/requirements.json it checks
    level:   MUST (a failure fails the run), SHOULD (a warning unless --strict),
             INFO (behaviour the spec leaves open: reported, never fails)
    profile: core | events | discord (skipped unless the target declares it)
    needs:   launch | mock | approver2 | unix | root (skipped when not available)
    """
    reqs = [req] if isinstance(req, str) else list(req)

    def deco(fn: Callable) -> Callable:
        doc = (fn.__doc__ or "").strip().splitlines()
        meta = CaseMeta(id=id, reqs=reqs, level=level, profile=profile, needs=tuple(needs),
                        title=doc[0].strip() if doc else fn.__name__, module=fn.__module__,
                        qualname=fn.__qualname__)
        if not CASE_ID_RE.match(id):
            PROBLEMS.append("case id %r is not of the form area/topic/name (lowercase)" % id)
        if level not in LEVELS:
            PROBLEMS.append("case %s: level %r is not one of %s" % (id, level, LEVELS))
        if profile not in PROFILES:
            PROBLEMS.append("case %s: profile %r is not one of %s" % (id, profile, PROFILES))
        for n in needs:
            if n not in NEEDS:
                PROBLEMS.append("case %s: unknown need %r" % (id, n))
        if not reqs:
            PROBLEMS.append("case %s names no requirement" % id)
        old = REGISTRY.get(id)
        if old is not None and (old.module, old.qualname) != (meta.module, meta.qualname):
            PROBLEMS.append("case id %s is declared twice (%s.%s and %s.%s)" % (
                id, old.module, old.qualname, meta.module, meta.qualname))
        REGISTRY[id] = meta
        fn._assent_case = meta
        return fn

    return deco


def generated(prefix: str, generator: Callable, level: str = "MUST", profile: str = "core",
              needs: Sequence[str] = ()) -> Callable:
    """Declare a family of cases built from the spec at collection time. `generator(spec)`
    returns dicts with at least id (appended to prefix), reqs and title; each becomes a
    case with its own id, and the test function receives the dict as `gen`."""

    def deco(fn: Callable) -> Callable:
        fn._assent_generated = {"prefix": prefix, "generator": generator, "level": level,
                                "profile": profile, "needs": tuple(needs)}
        return fn

    return deco


def register_generated(fn: Callable, spec: object) -> List[Dict[str, object]]:
    g = fn._assent_generated
    items = g["generator"](spec)
    for it in items:
        cid = "%s/%s" % (g["prefix"], it["id"])
        it["case_id"] = cid
        meta = CaseMeta(id=cid, reqs=list(it["reqs"]), level=it.get("level", g["level"]),
                        profile=it.get("profile", g["profile"]), needs=tuple(g["needs"]),
                        title=it["title"], module=fn.__module__, qualname=fn.__qualname__ + "[" + it["id"] + "]")
        if not CASE_ID_RE.match(cid):
            PROBLEMS.append("generated case id %r is malformed" % cid)
        old = REGISTRY.get(cid)
        if old is not None and old.qualname != meta.qualname:
            PROBLEMS.append("generated case id %s collides with %s" % (cid, old.qualname))
        REGISTRY[cid] = meta
    return items
