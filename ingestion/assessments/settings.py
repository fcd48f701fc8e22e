"""Constants for the self-assessment source."""

from pathlib import Path

# The items a team scores, defined once in the dbt seed (the app's form reads it too).
ITEMS_SEED = Path(__file__).resolve().parents[2] / "transform" / "seeds" / "assessment_items.csv"
# 0 = don't have, 1 = novice, 2 = intermediate, 3 = advanced.
SCORES = (0, 1, 2, 3)
SCORE_LABELS = {0: "don't have", 1: "novice", 2: "intermediate", 3: "advanced"}
