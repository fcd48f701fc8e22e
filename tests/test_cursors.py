"""ingestion/cursors.py and ingestion/dates.py: per-key cursors, their stored form, and their life in dlt's
resource state across two loads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dlt
import duckdb

from ingestion.cursors import ChangedSince, Watermark, keyed_state
from ingestion.dates import epoch_ms, iso_millis, iso_seconds, parse_ts, start_of
from ingestion.pipelines import make_pipeline

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_dates_parse_and_render_as_the_apis_write_them():
    assert parse_ts("2026-03-01T10:00:00Z") == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert parse_ts("2026-03-01T12:00:00.123+02:00") == datetime(2026, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert parse_ts("2026-03-01T10:00:00") == datetime(2026, 3, 1, 10, tzinfo=UTC)  # no offset: UTC
    assert parse_ts("") is None and parse_ts(None) is None
    moment = datetime(2026, 3, 1, 10, 0, 5, 678901, tzinfo=UTC)
    assert iso_seconds(moment) == "2026-03-01T10:00:05Z"
    assert iso_millis(moment) == "2026-03-01T10:00:05.678Z"
    assert start_of("2026-03-01") == T0
    assert start_of("2026-03-01T06:00:00+06:00") == T0
    assert start_of(None) is None and start_of("") is None
    assert epoch_ms(T0) == 1772323200000


def test_watermark_reads_again_a_lookback_before_the_newest_time_and_not_before_the_start():
    store: dict = {}
    first = Watermark(store, "acme/app")
    assert first.since(3, T0) == T0  # nothing read yet: from the start
    first.see(T0 + timedelta(days=9, hours=12))
    first.see(None)
    first.see(T0 + timedelta(days=2))
    first.save()
    assert store == {"acme/app": "2026-03-10T12:00:00Z"}

    again = Watermark(store, "acme/app")
    assert again.since(3, T0) == T0 + timedelta(days=6, hours=12)
    late_start = T0 + timedelta(days=8)
    assert again.since(3, late_start) == late_start
    assert again.since(3, late_start, clamp=False) == T0 + timedelta(days=6, hours=12)
    again.save()  # nothing newer read: the cursor stays
    assert store == {"acme/app": "2026-03-10T12:00:00Z"}
    Watermark(store, "acme/other").save()  # a key with nothing read writes nothing
    assert set(store) == {"acme/app"}


def test_watermark_keeps_milliseconds_when_rendered_so():
    store = {"group/app": "2026-03-01T00:00:00.250Z"}
    cursor = Watermark(store, "group/app", render=iso_millis)
    assert cursor.saved == T0 + timedelta(milliseconds=250)
    cursor.see(T0 + timedelta(milliseconds=750))
    cursor.save()
    assert store == {"group/app": "2026-03-01T00:00:00.750Z"}


def test_changed_since_skips_the_rows_at_the_cursor_by_id_but_not_another_row_at_that_instant():
    t1, t2 = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    store: dict = {}
    first = ChangedSince(store, "acme/app", start=T0)
    assert not first.is_new(T0 - timedelta(seconds=1), 9)  # before the start
    assert first.is_new(None, 10)  # a row without a time is always read
    for row_id, at in [(1, t1), (3, t2), (2, t2)]:
        assert first.is_new(at, row_id)
        first.see(at, row_id)
    first.see(None, 10)
    first.save()
    assert store == {"acme/app": {"updated_at": "2026-03-01T02:00:00Z", "ids": [2, 3]}}

    second = ChangedSince(store, "acme/app", start=T0)
    assert [second.is_new(at, i) for i, at in [(1, t1), (2, t2), (3, t2)]] == [False, False, False]
    assert second.is_new(t2, 4)  # updated at the same instant, not read before
    second.see(t2, 4)
    second.save()
    assert store == {"acme/app": {"updated_at": "2026-03-01T02:00:00Z", "ids": [2, 3, 4]}}

    third = ChangedSince(store, "acme/app")
    third.save()  # nothing read: the cursor and its ids stay
    assert store["acme/app"]["ids"] == [2, 3, 4]
    third.see(t2 + timedelta(minutes=1), 5)
    third.save()
    assert store == {"acme/app": {"updated_at": "2026-03-01T02:01:00Z", "ids": [5]}}


def test_changed_since_tells_a_resumed_cursor_from_a_first_read_bounded_by_the_start():
    store: dict = {"old/app": {"updated_at": "2026-03-01T02:00:00Z", "ids": [1]}}
    first = ChangedSince(store, "new/app", start=T0)
    assert first.cursor == T0 and not first.resumed
    resumed = ChangedSince(store, "old/app", start=T0)
    assert resumed.cursor == T0 + timedelta(hours=2) and resumed.resumed


def test_changed_since_renders_in_milliseconds_and_another_field_name():
    store = {"p": {"created_at": "2026-03-01T00:00:00.500Z", "ids": [7]}}
    cursor = ChangedSince(store, "p", render=iso_millis, field="created_at")
    assert cursor.cursor == T0 + timedelta(milliseconds=500)
    assert not cursor.is_new(T0 + timedelta(milliseconds=500), 7)
    assert cursor.is_new(T0 + timedelta(milliseconds=501), 7)


EVENTS = {
    "acme/app": [
        {"id": 1, "updated_at": "2026-03-01T01:00:00Z"},
        {"id": 2, "updated_at": "2026-03-01T02:00:00Z"},
    ],
    "acme/api": [{"id": 3, "updated_at": "2026-03-01T03:00:00Z"}],
}


@dlt.source(name="cursor_check")
def _events_source(events: dict):
    @dlt.resource(name="events", primary_key="id", write_disposition="merge")
    def events_resource():
        cursors = keyed_state("cursors")  # the running resource's state
        for key, rows in events.items():
            cursor = ChangedSince(cursors, key)
            fresh = [row for row in rows if cursor.is_new(parse_ts(row["updated_at"]), row["id"])]
            for row in fresh:
                cursor.see(parse_ts(row["updated_at"]), row["id"])
            if fresh:
                yield [{**row, "key": key} for row in fresh]
            cursor.save()

    return events_resource


def test_keyed_cursors_live_in_the_resource_state_and_a_second_load_reads_nothing_again(tmp_path):
    db = tmp_path / "check.duckdb"
    pipeline = make_pipeline("cursor_check", db, tmp_path / "dlt")
    pipeline.run(_events_source(EVENTS))
    expected_state = {
        "cursors": {
            "acme/app": {"updated_at": "2026-03-01T02:00:00Z", "ids": [2]},
            "acme/api": {"updated_at": "2026-03-01T03:00:00Z", "ids": [3]},
        }
    }
    assert pipeline.state["sources"]["cursor_check"]["resources"]["events"] == expected_state

    pipeline.run(_events_source(EVENTS))  # nothing changed: nothing read again
    assert pipeline.state["sources"]["cursor_check"]["resources"]["events"] == expected_state
    changed = {**EVENTS, "acme/api": [*EVENTS["acme/api"], {"id": 4, "updated_at": "2026-03-01T03:00:00Z"}]}
    pipeline.run(_events_source(changed))
    with duckdb.connect(str(db)) as con:
        loads = con.execute(
            "select id, count(distinct _dlt_load_id) over (), count(*) over () from raw_cursor_check.events "
            "order by id"
        ).fetchall()
    assert [row[0] for row in loads] == [1, 2, 3, 4]
    assert loads[0][1:] == (2, 4)  # two loads wrote rows: the first, and the one with the new row
    cursors = pipeline.state["sources"]["cursor_check"]["resources"]["events"]["cursors"]
    assert cursors["acme/api"] == {"updated_at": "2026-03-01T03:00:00Z", "ids": [3, 4]}
