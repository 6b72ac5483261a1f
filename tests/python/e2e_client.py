#!/usr/bin/env python3
"""End-to-end check of a running imagedex server with Datadog's official Python client.

imagedex serves a wire-compatible ``GET /api/v2/container_images``.  This script talks to
it through ``datadog-api-client`` (the same code Datadog users run) and checks the answers
against records it derives, on its own, from the Trivy JSON reports the server imported.

Usage::

    e2e_client.py --url http://127.0.0.1:PORT --api-key K --app-key A \\
                  --other-api-key K2 --other-app-key A2 --fixtures DIR
    e2e_client.py --fixtures DIR --print-expected     # only print the expected records

The organisation of (K, A) must hold exactly the images imported from every ``*.json`` in
DIR (no extra tags); the organisation of (K2, A2) must hold none.

Every check asserts on the models the client parsed: an item must come back as a
``ContainerImage`` / ``ContainerImageGroup`` with ``_unparsed`` False.  The client does not
raise on wrong field types or unknown enum values (it degrades them to "unparsed"
objects), so a call that merely succeeds proves nothing.

Exit status: 0 and ``e2e: N checks passed`` when everything holds; otherwise a message
saying what was expected and what was got, and exit status 1.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import itertools
import json
import os
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional
from urllib.parse import unquote

# --------------------------------------------------------------------------------------
# Assertion helpers
# --------------------------------------------------------------------------------------


class CheckFailed(Exception):
    """Raised by expect() on the first failed assertion."""


class Checks:
    """Counts passed assertions and remembers which check is running."""

    def __init__(self) -> None:
        self.passed = 0
        self.section = ""


CHECKS = Checks()


def expect(cond: bool, msg: str) -> None:
    """Record one assertion; raise CheckFailed with `msg` when it does not hold."""
    if not cond:
        raise CheckFailed(msg)
    CHECKS.passed += 1


def expect_eq(got: Any, want: Any, what: str) -> None:
    expect(got == want, f"{what}: expected {want!r}, got {got!r}")


def expect_ids(got: list[str], want: list[str], what: str, ordered: bool = True) -> None:
    """Compare id lists, reporting duplicates / missing / unexpected ids before order."""
    dups = sorted(i for i, n in collections.Counter(got).items() if n > 1)
    expect(not dups, f"{what}: ids returned more than once: {dups}")
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    expect(
        not missing and not extra,
        f"{what}: wrong set of ids; missing {missing}, unexpected {extra} "
        f"(expected {len(want)} ids, got {len(got)})",
    )
    if ordered:
        expect(got == want, f"{what}: wrong order;\n  expected {want}\n  got      {got}")


# --------------------------------------------------------------------------------------
# Expected data, computed from the Trivy reports
# --------------------------------------------------------------------------------------

SEVERITIES = ("critical", "high", "medium", "low", "unknown")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")  # a file path, not an image reference
FLAVOR_FIELDS = ("built_at", "os_architecture", "os_name", "os_version", "size")
DOCKER_HUB = "docker.io"


def split_registry(name: str) -> tuple[str, str, str]:
    """Docker reference normalisation of a name (no tag/digest): (name, registry, repository).

    The first path component is a registry when it contains "." or ":" or is "localhost";
    otherwise the registry is docker.io, where a one-component repository gets "library/".
    """
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = DOCKER_HUB, name
    if registry == DOCKER_HUB and "/" not in repository:
        repository = "library/" + repository
    return f"{registry}/{repository}", registry, repository


def split_tag(ref: str) -> tuple[str, Optional[str]]:
    """"name:tag" -> (name, tag); the tag is after the last ':' that follows the last '/'."""
    colon = ref.rfind(":")
    if colon > ref.rfind("/"):
        return ref[:colon], ref[colon + 1 :]
    return ref, None


def parse_reference(ref: str) -> tuple[str, Optional[str], Optional[str]]:
    """A full reference "[registry/]repo[:tag][@digest]" -> (raw name, tag, digest)."""
    ref, _, digest = ref.partition("@")
    name, tag = split_tag(ref)
    return name, tag, (digest or None)


def is_none_entry(entry: str) -> bool:
    return "<none>" in entry


def format_built_at(created: Optional[str]) -> Optional[str]:
    """RFC 3339 timestamp -> "YYYY-MM-DDTHH:MM:SSZ" in UTC, fraction dropped."""
    if not created:
        return None
    m = re.fullmatch(
        r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?",
        created.strip(),
    )
    if not m:
        raise ValueError(f"cannot parse ImageConfig.created {created!r}")
    year, month, day, hour, minute, second, zone = m.groups()
    t = dt.datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=dt.timezone.utc
    )
    if zone and zone not in "Zz":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        t -= sign * offset  # local = UTC + offset
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Expected:
    """One expected container image record."""

    id: str
    name: str
    registry: Optional[str]
    repository: str
    short_image: str
    repo_digest: Optional[str]
    image_tags: set[str] = field(default_factory=set)
    image_ids: set[str] = field(default_factory=set)
    flavors: list[dict] = field(default_factory=list)  # distinct flavors
    # (VulnerabilityID, PkgName, InstalledVersion) -> severity bucket; None = no scan data
    vulns: Optional[dict[tuple[str, str, str], str]] = None
    files: list[str] = field(default_factory=list)

    # ---- derived attributes ------------------------------------------------------

    @property
    def tags(self) -> set[str]:
        """Tags the record must carry at least (lowercase key:value)."""
        tags = {
            f"image_name:{self.name}",
            f"short_image:{self.short_image}",
            f"repository:{self.repository}",
            "source:trivy",
        }
        if self.registry:
            tags.add(f"registry:{self.registry}")
        tags |= {f"image_tag:{t}" for t in self.image_tags}
        tags |= {f"image_id:{i}" for i in self.image_ids}
        for f in self.flavors:
            if f["os_name"]:
                tags.add(f"os_name:{f['os_name']}")
            if f["os_architecture"]:
                tags.add(f"os_architecture:{f['os_architecture']}")
        return {t.lower() for t in tags}

    # Per-platform arrays hold one entry per flavor (sizes, images_built_at); the OS
    # arrays hold distinct values.  Both are compared without regard to order.
    @property
    def sizes(self) -> list[int]:
        return sorted(f["size"] for f in self.flavors if f["size"] is not None)

    @property
    def images_built_at(self) -> list[str]:
        return sorted(f["built_at"] for f in self.flavors if f["built_at"] is not None)

    def distinct(self, key: str) -> list[str]:
        return sorted({f[key] for f in self.flavors if f[key] is not None})

    @property
    def max_size(self) -> Optional[int]:
        return max(self.sizes) if self.sizes else None

    @property
    def vulnerability_count(self) -> Optional[dict[str, Any]]:
        if self.vulns is None:
            return None
        counts: dict[str, Any] = {s: 0 for s in SEVERITIES}
        for severity in self.vulns.values():
            counts[severity] += 1
        counts["none"] = 0
        counts["asset_id"] = self.id
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "short_image": self.short_image,
            "registry": self.registry,
            "repository": self.repository,
            "repo_digest": self.repo_digest,
            "image_tags": sorted(self.image_tags),
            "sizes": self.sizes,
            "os_names": self.distinct("os_name"),
            "os_architectures": self.distinct("os_architecture"),
            "os_versions": self.distinct("os_version"),
            "images_built_at": self.images_built_at,
            "image_flavors": sorted(self.flavors, key=flavor_key),
            "sources": ["trivy"],
            "container_count": 0,
            "vulnerability_count": self.vulnerability_count,
            "tags": sorted(self.tags),
            "files": self.files,
        }


def flavor_key(f: dict) -> tuple:
    return tuple((k, "" if f.get(k) is None else str(f.get(k))) for k in FLAVOR_FIELDS)


def report_names(report: dict) -> dict[str, dict]:
    """Image names of one report: name -> {registry, repository, digest, tags}."""
    meta = report.get("Metadata") or {}
    names: dict[str, dict] = {}

    def entry(raw_name: str) -> dict:
        name, registry, repository = split_registry(raw_name)
        return names.setdefault(
            name, {"registry": registry, "repository": repository, "digest": None, "tags": set()}
        )

    for ref in meta.get("RepoDigests") or []:
        if is_none_entry(ref):
            continue
        raw, _, digest = ref.partition("@")
        e = entry(raw)
        if digest and e["digest"] is None:
            e["digest"] = digest
    for ref in meta.get("RepoTags") or []:
        if is_none_entry(ref):
            continue
        raw, tag = split_tag(ref)
        e = entry(raw)
        if tag:
            e["tags"].add(tag)
    if names:
        return names

    artifact = report.get("ArtifactName") or ""
    for suffix in ARCHIVE_SUFFIXES:
        if artifact.endswith(suffix):
            base = os.path.basename(artifact)[: -len(suffix)]
            return {base: {"registry": None, "repository": base, "digest": None, "tags": set()}}
    if not artifact:
        return {}
    raw, tag, digest = parse_reference(artifact)
    e = entry(raw)
    e["digest"] = digest
    if tag:
        e["tags"].add(tag)
    return names


def report_flavor(report: dict) -> dict:
    meta = report.get("Metadata") or {}
    config = meta.get("ImageConfig") or {}
    size = meta.get("Size")
    return {
        "built_at": format_built_at(config.get("created")),
        "os_architecture": config.get("architecture"),
        "os_name": config.get("os"),
        "os_version": (meta.get("OS") or {}).get("Name"),
        "size": size if isinstance(size, int) and size > 0 else None,
    }


def report_vulns(report: dict) -> Optional[dict[tuple[str, str, str], str]]:
    """Distinct (VulnerabilityID, PkgName, InstalledVersion) -> bucket; None without Results."""
    if "Results" not in report:
        return None
    vulns: dict[tuple[str, str, str], str] = {}
    for result in report.get("Results") or []:
        for v in result.get("Vulnerabilities") or []:
            key = (v.get("VulnerabilityID", ""), v.get("PkgName", ""), v.get("InstalledVersion", ""))
            severity = str(v.get("Severity") or "unknown").lower()
            vulns.setdefault(key, severity if severity in SEVERITIES else "unknown")
    return vulns


def expected_records(fixtures: Path) -> list[Expected]:
    """Expected records of every *.json report in `fixtures`, ordered by (name, id)."""
    files = sorted(fixtures.glob("*.json"))
    if not files:
        raise SystemExit(f"e2e: no *.json reports in {fixtures}")
    records: dict[str, Expected] = {}
    for path in files:
        report = json.loads(path.read_text())
        meta = report.get("Metadata") or {}
        image_id = meta.get("ImageID")
        flavor = report_flavor(report)
        vulns = report_vulns(report)
        names = report_names(report)
        if not names:
            raise SystemExit(f"e2e: cannot derive an image name from {path}")
        for name, e in names.items():
            locator = e["digest"] or image_id
            if not locator:
                raise SystemExit(f"e2e: {path} has neither a repo digest nor an ImageID for {name}")
            rid = f"{name}@{locator}"
            rec = records.get(rid)
            if rec is None:
                rec = records[rid] = Expected(
                    id=rid,
                    name=name,
                    registry=e["registry"],
                    repository=e["repository"],
                    short_image=e["repository"].rsplit("/", 1)[-1],
                    repo_digest=e["digest"],
                )
            rec.image_tags |= e["tags"]
            if image_id:
                rec.image_ids.add(image_id)
            if flavor_key(flavor) not in {flavor_key(f) for f in rec.flavors}:
                rec.flavors.append(flavor)
            if vulns is not None:
                merged = rec.vulns if rec.vulns is not None else {}
                for key, severity in vulns.items():
                    merged.setdefault(key, severity)
                rec.vulns = merged
            rec.files.append(path.name)
    return sorted(records.values(), key=lambda r: (r.name, r.id))


def matching(records: list[Expected], filter_tags: str) -> list[Expected]:
    """Records carrying every comma-separated tag of `filter_tags` (case-insensitive)."""
    terms = [t.strip().lower() for t in filter_tags.split(",") if t.strip()]
    return [r for r in records if all(t in r.tags for t in terms)]


# --------------------------------------------------------------------------------------
# Client plumbing
# --------------------------------------------------------------------------------------


def import_client():
    """Import the client lazily so that --print-expected works without it."""
    global ApiClient, Configuration, ApiException, ContainerImagesApi
    global ContainerImage, ContainerImageGroup, ContainerImageItem, ContainerImagesResponse
    from datadog_api_client import ApiClient, Configuration
    from datadog_api_client.exceptions import ApiException
    from datadog_api_client.v2.api.container_images_api import ContainerImagesApi
    from datadog_api_client.v2.model.container_image import ContainerImage
    from datadog_api_client.v2.model.container_image_group import ContainerImageGroup
    from datadog_api_client.v2.model.container_image_item import ContainerImageItem
    from datadog_api_client.v2.model.container_images_response import ContainerImagesResponse


@contextmanager
def images_api(url: str, api_key: Optional[str], app_key: Optional[str]) -> Iterator[Any]:
    """A ContainerImagesApi on `url`; a key of None is left out of the request."""
    conf = Configuration(host=url)
    conf.enable_retry = False
    # Configuration() fills keys from DD_API_KEY / DD_APP_KEY: set or clear them explicitly.
    for scheme, key in (("apiKeyAuth", api_key), ("appKeyAuth", app_key)):
        if key is None:
            conf.api_key.pop(scheme, None)
        else:
            conf.api_key[scheme] = key
    with ApiClient(conf) as client:
        yield ContainerImagesApi(client)


def enum_value(v: Any) -> Any:
    """The plain value of a client enum (ModelSimple), or `v` itself."""
    return getattr(v, "value", v) if v is not None else None


def as_list(v: Any) -> list:
    """An absent/null array counts as empty."""
    return [] if v is None else list(v)


def raw(model: Any) -> str:
    """Best-effort dump of a model for error messages."""
    try:
        return json.dumps(model.to_dict(), default=str)[:1000]
    except Exception:  # noqa: BLE001 - only for messages
        return repr(getattr(model, "_data_store", model))[:1000]


def response_items(resp: Any, what: str) -> list:
    """Check the response model parsed and return its `data` list."""
    expect(
        isinstance(resp, ContainerImagesResponse),
        f"{what}: expected a ContainerImagesResponse, got {type(resp).__name__}",
    )
    data = resp.get("data")
    if getattr(resp, "_unparsed", False):
        bad = [i for i, item in enumerate(data or []) if getattr(item, "_unparsed", False)]
        culprit = f"data[{bad[0]}] = {raw(data[bad[0]])}" if bad else f"meta = {raw(resp.get('meta'))}"
        expect(False, f"{what}: the client could not fully parse the response (resp._unparsed is True); "
               f"first unparsed part: {culprit}")
    expect(isinstance(data, list), f"{what}: expected `data` to be a list, got {data!r}")
    return data


def pagination_of(resp: Any, what: str) -> Any:
    meta = resp.get("meta")
    expect(meta is not None, f"{what}: response has no `meta`")
    page = meta.get("pagination")
    expect(page is not None, f"{what}: response has no `meta.pagination`")
    return page


def one_of(item: Any, cls: Any, type_value: str, what: str) -> Any:
    """The parsed oneOf member of a ContainerImageItem, required to be `cls`."""
    expect(
        isinstance(item, ContainerImageItem),
        f"{what}: expected a ContainerImageItem, got {type(item).__name__}",
    )
    inst = item.get_oneof_instance()
    expect(
        isinstance(inst, cls),
        f"{what}: expected the item to parse as {cls.__name__}, got {type(inst).__name__}: {raw(inst)}",
    )
    expect(
        item._unparsed is False and inst._unparsed is False,
        f"{what}: expected a fully parsed {cls.__name__} (_unparsed False), got _unparsed True: {raw(inst)}",
    )
    expect_eq(enum_value(inst.get("type")), type_value, f"{what}: type")
    return inst


def as_image(item: Any, what: str) -> Any:
    return one_of(item, ContainerImage, "container_image", what)


def as_group(item: Any, what: str) -> Any:
    return one_of(item, ContainerImageGroup, "container_image_group", what)


def take_all(items: Iterable[Any], bound: int, what: str) -> list:
    """Drain a pagination generator, failing if it yields more than `bound` items."""
    got = list(itertools.islice(items, bound + 1))
    expect(len(got) <= bound, f"{what}: pagination did not end after {bound} items (looping cursor?)")
    return got


# --------------------------------------------------------------------------------------
# Comparison of one image with its expected record
# --------------------------------------------------------------------------------------


def flavor_dict(flavor: Any) -> dict:
    return {k: flavor.get(k) for k in FLAVOR_FIELDS}


def compare_image(img: Any, exp: Expected, what: str) -> None:
    what = f"{what} (id {exp.id})"
    expect_eq(img.get("id"), exp.id, f"{what}: id")
    a = img.get("attributes")
    expect(a is not None, f"{what}: no attributes")
    expect_eq(a.get("name"), exp.name, f"{what}: attributes.name")
    expect_eq(a.get("short_image"), exp.short_image, f"{what}: attributes.short_image")
    expect_eq(a.get("registry"), exp.registry, f"{what}: attributes.registry (None = absent)")
    expect_eq(a.get("repository"), exp.repository, f"{what}: attributes.repository")
    expect_eq(a.get("repo_digest"), exp.repo_digest, f"{what}: attributes.repo_digest (None = absent)")
    expect_eq(as_list(a.get("image_tags")), sorted(exp.image_tags), f"{what}: attributes.image_tags (sorted)")
    expect_eq(sorted(as_list(a.get("sizes"))), exp.sizes, f"{what}: attributes.sizes")
    expect_eq(sorted(as_list(a.get("os_names"))), exp.distinct("os_name"), f"{what}: attributes.os_names")
    expect_eq(
        sorted(as_list(a.get("os_architectures"))),
        exp.distinct("os_architecture"),
        f"{what}: attributes.os_architectures",
    )
    expect_eq(sorted(as_list(a.get("os_versions"))), exp.distinct("os_version"), f"{what}: attributes.os_versions")
    expect_eq(
        sorted(as_list(a.get("images_built_at"))), exp.images_built_at, f"{what}: attributes.images_built_at"
    )
    got_flavors = sorted((flavor_dict(f) for f in as_list(a.get("image_flavors"))), key=flavor_key)
    expect_eq(got_flavors, sorted(exp.flavors, key=flavor_key), f"{what}: attributes.image_flavors")
    expect_eq(as_list(a.get("sources")), ["trivy"], f"{what}: attributes.sources")
    expect_eq(a.get("container_count"), 0, f"{what}: attributes.container_count")
    expect_eq(a.get("published_at"), None, f"{what}: attributes.published_at (must be absent)")

    want_vc = exp.vulnerability_count
    vc = a.get("vulnerability_count")
    if want_vc is None:
        expect_eq(vc, None, f"{what}: attributes.vulnerability_count (no scan data: absent)")
    else:
        expect(vc is not None, f"{what}: attributes.vulnerability_count: expected {want_vc}, got it absent")
        got_vc = {k: vc.get(k) for k in want_vc}
        expect_eq(got_vc, want_vc, f"{what}: attributes.vulnerability_count")

    tags = as_list(a.get("tags"))
    missing = sorted(exp.tags - set(tags))
    expect(not missing, f"{what}: attributes.tags lacks {missing}; got {sorted(tags)}")


# --------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------


@dataclass
class Context:
    url: str
    api_key: str
    app_key: str
    other_api_key: str
    other_app_key: str
    expected: list[Expected]

    def api(self):
        return images_api(self.url, self.api_key, self.app_key)

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.expected]

    @property
    def bound(self) -> int:
        return 3 * len(self.expected) + 10


def check_list_default(ctx: Context) -> None:
    """1. list_container_images(): one page holding every record, in (name, id) order."""
    with ctx.api() as api:
        resp = api.list_container_images()
    what = "list_container_images()"
    images = [as_image(item, f"{what} data[{i}]") for i, item in enumerate(response_items(resp, what))]

    page = pagination_of(resp, what)
    expect_eq(page.get("total"), len(ctx.expected), f"{what}: meta.pagination.total")
    expect_eq(enum_value(page.get("type")), "cursor_limit", f"{what}: meta.pagination.type")
    expect_eq(page.get("cursor"), "", f"{what}: meta.pagination.cursor")
    expect_eq(page.get("limit"), 1000, f"{what}: meta.pagination.limit")
    expect_eq(page.get("next_cursor"), None, f"{what}: meta.pagination.next_cursor (all fit in one page)")

    links = resp.get("links")
    expect(links is not None, f"{what}: response has no `links`")
    for key in ("self", "first"):
        link = links.get(key)
        expect(
            isinstance(link, str) and link.startswith(ctx.url),
            f"{what}: links.{key}: expected a string starting with {ctx.url!r}, got {link!r}",
        )

    expect_ids([img.get("id") for img in images], ctx.ids, f"{what} (name asc, then id asc)")
    for i, (img, exp) in enumerate(zip(images, ctx.expected)):
        compare_image(img, exp, f"{what} data[{i}]")


def check_pagination(ctx: Context) -> None:
    """2. page_size=2: the helper sees every record once, in the default order."""
    what = "list_container_images_with_pagination(page_size=2)"
    with ctx.api() as api:
        items = take_all(api.list_container_images_with_pagination(page_size=2), ctx.bound, what)
    images = [as_image(item, f"{what} item {i}") for i, item in enumerate(items)]
    expect_eq(len(images), len(ctx.expected), f"{what}: number of items")
    expect_ids([img.get("id") for img in images], ctx.ids, what)

    # Walk the same pages by hand to look at each page's meta.
    what = "list_container_images(page_size=2, page_cursor=...)"
    cursor: Optional[str] = None
    seen: list[str] = []
    with ctx.api() as api:
        for page_no in range(ctx.bound):
            kwargs: dict[str, Any] = {"page_size": 2}
            if cursor is not None:
                kwargs["page_cursor"] = cursor
            resp = api.list_container_images(**kwargs)
            here = f"{what} page {page_no + 1}"
            data = response_items(resp, here)
            seen += [as_image(item, f"{here} data[{i}]").get("id") for i, item in enumerate(data)]
            page = pagination_of(resp, here)
            expect(len(data) <= 2, f"{here}: expected at most 2 items, got {len(data)}")
            expect_eq(page.get("limit"), 2, f"{here}: meta.pagination.limit")
            expect_eq(page.get("total"), len(ctx.expected), f"{here}: meta.pagination.total")
            expect_eq(page.get("cursor"), cursor or "", f"{here}: meta.pagination.cursor (echo of the request)")
            nxt = page.get("next_cursor")
            # Go and Rust clients re-request forever on next_cursor "": it must be absent instead.
            expect(
                nxt is None or (isinstance(nxt, str) and nxt != ""),
                f"{here}: meta.pagination.next_cursor must be absent or a non-empty string, got {nxt!r}",
            )
            if not data or nxt is None:
                break
            cursor = nxt
        else:
            expect(False, f"{what}: still paginating after {ctx.bound} pages")
    expect_ids(seen, ctx.ids, what)


def check_filters(ctx: Context) -> None:
    """3. filter[tags]: one tag, the same tag in other case, two tags (AND)."""
    cases = [
        ("short_image:trivy-test-images", "short_image:trivy-test-images"),
        ("SHORT_IMAGE:Trivy-Test-Images", "short_image:trivy-test-images"),
        ("short_image:trivy-test-images,image_tag:alpine-310", "short_image:trivy-test-images,image_tag:alpine-310"),
    ]
    with ctx.api() as api:
        for filter_tags, meaning in cases:
            what = f"list_container_images(filter_tags={filter_tags!r})"
            want = matching(ctx.expected, meaning)
            resp = api.list_container_images(filter_tags=filter_tags)
            images = [as_image(item, f"{what} data[{i}]") for i, item in enumerate(response_items(resp, what))]
            expect_ids([img.get("id") for img in images], [r.id for r in want], what, ordered=False)
            expect_eq(pagination_of(resp, what).get("total"), len(want), f"{what}: meta.pagination.total")
            by_id = {r.id: r for r in want}
            for i, img in enumerate(images):
                compare_image(img, by_id[img.get("id")], f"{what} data[{i}]")


def sorted_ids(records: list[Expected], key: Callable[[Expected], Any]) -> list[str]:
    return [r.id for r in sorted(records, key=lambda r: (key(r), r.id))]


def critical_key(r: Expected) -> tuple:
    vc = r.vulnerability_count
    return (1, 0) if vc is None else (0, -vc["critical"])  # no scan data: last


def size_key(r: Expected) -> tuple:
    return (1, 0) if r.max_size is None else (0, r.max_size)  # no size: last


def check_sorts(ctx: Context) -> None:
    """4. sort: descending critical count, ascending largest size (sizeless last); ties by id."""
    cases = [("-vulnerability_count.critical", critical_key), ("size", size_key)]
    with ctx.api() as api:
        for sort, key in cases:
            want = sorted_ids(ctx.expected, key)
            what = f"list_container_images(sort={sort!r})"
            resp = api.list_container_images(sort=sort)
            images = [as_image(item, f"{what} data[{i}]") for i, item in enumerate(response_items(resp, what))]
            expect_ids([img.get("id") for img in images], want, what)
            expect_eq(pagination_of(resp, what).get("total"), len(want), f"{what}: meta.pagination.total")

            # The cursor must carry the sort across pages too.
            what = f"list_container_images_with_pagination(sort={sort!r}, page_size=3)"
            items = take_all(api.list_container_images_with_pagination(sort=sort, page_size=3), ctx.bound, what)
            expect_ids([as_image(it, f"{what} item {i}").get("id") for i, it in enumerate(items)], want, what)


def expected_groups(records: list[Expected], key: str) -> list[tuple[Optional[str], int]]:
    """(value, count) per group: count desc, then name asc; the None group last."""
    counts = collections.Counter(getattr(r, key) for r in records)
    valued = sorted(
        ((v, n) for v, n in counts.items() if v is not None), key=lambda vn: (-vn[1], f"{key}:{vn[0]}")
    )
    return valued + ([(None, counts[None])] if None in counts else [])


def check_group(group: Any, key: str, value: Optional[str], count: int, what: str) -> None:
    a = group.get("attributes")
    expect(a is not None, f"{what}: no attributes")
    expect_eq(a.get("count"), count, f"{what}: attributes.count")
    expect_eq(a.get("tags"), {key: value}, f"{what}: attributes.tags")
    rel = group.get("relationships")
    expect(rel is not None, f"{what}: no relationships")
    images = rel.get("container_images")
    expect(images is not None, f"{what}: no relationships.container_images")
    expect_eq(images.get("data"), [], f"{what}: relationships.container_images.data")
    if value is None:
        gid = group.get("id")
        expect(isinstance(gid, str) and gid != "", f"{what}: id: expected a non-empty string, got {gid!r}")
        return
    expect_eq(a.get("name"), f"{key}:{value}", f"{what}: attributes.name")
    expect_eq(group.get("id"), f"{key}:{value}", f"{what}: id")
    links = images.get("links")
    related = links.get("related") if links is not None else None
    needle = f"filter[tags]={key}:{value}"
    expect(
        isinstance(related, str) and needle in unquote(related),
        f"{what}: relationships.container_images.links.related: expected a string containing "
        f"{needle!r} (or its percent-encoding), got {related!r}",
    )


def check_grouping(ctx: Context, key: str) -> None:
    """5./6. group_by=<key>: one group per value, with counts, tags, name, id and links."""
    what = f"list_container_images(group_by={key!r})"
    want = expected_groups(ctx.expected, key)
    with ctx.api() as api:
        resp = api.list_container_images(group_by=key)
    groups = [as_group(item, f"{what} data[{i}]") for i, item in enumerate(response_items(resp, what))]
    got_keys = [g.get("attributes").get("tags") if g.get("attributes") is not None else None for g in groups]
    want_keys = [{key: v} for v, _ in want]
    expect_eq(got_keys, want_keys, f"{what}: groups (attributes.tags) in order count desc, name asc, None last")
    for i, (group, (value, count)) in enumerate(zip(groups, want)):
        check_group(group, key, value, count, f"{what} data[{i}] ({key}={value!r})")
    ids = [g.get("id") for g in groups]
    expect(len(set(ids)) == len(ids), f"{what}: group ids are not unique: {ids}")
    expect_eq(pagination_of(resp, what).get("total"), len(want), f"{what}: meta.pagination.total (number of groups)")


def check_group_by_short_image(ctx: Context) -> None:
    """5. group_by=short_image."""
    check_grouping(ctx, "short_image")


def check_group_by_registry(ctx: Context) -> None:
    """6. group_by=registry: registry-less records form one group, listed last."""
    if not any(r.registry is None for r in ctx.expected):
        print("   (no registry-less records in the fixtures: the None group is not exercised)")
    check_grouping(ctx, "registry")


def check_group_pagination(ctx: Context) -> None:
    """7. group_by=short_image with page_size=2 through the pagination helper."""
    what = "list_container_images_with_pagination(page_size=2, group_by='short_image')"
    want = [f"short_image:{v}" for v, _ in expected_groups(ctx.expected, "short_image")]
    with ctx.api() as api:
        items = take_all(
            api.list_container_images_with_pagination(page_size=2, group_by="short_image"), ctx.bound, what
        )
    groups = [as_group(item, f"{what} item {i}") for i, item in enumerate(items)]
    expect_eq(len(groups), len(want), f"{what}: number of groups")
    expect_ids([g.get("id") for g in groups], want, what, ordered=False)


def expect_api_error(call: Callable[[], Any], status: int, what: str) -> Any:
    """Run `call`, require an ApiException with `status`; return the decoded body."""
    try:
        result = call()
    except ApiException as e:
        expect_eq(e.status, status, f"{what}: HTTP status (body {e.body!r})")
        return e.body
    expect(False, f"{what}: expected ApiException with HTTP {status}, but the call succeeded: {raw(result)}")


def expect_error_body(body: Any, what: str) -> list[str]:
    """The APIErrorResponse shape: {"errors": [str, ...]} with at least one message."""
    errors = body.get("errors") if isinstance(body, dict) else None
    expect(
        isinstance(errors, list) and errors and all(isinstance(m, str) for m in errors),
        f'{what}: expected a body {{"errors": ["..."]}}, got {body!r}',
    )
    return errors


def check_errors(ctx: Context) -> None:
    """8. 400 on a bad sort or cursor; 403 on a wrong or missing key."""
    with ctx.api() as api:
        what = "list_container_images(sort='bogus')"
        errors = expect_error_body(expect_api_error(lambda: api.list_container_images(sort="bogus"), 400, what), what)
        expect(any("sort" in m.lower() for m in errors), f"{what}: expected an error message mentioning 'sort', got {errors!r}")

        what = "list_container_images(page_cursor='garbage')"
        expect_error_body(expect_api_error(lambda: api.list_container_images(page_cursor="garbage"), 400, what), what)

    what = "list_container_images() with a wrong application key"
    with images_api(ctx.url, ctx.api_key, ctx.app_key + "-wrong") as api:
        body = expect_api_error(lambda: api.list_container_images(), 403, what)
    expect_eq(body, {"errors": ["Forbidden"]}, f"{what}: body")

    what = "list_container_images() with a wrong API key"
    with images_api(ctx.url, ctx.api_key + "-wrong", ctx.app_key) as api:
        expect_error_body(expect_api_error(lambda: api.list_container_images(), 403, what), what)

    what = "list_container_images() without any key"
    with images_api(ctx.url, None, None) as api:
        expect_error_body(expect_api_error(lambda: api.list_container_images(), 403, what), what)


def check_isolation(ctx: Context) -> None:
    """9. The other organisation sees nothing."""
    with images_api(ctx.url, ctx.other_api_key, ctx.other_app_key) as api:
        for kwargs in ({}, {"filter_tags": "short_image:trivy-test-images"}, {"group_by": "short_image"}):
            what = f"list_container_images({', '.join(f'{k}={v!r}' for k, v in kwargs.items())}) as the other org"
            resp = api.list_container_images(**kwargs)
            data = response_items(resp, what)
            expect_eq(data, [], f"{what}: data")
            expect_eq(pagination_of(resp, what).get("total"), 0, f"{what}: meta.pagination.total")


CHECK_LIST: list[tuple[str, Callable[[Context], None]]] = [
    ("1 list, default page", check_list_default),
    ("2 pagination, page_size=2", check_pagination),
    ("3 filter[tags]", check_filters),
    ("4 sort", check_sorts),
    ("5 group_by=short_image", check_group_by_short_image),
    ("6 group_by=registry", check_group_by_registry),
    ("7 group pagination", check_group_pagination),
    ("8 errors", check_errors),
    ("9 organisation isolation", check_isolation),
]


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="base URL of the running server, e.g. http://127.0.0.1:8080")
    p.add_argument("--api-key", help="API key of the organisation holding the fixtures")
    p.add_argument("--app-key", help="application key of that organisation")
    p.add_argument("--other-api-key", help="API key of an organisation with no images")
    p.add_argument("--other-app-key", help="application key of that organisation")
    p.add_argument("--fixtures", required=True, type=Path, help="directory of the imported Trivy *.json reports")
    p.add_argument("--print-expected", action="store_true", help="print the expected records as JSON and exit")
    args = p.parse_args(argv)
    if not args.print_expected:
        missing = [o for o in ("url", "api_key", "app_key", "other_api_key", "other_app_key") if not getattr(args, o)]
        if missing:
            p.error("missing " + ", ".join("--" + m.replace("_", "-") for m in missing))
        args.url = args.url.rstrip("/")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    expected = expected_records(args.fixtures)
    if args.print_expected:
        json.dump([r.to_json() for r in expected], sys.stdout, indent=2)
        print()
        return 0

    import_client()
    import urllib3

    ctx = Context(args.url, args.api_key, args.app_key, args.other_api_key, args.other_app_key, expected)
    for label, check in CHECK_LIST:
        CHECKS.section = label
        before = CHECKS.passed
        try:
            check(ctx)
        except CheckFailed as e:
            print(f"e2e: FAILED check {label}:\n  {e}", file=sys.stderr)
            return 1
        except ApiException as e:
            print(f"e2e: FAILED check {label}: unexpected HTTP error {e.status} {e.reason}; body: {e.body!r}", file=sys.stderr)
            return 1
        except urllib3.exceptions.HTTPError as e:
            print(f"e2e: FAILED check {label}: cannot talk to {ctx.url}: {e}", file=sys.stderr)
            return 1
        print(f"ok   {label:<28} ({CHECKS.passed - before} assertions)")
    print(f"e2e: {CHECKS.passed} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
