"""Constants for the local git repository source."""

import re

# Rows per yielded Arrow batch: large enough that dlt handles few batches, small enough that memory stays
# bounded on histories of a hundred thousand commits.
BATCH_ROWS = 20_000
# Bytes read from `git log` at a time.
READ_CHUNK_BYTES = 1 << 20

# Field and record separators in the `git log` and `git for-each-ref` formats. Commit messages cannot hold
# NUL; names and e-mails hold neither.
FIELD_SEP = "\x1f"
RECORD_SEP = "\x00"
# What starts each commit in the `git log --name-status -z` of changed files (no path starts with it).
COMMIT_MARK = "\x01"

# Pull request numbers from the two common merge styles: GitHub's merge commit subject and the squash
# title suffix GitHub (and most tools copying it) write.
MERGE_PR_PATTERN = re.compile(r"^Merge pull request #(\d+)\b")
SQUASH_PR_PATTERN = re.compile(r"\(#(\d+)\)\s*$")
# GitLab's merge commit message names the merge request in its last lines instead.
GITLAB_MERGE_REQUEST_PATTERN = re.compile(r"^See merge request \S*!(\d+)\s*$", re.MULTILINE)
# Review heads some hosts publish as refs, kept in clones made with a matching refspec.
PULL_HEAD_PATTERN = re.compile(r"^refs/(?:pull|merge-requests)/(\d+)/head$")
