"""The subset of GitHub's GraphQL API (`POST /graphql`) the GitHub source reads, over the same world.

Not a GraphQL engine: a small parser for query documents (operations with variables, fields with
arguments, aliases and selection sets; no fragments, directives or mutations) and resolvers for the types
the source asks for: `repository { pullRequests pullRequest deployments }` with their nested connections,
`repository { defaultBranchRef ref(qualifiedName:) }` with the target commit's `history` (inline fragments
`... on Commit`), `repository { object(oid:) }` (a commit by SHA), `nodes(ids:)` resolving the global ids
of Actions runs and their check suites (`... on WorkflowRun { checkSuite }`, `... on CheckSuite {
checkRuns(filterBy:) }`: a run's jobs as check runs), and `rateLimit`. Anything else answers the way
api.github.com does, with HTTP 200 and `{"errors": [...]}`.

Objects are rendered from the REST renderer's objects (simulator/github.py), so both APIs serve the same
facts. Costs follow GitHub's published rule: every connection counts one request per parent it may be
resolved for (the product of the `first` arguments above it), the sum divided by 100 and rounded, at least
one point; `first` must be given on every connection, between 1 and 100. `nodes(ids:)` takes at most 100
ids (GitHub's ARGUMENT_LIMIT error beyond) and counts as that many parents for the connections inside it.
An id that resolves to nothing is answered as GitHub does: null in its place, with a NOT_FOUND error beside
the data.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from simulator.automation import served_reviews
from simulator.clock import iso
from simulator.github import Renderer, node_id
from simulator.world import PullRequest, Service, WorkflowRun, World


class GraphQLError(Exception):
    """A request GitHub rejects as a whole (parse, validation): answered as `{"errors": [...]}`."""

    def __init__(self, message: str, kind: str | None = None):
        super().__init__(message)
        self.message = message
        self.kind = kind

    def as_error(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.kind:
            out["type"] = self.kind
        return out


# ------------------------------------------------------------------------------------------------ parser
_TOKEN = re.compile(
    r"(?P<skip>[\s,]+|#[^\n]*)|(?P<name>[_A-Za-z][_0-9A-Za-z]*)|(?P<number>-?\d+(?:\.\d+)?)"
    r'|(?P<string>"(?:\\.|[^"\\])*")|(?P<punct>\.\.\.|[{}():!$\[\]=@])'
)


@dataclass
class Field:
    name: str
    alias: str
    args: dict[str, Any] = field(default_factory=dict)
    selections: list[Field] | None = None


@dataclass(frozen=True)
class Variable:
    name: str


@dataclass(frozen=True)
class Enum:
    value: str


class _Parser:
    def __init__(self, text: str):
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                raise GraphQLError(f'Parse error on "{text[position]}" at position {position}')
            position = match.end()
            if match.lastgroup != "skip":
                self.tokens.append((match.lastgroup or "", match.group()))
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.index >= len(self.tokens):
            raise GraphQLError("Parse error on end of document")
        kind, value = self.tokens[self.index]
        if expected is not None and value != expected:
            raise GraphQLError(f'Parse error on "{value}" ({kind.upper()}): expected "{expected}"')
        self.index += 1
        return kind, value

    def name(self) -> str:
        kind, value = self.take()
        if kind != "name":
            raise GraphQLError(f'Parse error on "{value}": expected a name')
        return value

    def document(self) -> tuple[dict[str, Any], list[Field]]:
        defaults: dict[str, Any] = {}
        if self.peek() in ("mutation", "subscription", "fragment"):
            raise GraphQLError(f"This endpoint serves queries only, not {self.peek()}s")
        if self.peek() == "query":
            self.take()
            if self.peek() not in ("(", "{"):
                self.name()
            if self.peek() == "(":
                self.take("(")
                while self.peek() != ")":
                    self.take("$")
                    variable = self.name()
                    self.take(":")
                    self.type_ref()
                    if self.peek() == "=":
                        self.take("=")
                        defaults[variable] = self.value()
                    else:
                        defaults.setdefault(variable, None)
                self.take(")")
        selections = self.selection_set()
        if self.peek() is not None:
            raise GraphQLError("This endpoint serves one operation per document")
        return defaults, selections

    def type_ref(self) -> None:
        if self.peek() == "[":
            self.take("[")
            self.type_ref()
            self.take("]")
        else:
            self.name()
        if self.peek() == "!":
            self.take("!")

    def selection_set(self) -> list[Field]:
        self.take("{")
        out: list[Field] = []
        while self.peek() != "}":
            if self.peek() == "...":
                # an inline fragment (`... on Commit { ... }`): its selections apply to objects of that type
                self.take("...")
                if self.peek() != "on":
                    raise GraphQLError("Named fragments are not served here")
                self.take("on")
                out.append(Field("...", "...", {"on": self.name()}, self.selection_set()))
                continue
            if self.peek() == "@":
                raise GraphQLError("Directives are not served here")
            alias = name = self.name()
            if self.peek() == ":":
                self.take(":")
                name = self.name()
            args: dict[str, Any] = {}
            if self.peek() == "(":
                self.take("(")
                while self.peek() != ")":
                    key = self.name()
                    self.take(":")
                    args[key] = self.value()
                self.take(")")
            selections = self.selection_set() if self.peek() == "{" else None
            out.append(Field(name, alias, args, selections))
        self.take("}")
        if not out:
            raise GraphQLError("Parse error: an empty selection set")
        return out

    def value(self) -> Any:
        token = self.peek()
        if token == "$":
            self.take("$")
            return Variable(self.name())
        if token == "[":
            self.take("[")
            items = []
            while self.peek() != "]":
                items.append(self.value())
            self.take("]")
            return items
        if token == "{":
            self.take("{")
            obj = {}
            while self.peek() != "}":
                key = self.name()
                self.take(":")
                obj[key] = self.value()
            self.take("}")
            return obj
        kind, value = self.take()
        if kind == "number":
            return float(value) if "." in value else int(value)
        if kind == "string":
            return bytes(value[1:-1], "utf-8").decode("unicode_escape")
        if kind == "name":
            return {"true": True, "false": False, "null": None}.get(value, Enum(value))
        raise GraphQLError(f'Parse error on "{value}"')


@lru_cache(maxsize=256)
def parse(document: str) -> tuple[dict[str, Any], list[Field]]:
    """The variables' defaults and the root selections of a query document. A client sends the same few
    documents with other variables page after page, so they are parsed once (callers only read them)."""
    return _Parser(document).document()


def _bind(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, Variable):
        if value.name not in variables:
            raise GraphQLError(f"Variable ${value.name} is used but not declared")
        return variables[value.name]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_bind(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: _bind(item, variables) for key, item in value.items()}
    return value


# ------------------------------------------------------------------------------------------------- costs
CONNECTIONS = frozenset(
    {"pullRequests", "deployments", "commits", "parents", "reviews", "files", "labels", "statuses"}
    | {"reviewThreads", "comments", "history", "checkRuns"}
)
MAX_PAGE = 100
MAX_NODE_IDS = 100


def _page_size(item: Field, variables: dict[str, Any]) -> int:
    first = _bind(item.args.get("first"), variables)
    last = _bind(item.args.get("last"), variables)
    size = first if first is not None else last
    if size is None:
        raise GraphQLError(
            f"You must provide a `first` or `last` value to properly paginate the `{item.name}` connection.",
            "MISSING_PAGINATION_BOUNDARIES",
        )
    if not isinstance(size, int) or not 1 <= size <= MAX_PAGE:
        raise GraphQLError(
            f"Requesting {size} records on the `{item.name}` connection exceeds the `first` limit of "
            f"{MAX_PAGE} records.",
            "EXCESSIVE_PAGINATION",
        )
    return size


def query_cost(selections: list[Field], variables: dict[str, Any]) -> int:
    """GitHub's points for a query, computed before it runs (every connection assumed full)."""

    def requests(items: list[Field], parents: int) -> int:
        total = 0
        for item in items:
            inner = parents
            if item.name in CONNECTIONS:
                total += parents
                inner = parents * _page_size(item, variables)
            elif item.name == "nodes" and "ids" in item.args:
                inner = parents * max(len(_node_ids(item, variables)), 1)
            total += requests(item.selections or [], inner)
        return total

    return max(1, round(requests(selections, 1) / 100))


