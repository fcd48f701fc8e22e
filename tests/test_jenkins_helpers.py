"""The Jenkins source's small rules: which jobs a pattern selects, which checkout a build is about,
where a job lives below the controller root, and what never reaches the warehouse."""

from __future__ import annotations

from ingestion.jenkins.helpers import (
    BasicAuth,
    job_path,
    may_hold_wanted,
    normalize_branch,
    shape_build,
    wanted,
)


def _checkout(sha: str, branch: str, remote: str) -> dict:
    return {
        "_class": "hudson.plugins.git.util.BuildData",
        "lastBuiltRevision": {"SHA1": sha, "branch": [{"SHA1": sha, "name": branch}]},
        "remoteUrls": [remote],
    }


LIBRARY = _checkout("1" * 40, "master", "https://example.com/jenkins-library.git")
OWN = _checkout("2" * 40, "users/jack/lf-jenkins", "https://example.com/docs-site.git")


def test_multibranch_job_picks_the_checkout_of_its_own_branch_whatever_the_order() -> None:
    job = {"full_name": "docs/users%2Fjack%2Flf-jenkins", "name": "users%2Fjack%2Flf-jenkins"}
    for actions in ([LIBRARY, OWN], [OWN, LIBRARY]):
        row = shape_build({"number": 1, "timestamp": 0, "actions": actions}, job)
        assert (row["commit_sha"], row["branch"]) == ("2" * 40, "users/jack/lf-jenkins")
        assert len(row["revisions"]) == 2


def test_other_jobs_take_the_last_checkout() -> None:
    job = {"full_name": "deploy-docs", "name": "deploy-docs"}
    row = shape_build({"number": 1, "timestamp": 0, "actions": [OWN, LIBRARY]}, job)
    assert (row["commit_sha"], row["branch"]) == ("1" * 40, "master")
    row = shape_build({"number": 2, "timestamp": 0, "actions": [{}, {"_class": "x"}]}, job)
    assert "commit_sha" not in row and "branch" not in row and row["revisions"] == []


def test_branch_names_lose_remote_prefixes() -> None:
    assert normalize_branch("refs/remotes/origin/main") == "main"
    assert normalize_branch("origin/release/1.2") == "release/1.2"
    assert normalize_branch("refs/heads/main") == "main"
    assert normalize_branch("feature/x") == "feature/x"
    assert normalize_branch(None) is None


def test_password_parameters_keep_their_name_only() -> None:
    action = {
        "_class": "hudson.model.ParametersAction",
        "parameters": [
            {"_class": "hudson.model.StringParameterValue", "name": "ENV", "value": "prod"},
            {"_class": "hudson.model.PasswordParameterValue", "name": "DB_PASSWORD", "value": "hunter2"},
            {"_class": "hudson.model.BooleanParameterValue", "name": "DRY_RUN", "value": False},
        ],
    }
    row = shape_build({"number": 3, "timestamp": 0, "actions": [action]}, {"full_name": "j", "name": "j"})
    assert row["parameters"] == [
        {"name": "ENV", "value": "prod"},
        {"name": "DB_PASSWORD", "value": None},
        {"name": "DRY_RUN", "value": False},
    ]


def test_patterns_select_jobs_by_full_name_and_prune_folders() -> None:
    patterns = ["payments/*/main", "deploy-*"]
    assert wanted("deploy-checkout", patterns)
    assert wanted("payments/checkout-api/main", patterns)
    assert not wanted("payments/checkout-api/feature-x", patterns)
    assert not wanted("build-checkout", patterns)
    assert wanted("anything/at/all", None)
    assert may_hold_wanted("payments", patterns)
    assert may_hold_wanted("payments/checkout-api", patterns)
    assert not may_hold_wanted("infra", patterns)
    assert may_hold_wanted("infra", ["*/main"])  # a leading wildcard can match below any folder


def test_job_path_is_relative_to_the_controller_root() -> None:
    url = "https://jenkins.example.com/ci/job/docs/job/users%252Fjack%252Fx/"
    assert job_path(url, "ignored") == "job/docs/job/users%252Fjack%252Fx"
    assert job_path(None, "team/deploy api") == "job/team/job/deploy%20api"


def test_basic_auth_repr_hides_the_token() -> None:
    auth = BasicAuth("bot", "s3cr3t-token")
    assert "s3cr3t" not in repr(auth) and "bot" in repr(auth)
