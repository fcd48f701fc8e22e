"""Constants for the DORA Quick Check source: the file names and metric keys of DORA's published data."""

import re

# `<edition>_industry_metrics.json` and `<edition>_organization_size_metrics.json`: mean and std of each
# metric's 0-10 score per industry / organisation size, as DORA's survey of that year measured them.
BENCHMARK_FILE = re.compile(r"^(?P<edition>\d{4})_(?P<comparison>industry|organization_size)_metrics\.json$")
# The Quick Check's answers (buckets 1 worst ... 6 best) to its three duration and frequency questions.
ANSWERS_FILE = "metrics_question_responses.json"

EDITIONS = ("2024", "2025")
COMPARISONS = ("industry", "organization_size")
# The segment every benchmark file holds: all respondents.
ALL_SEGMENT = "all"