def _node_ids(item: Field, variables: dict[str, Any]) -> list[Any]:
    ids = _bind(item.args.get("ids"), variables)
    if not isinstance(ids, list):
        raise GraphQLError(
            "Argument 'ids' on Field 'nodes' has an invalid value.", "argumentLiteralsIncompatible"
        )
    if len(ids) > MAX_NODE_IDS:
        raise GraphQLError(
            f"You may not provide more than {MAX_NODE_IDS} node ids; you provided {len(ids)}.",
            "ARGUMENT_LIMIT",
        )
    return ids


def _decode_id(node: Any) -> tuple[str, str] | None:
    """The kind and value of a global id (simulator/github.py `node_id`), None for anything else."""
    if not isinstance(node, str):
        return None
    try:
        kind, _, value = base64.b64decode(node + "=" * (-len(node) % 4)).decode().partition(":")
    except ValueError:
        return None
    return (kind, value) if value else None


# ---------------------------------------------------------------------------------------------- resolving
Resolver = Callable[[Any, dict[str, Any]], Any]


def _cursor(offset: int) -> str:
    return base64.b64encode(f"cursor:v2:{offset}".encode()).decode()


def _offset(after: str | None) -> int:
    if not after:
        return 0
    try:
        text = base64.b64decode(after.encode()).decode()
        return int(text.rsplit(":", 1)[1])
    except (ValueError, IndexError):
        raise GraphQLError(f"`{after}` does not appear to be a valid cursor.") from None


