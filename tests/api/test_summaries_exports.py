"""Night and week summaries as a clinician reads them, and the CSV and FHIR R4 exports."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import NIGHT_START, World, auth, sample_events, upload_night


def test_night_summary_counts_cramps_and_flags_long_ones(world: World, client: TestClient) -> None:
    upload_night(client, world.sleeper_a, world.hub_a)
    summary = client.get(f"/api/v1/sleepers/{world.sleeper_a}/nights/n0302/summary",
                         headers=auth(world.clinician)).json()
    assert summary["cramp_count"] == 3  # PLM and turning over are not cramps
    assert summary["counts_by_kind"]["plm"] == 1 and summary["event_count"] == 5
    assert summary["total_cramp_s"] == pytest.approx(132.5 + 45 + 660)
    assert summary["longest_cramp_s"] == pytest.approx(660)
    assert summary["long_episode_ids"] == ["e3"]
    # Local clock hours: 22:40 + 9843 s = 01:24, + 14400 s = 02:40, + 21000 s = 04:30.
    hours = {h: n for h, n in enumerate(summary["hour_histogram"]) if n}
    assert hours == {1: 1, 2: 1, 4: 1}
    assert summary["night_date"] == "2026-03-02"


def test_a_night_after_midnight_belongs_to_the_evening_before(
    world: World, client: TestClient
) -> None:
    late = dt.datetime(2026, 3, 4, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    upload_night(client, world.sleeper_a, world.hub_a, "late", late, events=[])
    night = client.get(f"/api/v1/sleepers/{world.sleeper_a}/nights/late",
                       headers=auth(world.clinician)).json()
    assert night["night_date"] == "2026-03-03"


def test_weeks_summarise_nights_with_two_or_more_cramps(world: World, client: TestClient) -> None:
    # Week of 2 March: three nights, with 3, 1 and 0 cramps; the next week is empty.
    upload_night(client, world.sleeper_a, world.hub_a, "n1", NIGHT_START,
                 sample_events("n1-"))
    upload_night(client, world.sleeper_a, world.hub_a, "n2", NIGHT_START + dt.timedelta(days=1),
                 sample_events("n2-")[1:2])
    upload_night(client, world.sleeper_a, world.hub_a, "n3", NIGHT_START + dt.timedelta(days=2),
                 sample_events("n3-")[3:])
    base = f"/api/v1/sleepers/{world.sleeper_a}"
    for day, pain in (("2026-03-03", 6), ("2026-03-04", 2)):
        client.put(f"{base}/diary/{day}", json={"entry_date": day, "pain_0_10": pain},
                   headers=auth(world.hub_a))
    weeks = client.get(f"{base}/weeks", params={"since": "2026-03-02", "until": "2026-03-15"},
                       headers=auth(world.clinician)).json()
    assert [w["week_start"] for w in weeks] == ["2026-03-02", "2026-03-09"]
    first, second = weeks
    assert first["nights_recorded"] == 3
    assert first["cramp_count"] == 4
    assert first["nights_with_cramps"] == 2
    assert first["nights_with_2plus_cramps"] == 1
    assert first["long_episode_count"] == 1
    assert first["longest_cramp_s"] == pytest.approx(660)
    assert first["mean_pain_0_10"] == pytest.approx(4.0)
    assert second["nights_recorded"] == 0 and second["cramp_count"] == 0
    too_long = client.get(f"{base}/weeks", params={"since": "2020-01-01", "until": "2026-01-01"},
                          headers=auth(world.clinician))
    assert too_long.status_code == 422 and "at most 106 weeks" in too_long.json()["detail"]


def test_csv_export_has_one_row_per_event(world: World, client: TestClient) -> None:
    upload_night(client, world.sleeper_a, world.hub_a)
    response = client.get(f"/api/v1/sleepers/{world.sleeper_a}/export/events.csv",
                          params={"cramps_only": True}, headers=auth(world.clinician))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["event_id"] for r in rows] == ["e1", "e2", "e3"]
    assert rows[0]["start_at"] == "2026-03-03T01:24:03.200000+01:00"
    assert float(rows[2]["duration_s"]) == pytest.approx(660)
    assert rows[1]["side"] == "left" and rows[1]["kind"] == "clonic"


def test_csv_cells_cannot_run_as_spreadsheet_formulas(world: World, client: TestClient) -> None:
    event = sample_events()[0]
    event["channel"]["label"] = "=HYPERLINK(1)"
    upload_night(client, world.sleeper_a, world.hub_a, events=[event])
    text = client.get(f"/api/v1/sleepers/{world.sleeper_a}/export/events.csv",
                      headers=auth(world.clinician)).text
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["channel_label"] == "'=HYPERLINK(1)"


def _validated(bundle: dict) -> int:
    """Return how many Observations a bundle holds, each checked against fhir.resources' R4B
    models (R4's Observation and Bundle); the bundle does not check its entries itself."""
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.observation import Observation

    Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        Observation.model_validate(entry["resource"])
    return len(bundle["entry"])


def test_fhir_bundle_has_one_observation_per_event(world: World, client: TestClient) -> None:
    upload_night(client, world.sleeper_a, world.hub_a)
    response = client.get(f"/api/v1/sleepers/{world.sleeper_a}/export/events.fhir.json",
                          headers=auth(world.clinician))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    observations = [entry["resource"] for entry in bundle["entry"]]
    assert len(observations) == 5
    assert len({entry["fullUrl"] for entry in bundle["entry"]}) == 5
    tonic = next(o for o in observations if o["identifier"][0]["value"] == "e3")
    assert tonic["resourceType"] == "Observation" and tonic["status"] == "final"
    # The finding in SNOMED CT (55300003 |Cramp|), the kind in the project's own codes.
    assert [(c["system"], c["code"]) for c in tonic["valueCodeableConcept"]["coding"]] == [
        ("http://snomed.info/sct", "55300003"), ("urn:crampwatch:event-kind", "tonic")]
    assert tonic["valueCodeableConcept"]["text"] == "tonic cramp"
    # The body site: SNOMED CT calf structure refined by laterality = right.
    assert tonic["bodySite"]["coding"] == [
        {"system": "http://snomed.info/sct", "code": "53840002:272741003=24028007"}]
    assert tonic["bodySite"]["text"] == "right calf (gastrocnemius)"
    plm = next(o for o in observations if o["identifier"][0]["value"] == "e4")
    assert [c["code"] for c in plm["valueCodeableConcept"]["coding"]] == ["plm"]
    assert plm["bodySite"]["coding"][0]["code"] == "30021000:272741003=24028007"
    first = next(o for o in observations if o["identifier"][0]["value"] == "e1")
    amplitudes = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in first["component"]}
    assert amplitudes["emg-amplitude"] == {"value": pytest.approx(39.9), "unit": "µV",
                                           "system": "http://unitsofmeasure.org", "code": "uV"}
    assert amplitudes["emg-amplitude-relative"]["code"] == "1"
    assert tonic["effectivePeriod"] == {"start": "2026-03-03T04:30:00+01:00",
                                        "end": "2026-03-03T04:41:00+01:00"}
    components = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in tonic["component"]}
    assert components["duration"] == {"value": 660.0, "unit": "s",
                                      "system": "http://unitsofmeasure.org", "code": "s"}
    assert components["confidence"]["value"] == pytest.approx(0.97)
    assert tonic["subject"]["identifier"]["value"] == "S-0001"
    # FHIR ids: letters, digits, '-' and '.', at most 64 characters.
    for observation in observations:
        assert all(ch.isalnum() or ch in "-." for ch in observation["id"])
    assert _validated(bundle) == 5
    # The same export twice names the same resources (stable fullUrls).
    again = client.get(f"/api/v1/sleepers/{world.sleeper_a}/export/events.fhir.json",
                       headers=auth(world.clinician)).json()
    assert [e["fullUrl"] for e in again["entry"]] == [e["fullUrl"] for e in bundle["entry"]]


