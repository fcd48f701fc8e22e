"""A Backstage software catalog (`catalog-info.yaml`) as a source of teams, services and their dimensions.

Many organisations already describe who owns what in Backstage. Reading it saves retyping owners,
repositories, departments and labels into `org.yml`; the configuration file still wins wherever both say
something (docs/configuration.md, "Backstage catalog"). Only what deploylens uses is read:

- `kind: Group` → a team; `spec.parent` → its department, the chain of parents → its reporting line.
- `kind: Component` → a service; `spec.owner` → its team, `spec.type` → its service type, `spec.system` →
  its system, the `github.com/project-slug` (or `gitlab.com/project-slug`) annotation → its repository,
  `metadata.labels.language` / `.tier` → language and tier, other labels (`key=value`) and
  `metadata.tags` → labels.
- `kind: System` → the system a component belongs to (its name is kept on the service).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPOSITORY_ANNOTATIONS = ("github.com/project-slug", "gitlab.com/project-slug")
# Labels that are dimensions of their own rather than free labels.
DIMENSION_LABELS = ("language", "tier")


class CatalogError(ValueError):
    """A catalog problem, naming the file, line and key."""


@dataclass
class Catalog:
    """Entities in `org.yml` spelling (`name`, `team`, `department`, ...), keyed by name."""

    teams: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    systems: set[str] = field(default_factory=set)
    # Where each entity was declared ("file line N"), for error messages about it.
    origins: dict[tuple[str, str], str] = field(default_factory=dict)


def entity_name(reference: str) -> str:
    """`group:default/payments` → `payments`: Backstage references carry an optional kind and namespace."""
    return reference.split(":", 1)[-1].rsplit("/", 1)[-1]


def catalog_files(path: Path) -> list[Path]:
    """A catalog file, or every `*.yaml`/`*.yml` below a folder, in name order."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return [path]


def _fail(path: Path, node: yaml.Node, where: str, message: str) -> None:
    raise CatalogError(f"{path.name} line {node.start_mark.line + 1}: {where}: {message}")


def _child(node: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == key:
                return value_node
    return None


def _text(path: Path, node: yaml.Node | None, where: str, *, required: bool = False) -> str | None:
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
        if required:
            raise CatalogError(f"{path.name}: {where}: missing")
        return None
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        _fail(path, node, where, "expected a non-empty string")
    return str(node.value).strip()


def _mapping_of_text(path: Path, node: yaml.Node | None, where: str) -> dict[str, str]:
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        _fail(path, node, where, "expected a mapping")
    return {k.value: _text(path, v, f"{where}.{k.value}") for k, v in node.value}


def _list_of_text(path: Path, node: yaml.Node | None, where: str) -> list[str]:
    if node is None:
        return []
    if not isinstance(node, yaml.SequenceNode):
        _fail(path, node, where, "expected a list")
    return [_text(path, item, f"{where}[{i}]", required=True) for i, item in enumerate(node.value)]


def read_catalog(path: Path) -> Catalog:
    """Read every entity of a catalog file or folder; raise CatalogError naming file, line and key."""
    if not path.exists():
        raise CatalogError(f"catalog not found: {path}")
    catalog = Catalog()
    parents: dict[str, str] = {}
    for file in catalog_files(path):
        try:
            documents = list(yaml.compose_all(file.read_text(encoding="utf-8"), Loader=yaml.SafeLoader))
        except yaml.YAMLError as exc:
            raise CatalogError(f"{file.name}: not valid YAML: {exc}") from None
        for document in documents:
            if document is None:
                continue
            if not isinstance(document, yaml.MappingNode):
                _fail(file, document, "(entity)", "expected a mapping (apiVersion, kind, metadata, spec)")
            kind = _text(file, _child(document, "kind"), "kind", required=True)
            if kind not in ("Group", "Component", "System"):
                continue  # APIs, Resources, Users, ...: nothing deploylens uses
            metadata = _child(document, "metadata")
            spec = _child(document, "spec")
            name = _text(file, _child(metadata, "name"), "metadata.name", required=True)
            key = (kind, name)
            if key in catalog.origins:
                _fail(file, document, "metadata.name", f"{kind} {name!r} is declared twice")
            catalog.origins[key] = f"{file.name} line {document.start_mark.line + 1}"
            description = _text(file, _child(metadata, "description"), "metadata.description")
            if kind == "System":
                catalog.systems.add(name)
            elif kind == "Group":
                parent = _text(file, _child(spec, "parent"), "spec.parent")
                if parent:
                    parents[name] = entity_name(parent)
                catalog.teams[name] = {"name": name, "description": description}
            else:
                labels = _mapping_of_text(file, _child(metadata, "labels"), "metadata.labels")
                annotations = _mapping_of_text(file, _child(metadata, "annotations"), "metadata.annotations")
                tags = _list_of_text(file, _child(metadata, "tags"), "metadata.tags")
                owner = _text(file, _child(spec, "owner"), "spec.owner")
                system = _text(file, _child(spec, "system"), "spec.system")
                repository = next(
                    (annotations[a] for a in REPOSITORY_ANNOTATIONS if annotations.get(a)), None
                )
                free_labels = [f"{k}={v}" for k, v in sorted(labels.items()) if k not in DIMENSION_LABELS]
                service = {
                    "name": name,
                    "team": entity_name(owner) if owner else None,
                    "repository": repository,
                    "language": labels.get("language"),
                    "tier": labels.get("tier"),
                    "labels": sorted(set(tags) | set(free_labels)),
                    "service_type": _text(file, _child(spec, "type"), "spec.type"),
                    "system": entity_name(system) if system else None,
                }
                catalog.services[name] = {k: v for k, v in service.items() if v not in (None, [])}
    for name, team in catalog.teams.items():
        chain: list[str] = []
        parent = parents.get(name)
        while parent and parent not in chain and parent != name:
            chain.append(parent)
            parent = parents.get(parent)
        if chain:
            team["department"] = chain[0]
            team["reporting_line"] = " > ".join(reversed(chain))
        catalog.teams[name] = {k: v for k, v in team.items() if v is not None}
    return catalog