@dataclass
class Page:
    """One page of a connection: what `nodes`, `pageInfo` and `totalCount` resolve from."""

    type_name: str
    items: list[Any]
    total: int
    end: int

    @classmethod
    def of(cls, type_name: str, items: list[Any], args: dict[str, Any]) -> Page:
        start = _offset(args.get("after"))
        size = args.get("first") or args.get("last") or MAX_PAGE
        chunk = items[start : start + size]
        return cls(type_name, chunk, len(items), start + len(chunk))


class _Scalar:
    """A field read from the rendered object's key of the same role (known as such to `_plan`)."""

    __slots__ = ("key",)

    def __init__(self, key: str):
        self.key = key

    def __call__(self, obj: Any, args: dict[str, Any]) -> tuple[Any, None]:
        return obj.get(self.key), None


class _Rendered:
    """A list of world objects that renders only the items a page takes (a pull request's commits: a
    query asks a few of them, and their count)."""

    __slots__ = ("items", "render")

    def __init__(self, items: list[Any], render: Callable[[Any], Any]):
        self.items = items
        self.render = render

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: slice) -> list[Any]:
        return [self.render(item) for item in self.items[index]]


class _Later(dict):
    """A rendered object whose costly lists (a pull request's reviews, files and review threads) are
    rendered when a selection first reads them, not for every object a page holds."""

    def __init__(self, ready: dict[str, Any], later: dict[str, Callable[[], Any]]):
        super().__init__(ready)
        self._later = later

    def __missing__(self, key: str) -> Any:
        produce = self._later.get(key)
        if produce is None:
            raise KeyError(key)
        value = self[key] = produce()
        return value


# the kinds of a selection plan's steps (GitHubGraph._plan)
_SCALAR, _FIELD, _FRAGMENT, _TYPENAME, _UNDEFINED = "scalar", "field", "fragment", "typename", "undefined"


