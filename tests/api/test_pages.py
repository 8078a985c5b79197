"""The clinician pages through TestClient: login, what each page shows, and refusals."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import NIGHT_START, World, auth, sample_events, upload_night


def _login(client: TestClient, token: str) -> None:
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303


def _events_table(page: str) -> str:
    start = page.index('<table class="list events">')
    return page[start:page.index("</table>", start)]


def test_pages_redirect_to_login_and_back(world: World, client: TestClient) -> None:
    response = client.get(f"/sleepers/{world.sleeper_a}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=/sleepers/{world.sleeper_a}"
    login = client.post("/login", data={"token": world.clinician,
                                        "next": f"/sleepers/{world.sleeper_a}"},
                        follow_redirects=False)
    assert login.headers["location"] == f"/sleepers/{world.sleeper_a}"
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_login_never_redirects_off_site(world: World, client: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        login = client.post("/login", data={"token": world.clinician, "next": target},
                            follow_redirects=False)
        assert login.headers["location"] == "/sleepers"


def test_wrong_token_shows_the_form_again(world: World, client: TestClient) -> None:
    response = client.post("/login", data={"token": "cw_nope"})
    assert response.status_code == 401
    assert "not valid" in response.text


def test_logout_ends_the_session(world: World, client: TestClient) -> None:
    _login(client, world.clinician)
    assert client.get("/sleepers").status_code == 200
    client.post("/logout")
    assert client.get("/sleepers", follow_redirects=False).status_code == 303


def test_night_page_plots_every_event_and_links_it(world: World, client: TestClient) -> None:
    upload_night(client, world.sleeper_a, world.hub_a)
    _login(client, world.clinician)
    page = client.get(f"/sleepers/{world.sleeper_a}/nights/n0302")
    assert page.status_code == 200
    for event_id in ("e1", "e2", "e3", "e4", "e5"):
        assert f'data-event-id="{event_id}"' in page.text
        assert f'href="/sleepers/{world.sleeper_a}/events/{event_id}"' in page.text
    assert "Red flag" in page.text and "11 min 00 s" in page.text
    assert "/export/events.csv?night_id=n0302" in page.text


def test_night_page_lists_cramps_first_and_hides_look_alikes_until_asked(
    world: World, client: TestClient
) -> None:
    upload_night(client, world.sleeper_a, world.hub_a)
    _login(client, world.clinician)
    url = f"/sleepers/{world.sleeper_a}/nights/n0302"
    page = client.get(url).text
    table = _events_table(page)
    # e1 and e3 are tonic, e2 clonic; e4 (a PLM) and e5 (a movement) started earlier.
    listed = [table.index(f"/events/{e}\"") for e in ("e1", "e2", "e3")]
    assert listed == sorted(listed)
    assert "/events/e4" not in table and "/events/e5" not in table
    assert "2 look-alikes are hidden" in page and 'href="?show=all#events"' in page
    everything = client.get(url, params={"show": "all"}).text
    table = _events_table(everything)
    order = [table.index(f"/events/{e}\"") for e in ("e1", "e2", "e3", "e4", "e5")]
    assert order == sorted(order)  # the cramps, then the look-alikes in time order
    assert "periodic limb movement" in table and "right shin (tibialis anterior)" in table
    assert client.get(url, params={"show": "nonsense"}).status_code == 422


def test_sleeper_page_lists_recent_cramps_and_hides_look_alikes_until_asked(
    world: World, client: TestClient
) -> None:
    upload_night(client, world.sleeper_a, world.hub_a)
    _login(client, world.clinician)
    url = f"/sleepers/{world.sleeper_a}"
    page = client.get(url).text
    table = _events_table(page)
    newest_first = [table.index(f"/events/{e}\"") for e in ("e3", "e2", "e1")]
    assert newest_first == sorted(newest_first)
    assert "/events/e4" not in table and "2 look-alikes are hidden" in page
    assert "Mon 02 Mar 2026" in table  # each event says which night it belongs to
    everything = client.get(url, params={"show": "all"}).text
    table = _events_table(everything)
    order = [table.index(f"/events/{e}\"") for e in ("e3", "e2", "e1", "e5", "e4")]
    assert order == sorted(order)


def test_one_night_has_one_date_and_its_versions_everywhere(
    world: World, client: TestClient
) -> None:
    # Started at 00:30 on Tuesday 3 March: Monday's night, on every page.
    start = NIGHT_START.replace(day=3, hour=0, minute=30)
    upload_night(client, world.sleeper_a, world.hub_a, "late", start)
    night = {"started_at": start.isoformat(), "detector_version": "0.1.0+det7",
             "model_version": "tonic-clonic-2026.1"}
    assert client.put(f"/api/v1/sleepers/{world.sleeper_a}/nights/late", json=night,
                      headers=auth(world.hub_a)).status_code == 200
    _login(client, world.clinician)
    assert "Mon 02 Mar 2026" in client.get("/sleepers").text
    page = client.get(f"/sleepers/{world.sleeper_a}/nights/late").text
    assert "Night of Mon 02 Mar 2026" in page and "Tue 03" not in page
    assert "Detector 0.1.0+det7" in page and "classifier model tonic-clonic-2026.1" in page
    api = client.get(f"/api/v1/sleepers/{world.sleeper_a}/nights/late",
                     headers=auth(world.clinician)).json()
    assert api["night_date"] == "2026-03-02" and api["detector_version"] == "0.1.0+det7"


def test_event_page_plots_the_envelope_and_lists_features(world: World, client: TestClient) -> None:
    upload_night(client, world.sleeper_a, world.hub_a)
    _login(client, world.clinician)
    page = client.get(f"/sleepers/{world.sleeper_a}/events/e1")
    assert page.status_code == 200
    assert page.text.count("<polyline") == 2
    assert 'class="mark mark-onset"' in page.text and 'class="mark mark-end"' in page.text
    assert "Right calf (gastrocnemius)" in page.text
    assert "Right shin (tibialis anterior)" in page.text
    # Features grouped and named in words with units (the raw name stays, small).
    assert page.text.index("<caption>Timing</caption>") < page.text.index(
        "<caption>Strength</caption>") < page.text.index("<caption>Bursts and rhythm</caption>")
    assert "Duration, from the onset to the end of the last burst" in page.text
    assert "132 s" in page.text and "11.4 × rest" in page.text and "1 bursts" not in page.text
    assert "Tonic cramp" in page.text and "night of Mon 02 Mar 2026" in page.text
    plain = client.get(f"/sleepers/{world.sleeper_a}/events/e2")
    assert "No signal was sent for this event" in plain.text
    assert "not computable" in plain.text  # amp_rel_peak null


def test_a_running_event_with_an_envelope_is_plotted_as_running(
    world: World, client: TestClient
) -> None:
    running = sample_events()[0]
    running.update(end_s=None, final=False)
    upload_night(client, world.sleeper_a, world.hub_a, events=[running])
    _login(client, world.clinician)
    page = client.get(f"/sleepers/{world.sleeper_a}/events/e1").text
    assert 'class="mark mark-onset"' in page and ">running</text>" in page
    assert "still running" in page and "provisional" in page


def test_sleeper_page_has_calendar_trends_and_exports(world: World, client: TestClient) -> None:
    upload_night(client, world.sleeper_a, world.hub_a)
    _login(client, world.clinician)
    page = client.get(f"/sleepers/{world.sleeper_a}")
    assert page.status_code == 200
    assert "March 2026" in page.text and "January 2026" in page.text
    assert f'href="/sleepers/{world.sleeper_a}/nights/n0302"' in page.text
    assert "Cramps per week" in page.text
    assert "export/events.fhir.json" in page.text


def test_labels_are_escaped_in_pages(world: World, client: TestClient) -> None:
    event = sample_events()[1]
    event["channel"] = {"label": "<script>alert(1)</script>", "muscle": "soleus", "side": "left"}
    upload_night(client, world.sleeper_a, world.hub_a, events=[event])
    _login(client, world.clinician)
    page = client.get(f"/sleepers/{world.sleeper_a}/events/e2")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text


def test_other_sleepers_pages_are_not_found(world: World, client: TestClient) -> None:
    upload_night(client, world.sleeper_b, world.hub_b)
    _login(client, world.clinician)
    for path in (f"/sleepers/{world.sleeper_b}", f"/sleepers/{world.sleeper_b}/nights/n0302",
                 f"/sleepers/{world.sleeper_b}/events/e1"):
        response = client.get(path)
        assert response.status_code == 404
        assert "text/html" in response.headers["content-type"]
    listing = client.get("/sleepers")
    assert "S-0001" in listing.text and "S-0002" not in listing.text