def test_a_running_event_exports_as_preliminary_without_an_end(
    world: World, client: TestClient
) -> None:
    running = sample_events()[0]
    running.update(end_s=None, final=False)
    upload_night(client, world.sleeper_a, world.hub_a, events=[running])
    bundle = client.get(f"/api/v1/sleepers/{world.sleeper_a}/export/events.fhir.json",
                        headers=auth(world.clinician)).json()
    (entry,) = bundle["entry"]
    observation = entry["resource"]
    assert observation["status"] == "preliminary"
    assert "end" not in observation["effectivePeriod"]
    assert [c["code"]["coding"][0]["code"] for c in observation["component"]] == [
        "emg-amplitude", "emg-amplitude-relative", "confidence"]
    assert _validated(bundle) == 1


def test_dates_at_the_ends_of_the_calendar_are_refused_not_crashed(
    world: World, client: TestClient
) -> None:
    base = f"/api/v1/sleepers/{world.sleeper_a}"
    for path, params in (
        ("/weeks", {"since": "9999-12-20", "until": "9999-12-31"}),
        ("/weeks", {"until": "0001-01-01"}),
        ("/events", {"start": "0001-01-01T00:00:00+05:00"}),
        ("/export/events.csv", {"end": "9999-12-31T23:59:59-05:00"}),
    ):
        response = client.get(base + path, params=params, headers=auth(world.clinician))
        assert response.status_code == 422, (path, params, response.text)
        assert "between the years" in response.json()["detail"]