class GitHubGraph:
    """Resolves the served types over a world as of a moment, from the REST renderer's objects."""

    # True: answer through the plain per-object walk over objects rendered whole, the definition the
    # planned walk and the lazily rendered pull requests must match byte for byte (the tests compare both)
    reference = False

    def __init__(
        self,
        world: World,
        rest: Renderer,
        now: datetime,
        files: Callable[[Service, Any], list],
        listing: Callable[[tuple, Callable[[], list]], list] | None = None,
        history: Callable[[Service, str, str | None, bool], tuple[Any, list]] | None = None,
        review_comments: Callable[[Service, Any], list] | None = None,
        run: Callable[[int], tuple[Service, WorkflowRun] | None] | None = None,
    ):
        self.world = world
        self.rest = rest
        self.now = now
        self.files = files  # the REST file entries of a pull request, as the emulator serves them
        # `listing(key, produce)` keeps a filtered, sorted listing while clients page through it (the
        # emulator's listing cache), so a page costs its own nodes rather than the repository's history
        self.listing = listing or (lambda key, produce: produce())
        self.services = {svc.name: svc for svc in world.services}
        # `history(svc, ref, since, listed)`: the ref's head commit (None when the ref does not exist at
        # `now`) and, when `listed`, the commits reachable from it, newest first, committed at or after
        # `since` (ISO), as the REST commits listing serves them
        self.history = history
        # the REST review comments of a pull request, as the emulator serves them (oldest first)
        self.review_comments = review_comments or (lambda svc, pr: [])
        # an Actions run by its id, with its service, when it exists at `now` (None otherwise)
        self.run = run or (lambda run_id: None)
        # errors answered beside the data (ids of `nodes(ids:)` that resolve to nothing)
        self.errors: list[dict[str, Any]] = []
        # the resolvers per type, built once per query: building them per object cost most of a page's time
        self._schema: dict[str, dict[str, Resolver]] | None = None
        self._plans: dict[tuple[str, int], list[list]] = {}

    def execute(self, selections: list[Field], variables: dict[str, Any], rate: dict[str, Any]) -> dict:
        select = self._select_plainly if self.reference else self._select
        return select("Query", {"rate": rate}, selections, variables)

    def _select(self, type_name: str, obj: Any, selections: list[Field], variables: dict) -> dict:
        """`_select_plainly`'s answer, through a plan made once per selection set and type: a page selects
        the same fields from thousands of objects, so what does not depend on the object (the resolver,
        the bound arguments, the page size's check) is looked up once."""
        if type_name == "Node":  # an object of `nodes(ids:)`: its own type
            type_name = obj["__typename"]
        key = (type_name, id(selections))  # the parsed selections live as long as the query
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._plan(type_name, selections)
        out: dict[str, Any] = {}
        for step in plan:
            kind, alias, item = step[0], step[1], step[2]
            if kind is _SCALAR:
                out[alias] = obj.get(step[3])
            elif kind is _FIELD:
                args = step[4]
                if args is None:  # bound on first use, so an error surfaces where the plain walk raises it
                    args = {k: _bind(v, variables) for k, v in item.args.items()}
                    if item.name in CONNECTIONS:
                        _page_size(item, variables)
                    step[4] = args
                value, child_type = step[3](obj, args)
                if child_type is None or value is None or not item.selections:
                    out[alias] = self._shape(value, child_type, item, variables)
                elif isinstance(value, list):
                    out[alias] = [
                        None if v is None else self._select(child_type, v, item.selections, variables)
                        for v in value
                    ]
                else:
                    out[alias] = self._select(child_type, value, item.selections, variables)
            elif kind is _FRAGMENT:
                out.update(self._select(type_name, obj, item.selections or [], variables))
            elif kind is _TYPENAME:
                out[alias] = obj.get("__typename", type_name) if isinstance(obj, dict) else type_name
            else:
                raise GraphQLError(
                    f"Field '{item.name}' doesn't exist on type '{type_name}'", "undefinedField"
                )
        return out

    def _plan(self, type_name: str, selections: list[Field]) -> list[list]:
        if self._schema is None:
            self._schema = self._types()
        resolvers = self._schema.get(type_name)
        assert resolvers is not None, type_name
        plan: list[list] = []
        for item in selections:
            if item.name == "...":
                if item.args["on"] == type_name:
                    plan.append([_FRAGMENT, None, item])
                continue
            if item.name == "__typename":
                plan.append([_TYPENAME, item.alias, item])
                continue
            resolver = resolvers.get(item.name)
            if resolver is None:
                plan.append([_UNDEFINED, item.alias, item])
            elif isinstance(resolver, _Scalar) and not item.args and not item.selections:
                plan.append([_SCALAR, item.alias, item, resolver.key])
            else:
                plan.append([_FIELD, item.alias, item, resolver, None])
        return plan

    def _select_plainly(self, type_name: str, obj: Any, selections: list[Field], variables: dict) -> dict:
        if type_name == "Node":
            type_name = obj["__typename"]
        if self._schema is None:
            self._schema = self._types()
        resolvers = self._schema.get(type_name)
        assert resolvers is not None, type_name
        out: dict[str, Any] = {}
        for item in selections:
            if item.name == "...":
                if item.args["on"] == type_name:
                    out.update(self._select_plainly(type_name, obj, item.selections or [], variables))
                continue
            if item.name == "__typename":
                out[item.alias] = obj.get("__typename", type_name) if isinstance(obj, dict) else type_name
                continue
            resolver = resolvers.get(item.name)
            if resolver is None:
                raise GraphQLError(
                    f"Field '{item.name}' doesn't exist on type '{type_name}'", "undefinedField"
                )
            args = {key: _bind(value, variables) for key, value in item.args.items()}
            if item.name in CONNECTIONS:
                _page_size(item, variables)
            value, child_type = resolver(obj, args)
            out[item.alias] = self._shape(value, child_type, item, variables)
        return out

    def _shape(self, value: Any, child_type: str | None, item: Field, variables: dict) -> Any:
        if child_type is None or value is None:
            if item.selections:
                if value is None:
                    return None
                raise GraphQLError(f"Selections can't be made on scalars (field '{item.name}')")
            return value
        if not item.selections:
            raise GraphQLError(f"Field must have selections (field '{item.name}' returns {child_type})")
        select = self._select_plainly if self.reference else self._select
        if isinstance(value, list):
            return [None if v is None else select(child_type, v, item.selections, variables) for v in value]
        return select(child_type, value, item.selections, variables)

    # ------------------------------------------------------------------ schema
    def _types(self) -> dict[str, dict[str, Resolver]]:
        scalar = self._scalar
        return {
            "Query": {
                "repository": self._repository,
                "rateLimit": lambda o, a: (o["rate"], "RateLimit"),
                "nodes": self._nodes,
            },
            "WorkflowRun": {
                **{
                    k: scalar(k) for k in ("id", "databaseId", "runNumber", "event", "createdAt", "updatedAt")
                },
                "checkSuite": lambda o, a: (o["checkSuite"], "CheckSuite"),
            },
            "CheckSuite": {
                **{
                    k: scalar(k)
                    for k in ("id", "databaseId", "status", "conclusion", "createdAt", "updatedAt")
                },
                "workflowRun": lambda o, a: (o["workflowRun"](), "WorkflowRun"),
                "checkRuns": self._check_runs,
            },
            "CheckRun": {
                k: scalar(k)
                for k in ("id", "databaseId", "name", "status", "conclusion", "startedAt", "completedAt")
                + ("detailsUrl", "url", "permalink")
            },
            "RateLimit": {
                k: scalar(k) for k in ("cost", "remaining", "resetAt", "limit", "used", "nodeCount")
            },
            "Repository": {
                "nameWithOwner": lambda o, a: (o["svc"].repository, None),
                "databaseId": lambda o, a: (o["svc"].repo_id, None),
                "pullRequests": self._pull_requests,
                "pullRequest": self._pull_request,
                "deployments": self._deployments,
                "object": self._object,
                "defaultBranchRef": lambda o, a: (self._ref(o["svc"], "main"), "Ref"),
                "ref": lambda o, a: (self._ref(o["svc"], a.get("qualifiedName") or ""), "Ref"),
            },
            "PageInfo": {
                "hasNextPage": lambda p, a: (p.end < p.total, None),
                "endCursor": lambda p, a: (_cursor(p.end) if p.items else None, None),
                "hasPreviousPage": lambda p, a: (p.end - len(p.items) > 0, None),
                "startCursor": lambda p, a: (_cursor(p.end - len(p.items)) if p.items else None, None),
            },
            "Connection": {
                "totalCount": lambda p, a: (p.total, None),
                "pageInfo": lambda p, a: (p, "PageInfo"),
                "nodes": lambda p, a: (p.items, p.type_name),
            },
            "Actor": {k: scalar(k) for k in ("login", "databaseId")},
            "Ref": {"name": scalar("name"), "target": lambda o, a: (o.get("target"), "Commit")},
            "GitObject": {"oid": scalar("oid")},
            "Label": {"name": scalar("name")},
            "PullRequest": {
                **{k: scalar(k) for k in _PULL_SCALARS},
                "author": lambda o, a: (o["author"], "Actor"),
                "mergeCommit": lambda o, a: (o["mergeCommit"], "GitObject"),
                "potentialMergeCommit": lambda o, a: (o["potentialMergeCommit"], "GitObject"),
                "labels": lambda o, a: (Page.of("Label", o["labels"], a), "Connection"),
                "commits": lambda o, a: (Page.of("PullRequestCommit", o["commits"], a), "Connection"),
                "reviews": lambda o, a: (Page.of("PullRequestReview", o["reviews"], a), "Connection"),
                "files": lambda o, a: (Page.of("PullRequestChangedFile", o["files"], a), "Connection"),
                "reviewThreads": lambda o, a: (
                    Page.of("PullRequestReviewThread", o["reviewThreads"], a),
                    "Connection",
                ),
            },
            "PullRequestCommit": {"commit": lambda o, a: (o, "Commit")},
            "Commit": {
                **{k: scalar(k) for k in ("oid", "message", "authoredDate", "committedDate", "url")},
                "author": lambda o, a: (o["author"], "GitActor"),
                "committer": lambda o, a: (o["committer"], "GitActor"),
                "parents": lambda o, a: (Page.of("GitObject", o["parents"], a), "Connection"),
                "history": self._history,
            },
            "GitActor": {
                **{k: scalar(k) for k in ("name", "email", "date")},
                "user": lambda o, a: (o["user"], "Actor"),
            },
            "PullRequestReview": {
                **{k: scalar(k) for k in ("databaseId", "state", "submittedAt", "authorAssociation")},
                "author": lambda o, a: (o["author"], "Actor"),
                "commit": lambda o, a: (o["commit"], "GitObject"),
            },
            "PullRequestChangedFile": {
                k: scalar(k) for k in ("path", "additions", "deletions", "changeType")
            },
            "PullRequestReviewThread": {
                "comments": lambda o, a: (Page.of("PullRequestReviewComment", o["comments"], a), "Connection")
            },
            "PullRequestReviewComment": {
                **{
                    k: scalar(k)
                    for k in ("databaseId", "path", "createdAt", "updatedAt", "authorAssociation")
                },
                "author": lambda o, a: (o["author"], "Actor"),
                "commit": lambda o, a: (o["commit"], "GitObject"),
                "pullRequestReview": lambda o, a: (o["pullRequestReview"], "PullRequestReview"),
                "replyTo": lambda o, a: (o["replyTo"], "PullRequestReviewComment"),
            },
            "Deployment": {
                **{k: scalar(k) for k in _DEPLOYMENT_SCALARS},
                "ref": lambda o, a: (o["ref"], "Ref"),
                "creator": lambda o, a: (o["creator"], "Actor"),
                "statuses": lambda o, a: (Page.of("DeploymentStatus", o["statuses"], a), "Connection"),
            },
            "DeploymentStatus": {
                **{k: scalar(k) for k in _STATUS_SCALARS},
                "creator": lambda o, a: (o["creator"], "Actor"),
            },
        }

    @staticmethod
    def _scalar(key: str) -> Resolver:
        return _Scalar(key)

    def _repository(self, root: dict, args: dict) -> tuple[Any, str | None]:
        owner, name = args.get("owner"), args.get("name")
        svc = self.services.get(name or "")
        if svc is None or (owner or "").lower() != self.world.org.lower() or not svc.on_github:
            raise GraphQLError(
                f"Could not resolve to a Repository with the name '{owner}/{name}'.", "NOT_FOUND"
            )
        return {"svc": svc}, "Repository"

    def _nodes(self, root: dict, args: dict) -> tuple[list, str]:
        """`nodes(ids:)`: the Actions runs and check suites among the ids (null for any other id, with
        GitHub's NOT_FOUND error), in the order asked."""
        found: list[Any] = []
        for index, node in enumerate(args.get("ids") or []):
            obj = self._node(node)
            if obj is None:
                self.errors.append(
                    {
                        "type": "NOT_FOUND",
                        "path": ["nodes", index],
                        "message": f"Could not resolve to a node with the global id of '{node}'",
                    }
                )
            found.append(obj)
        return found, "Node"

    def _node(self, node: Any) -> dict[str, Any] | None:
        decoded = _decode_id(node)
        if decoded is None or not decoded[1].isdigit():
            return None
        kind, number = decoded[0], int(decoded[1])
        if kind == "WorkflowRun":
            run_id = number
        elif kind == "CheckSuite" and number % 3 == 1:  # a run's suite is numbered 3 x run id + 1
            run_id = number // 3
        else:
            return None
        found = self.run(run_id)
        if found is None:
            return None
        suite = self._check_suite(*found)
        return suite["workflowRun"]() if kind == "WorkflowRun" else suite

    def _check_suite(self, svc: Service, run: WorkflowRun) -> dict[str, Any]:
        """A run's check suite, from the REST run (simulator/github.py): its status and conclusion the
        run's, its check runs the run's jobs."""
        raw = self.rest.workflow_run(svc, run, self.now)  # type: ignore[attr-defined]
        suite: dict[str, Any] = {
            "__typename": "CheckSuite",
            "id": raw["check_suite_node_id"],
            "databaseId": raw["check_suite_id"],
            "status": raw["status"].upper(),
            "conclusion": raw["conclusion"].upper() if raw["conclusion"] else None,
            "createdAt": raw["created_at"],
            "updatedAt": raw["updated_at"],
            "_svc": svc,
            "_run": run,
        }
        workflow_run = {
            "__typename": "WorkflowRun",
            "id": raw["node_id"],
            "databaseId": raw["id"],
            "runNumber": raw["run_number"],
            "event": raw["event"],
            "createdAt": raw["created_at"],
            "updatedAt": raw["updated_at"],
            "checkSuite": suite,
        }
        suite["workflowRun"] = lambda: workflow_run
        return suite

    def _check_runs(self, suite: dict, args: dict) -> tuple[Page, str]:
        """`CheckSuite.checkRuns(first, after, filterBy)`: the run's one job as a check run (one attempt, so
        `checkType` LATEST and ALL agree); `filterBy.checkName` keeps the check runs of that name."""
        wanted = args.get("filterBy") or {}
        unknown = set(wanted) - {"checkType", "checkName"}
        if unknown or wanted.get("checkType") not in (None, "LATEST", "ALL"):
            raise GraphQLError(
                f"Argument 'filterBy' has an invalid value ({wanted}).", "argumentLiteralsIncompatible"
            )
        job = self.rest.workflow_job(suite["_svc"], suite["_run"], self.now)  # type: ignore[attr-defined]
        check_run = {
            "__typename": "CheckRun",
            "id": job["node_id"],
            "databaseId": job["id"],
            "name": job["name"],
            "status": job["status"].upper(),
            "conclusion": job["conclusion"].upper() if job["conclusion"] else None,
            "startedAt": job["started_at"],
            "completedAt": job["completed_at"],
            "detailsUrl": job["html_url"],
            "url": job["html_url"],
            "permalink": job["html_url"],
        }
        runs = [check_run] if wanted.get("checkName") in (None, check_run["name"]) else []
        return Page.of("CheckRun", runs, args), "Connection"

    def _pull_requests(self, repo: dict, args: dict) -> tuple[Page, str]:
        svc: Service = repo["svc"]
        now = self.now
        states = args.get("states")
        order = args.get("orderBy") or {"field": "CREATED_AT", "direction": "ASC"}
        key = {"UPDATED_AT": "updated_at", "CREATED_AT": "created_at"}.get(order.get("field"))
        if key is None:
            raise GraphQLError(
                f"Argument 'orderBy' has an invalid value ({order}).", "argumentLiteralsIncompatible"
            )
        descending = order.get("direction") == "DESC"

        def produce() -> list:
            ranked = []
            for pr in svc.pulls:
                if pr.opened_at > now:
                    continue
                raw = self.rest.pull_order(svc, pr, now)
                if states and _pull_state(raw) not in states:
                    continue
                ranked.append(((raw[key], pr.number), pr))
            ranked.sort(key=lambda pair: pair[0], reverse=descending)
            return [pr for _, pr in ranked]

        states_key = tuple(sorted(states)) if states else None
        pulls = self.listing(("graphql-pulls", svc.name, now, states_key, key, descending), produce)
        page = Page.of("PullRequest", pulls, args)
        page.items = [self._pull(svc, pr, self.rest.pull(svc, pr, now, full=True)) for pr in page.items]
        return page, "Connection"

    def _pull_request(self, repo: dict, args: dict) -> tuple[Any, str | None]:
        """`repository.pullRequest(number:)`: GitHub answers null with a NOT_FOUND error for a number
        that is no pull request (yet); here a whole-query error, as for a missing repository."""
        svc: Service = repo["svc"]
        number = args.get("number")
        pr = svc.pulls[number - 1] if isinstance(number, int) and 0 < number <= len(svc.pulls) else None
        if pr is not None and pr.opened_at <= self.now:
            return self._pull(svc, pr, self.rest.pull(svc, pr, self.now, full=True)), "PullRequest"
        raise GraphQLError(f"Could not resolve to a PullRequest with the number of {number}.", "NOT_FOUND")

    def _object(self, repo: dict, args: dict) -> tuple[Any, str]:
        """`repository.object(oid:)`: the commit of that SHA (its fields as a pull request's or a history's
        commit), or null when the repository has none (yet), as REST's commit detail finds it."""
        if "oid" not in args:
            raise GraphQLError("Repository.object is served by `oid` only here", "undefinedField")
        svc: Service = repo["svc"]
        found = svc.commits.get(args["oid"]) if isinstance(args["oid"], str) else None
        if found is None or found.committed_at > self.now:
            return None, "Commit"
        return self._commit(svc, found), "Commit"

    def _ref(self, svc: Service, qualified_name: str) -> dict[str, Any] | None:
        """A branch (`main`, `refs/heads/<name>`), or null when it does not exist (yet)."""
        name = qualified_name.removeprefix("refs/heads/")
        if self.history is None or not name:
            return None
        head, _ = self.history(svc, name, None, False)
        if head is None:
            return None
        target = {**self._commit(svc, head), "_svc": svc, "_ref": name}
        return {"name": name, "target": target}

    def _history(self, commit: dict, args: dict) -> tuple[Page, str]:
        """`Commit.history(first, after, since)`, served for a ref's target (the commits REST lists for the
        ref, with the same `since` filter, newest first)."""
        if "_ref" not in commit or self.history is None:
            raise GraphQLError("Commit.history is served for a ref's target only here", "undefinedField")
        svc: Service = commit["_svc"]
        _, commits = self.history(svc, commit["_ref"], args.get("since"), True)
        page = Page.of("Commit", commits, args)
        page.items = [self._commit(svc, c) for c in page.items]
        return page, "Connection"

    def _pull(self, svc: Service, pr: PullRequest, raw: dict) -> dict[str, Any]:
        now = self.now
        merged = raw["merged_at"] is not None
        commits = [svc.commits[s] for s in pr.shas_at(now, svc.commits)]
        obj = {
            "number": pr.number,
            "databaseId": pr.pr_id,
            "id": raw["node_id"],
            "title": raw["title"],
            "url": raw["html_url"],
            "state": _pull_state(raw),
            "author": {"login": pr.author.login, "__typename": raw["user"]["type"]},
            "createdAt": raw["created_at"],
            "updatedAt": raw["updated_at"],
            "closedAt": raw["closed_at"],
            "mergedAt": raw["merged_at"],
            "mergeCommit": {"oid": raw["merge_commit_sha"]} if merged else None,
            "potentialMergeCommit": (
                {"oid": raw["merge_commit_sha"]}
                if raw["state"] == "open" and raw["merge_commit_sha"]
                else None
            ),
            "headRefOid": raw["head"]["sha"],
            "headRefName": raw["head"]["ref"],
            "baseRefName": raw["base"]["ref"],
            "baseRefOid": raw["base"]["sha"],
            "additions": raw["additions"],
            "deletions": raw["deletions"],
            "changedFiles": raw["changed_files"],
            "isDraft": raw["draft"],
            "labels": [{"name": label["name"]} for label in raw["labels"]],
            "commits": _Rendered(commits, lambda commit: self._commit(svc, commit)),
        }
        later: dict[str, Callable[[], Any]] = {
            "reviews": lambda: [self._review(svc, pr, r) for r in served_reviews(self.world, svc, pr, now)],
            # a world without the optional REST endpoints (404 for files) has no file lists here either
            "files": lambda: (
                []
                if not self.world.extras
                else [
                    {
                        "path": f["filename"],
                        "additions": f["additions"],
                        "deletions": f["deletions"],
                        "changeType": _CHANGE_TYPES.get(f["status"], "MODIFIED"),
                    }
                    for f in self.files(svc, pr)
                ]
            ),
            "reviewThreads": lambda: _threads(self.review_comments(svc, pr)),
        }
        if self.reference:
            obj = {**obj, "commits": [self._commit(svc, commit) for commit in commits]}
            return {**obj, **{key: produce() for key, produce in later.items()}}
        return _Later(obj, later)

    def _commit(self, svc: Service, commit: Any) -> dict[str, Any]:
        raw = self.rest.commit(svc, commit)

        def actor(role: str) -> dict[str, Any]:
            person = raw["commit"][role]
            user = raw.get(role)
            return {
                "name": person["name"],
                "email": person["email"],
                "date": person["date"],
                "user": {"login": user["login"], "databaseId": user["id"], "__typename": "User"}
                if user
                else None,
            }

        return {
            "oid": raw["sha"],
            "message": raw["commit"]["message"],
            "url": raw["html_url"],
            "authoredDate": raw["commit"]["author"]["date"],
            "committedDate": raw["commit"]["committer"]["date"],
            "author": actor("author"),
            "committer": actor("committer"),
            "parents": [{"oid": p["sha"]} for p in raw["parents"]],
        }

    def _review(self, svc: Service, pr: PullRequest, review: Any) -> dict[str, Any]:
        raw = self.rest.review(svc, pr, review)
        return {
            "databaseId": raw["id"],
            "state": raw["state"].upper(),
            "submittedAt": raw["submitted_at"],
            "authorAssociation": raw["author_association"],
            "author": {"login": raw["user"]["login"], "__typename": raw["user"]["type"]},
            "commit": {"oid": raw["commit_id"]} if raw["commit_id"] else None,
        }

    def _deployments(self, repo: dict, args: dict) -> tuple[Page, str]:
        svc: Service = repo["svc"]
        now = self.now
        deps = [d for d in svc.deployments if d.created_at <= now and svc.delivery == "github"]
        environments = args.get("environments")
        if environments:
            deps = [d for d in deps if d.environment in environments]
        order = args.get("orderBy") or {"field": "CREATED_AT", "direction": "ASC"}
        if order.get("field") != "CREATED_AT":
            raise GraphQLError(
                f"Argument 'orderBy' has an invalid value ({order}).", "argumentLiteralsIncompatible"
            )
        deps.sort(key=lambda d: (d.created_at, d.deployment_id), reverse=order.get("direction") == "DESC")
        page = Page.of("Deployment", deps, args)
        page.items = [self._deployment(svc, d) for d in page.items]
        return page, "Connection"

    def _deployment(self, svc: Service, dep: Any) -> dict[str, Any]:
        raw = self.rest.deployment(svc, dep, self.now)
        statuses = [s for s in dep.statuses if s.created_at <= self.now]
        statuses.sort(key=lambda s: (s.created_at, s.status_id), reverse=True)
        creator = {"login": raw["creator"]["login"], "__typename": raw["creator"]["type"]}
        return {
            "databaseId": raw["id"],
            "id": raw["node_id"],
            "commitOid": raw["sha"],
            # GitHub resolves `ref` to the branch or tag while it exists; the simulator's refs never go away
            "ref": {"name": raw["ref"]},
            "task": raw["task"],
            "environment": raw["environment"],
            "originalEnvironment": raw["original_environment"],
            "description": raw["description"],
            "payload": json.dumps(raw["payload"]),
            "createdAt": raw["created_at"],
            "updatedAt": raw["updated_at"],
            "creator": creator,
            "statuses": [
                {
                    "databaseId": s.status_id,
                    "id": node_id("DeploymentStatus", s.status_id),
                    "state": s.state.upper(),
                    "environment": raw["environment"],
                    "description": s.description,
                    "createdAt": iso(s.created_at),
                    "updatedAt": iso(s.created_at),
                    "creator": creator,
                }
                for s in statuses
            ],
        }


_PULL_SCALARS = (
    "number databaseId id title url state createdAt updatedAt closedAt mergedAt headRefOid headRefName "
    "baseRefName baseRefOid additions deletions changedFiles isDraft"
).split()
_DEPLOYMENT_SCALARS = (
    "databaseId id commitOid task environment originalEnvironment description payload createdAt updatedAt"
).split()
_RATE_SCALARS = "cost remaining resetAt limit used nodeCount".split()
_FILE_SCALARS = "path additions deletions changeType".split()
_COMMENT_SCALARS = "databaseId path createdAt updatedAt authorAssociation".split()
_STATUS_SCALARS = "databaseId id state environment description createdAt updatedAt".split()
_CHANGE_TYPES = {
    "added": "ADDED",
    "removed": "DELETED",
    "modified": "MODIFIED",
    "renamed": "RENAMED",
    "copied": "COPIED",
    "changed": "CHANGED",
}


def _threads(comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """REST review comments as GraphQL review threads: a thread is a comment and the replies to it."""
    threads: dict[int, list[dict[str, Any]]] = {}
    for raw in comments:
        root = raw.get("in_reply_to_id") or raw["id"]
        threads.setdefault(root, []).append(
            {
                "databaseId": raw["id"],
                "path": raw["path"],
                "createdAt": raw["created_at"],
                "updatedAt": raw["updated_at"],
                "authorAssociation": raw["author_association"],
                "author": {"login": raw["user"]["login"], "__typename": raw["user"]["type"]},
                "commit": {"oid": raw["commit_id"]},
                "pullRequestReview": {"databaseId": raw["pull_request_review_id"]},
                "replyTo": {"databaseId": raw["in_reply_to_id"]} if raw.get("in_reply_to_id") else None,
            }
        )
    return [{"comments": listed} for listed in threads.values()]


def _pull_state(raw: dict[str, Any]) -> str:
    if raw.get("merged_at"):
        return "MERGED"
    return "CLOSED" if raw["state"] == "closed" else "OPEN"


def _bad_order(order: Any) -> GraphQLError:
    return GraphQLError(f"Argument 'orderBy' has an invalid value ({order}).", "argumentLiteralsIncompatible")
