"""Simulator OAuth and platform authentication, over real HTTP."""

from __future__ import annotations

import requests

from sim_fixtures import api_session, get_token

QUEUES = "/api/v2/routing/queues"


def _token(base_url: str, auth: tuple[str, str], grant: str = "client_credentials"):
    return requests.post(
        base_url + "/oauth/token", auth=auth, data={"grant_type": grant}, timeout=10
    )


def test_token_issued_for_configured_client(simulator) -> None:
    sim = simulator(token_lifetime_s=3600)
    response = _token(sim.base_url, ("sim-client", "sim-secret"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert response.headers["ININ-Correlation-Id"]


def test_bad_secret_is_401_invalid_client_in_oauth_shape(simulator) -> None:
    sim = simulator()
    response = _token(sim.base_url, ("sim-client", "wrong"))
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_client"
    assert body["description"] and body["error_description"] == body["description"]


def test_unknown_client_id_is_401(simulator) -> None:
    sim = simulator()
    assert _token(sim.base_url, ("someone-else", "sim-secret")).status_code == 401


def test_missing_credentials_is_401(simulator) -> None:
    sim = simulator()
    response = requests.post(
        sim.base_url + "/oauth/token", data={"grant_type": "client_credentials"}, timeout=10
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_bad_grant_type_is_400(simulator) -> None:
    sim = simulator()
    response = _token(sim.base_url, ("sim-client", "sim-secret"), grant="password")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_only_the_configured_credentials_are_accepted(simulator) -> None:
    sim = simulator(client_id="other-id", client_secret="other-secret")
    assert _token(sim.base_url, ("sim-client", "sim-secret")).status_code == 401
    assert _token(sim.base_url, ("other-id", "other-secret")).status_code == 200


def test_bearer_scheme_is_case_insensitive(simulator) -> None:
    sim = simulator()
    token = get_token(sim)
    for scheme in ("Bearer", "bearer"):
        response = requests.get(
            sim.base_url + QUEUES, headers={"Authorization": f"{scheme} {token}"}, timeout=10
        )
        assert response.status_code == 200, scheme


def _assert_error_body(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["message"]
    assert body["contextId"] == response.headers["ININ-Correlation-Id"]
    assert body["details"] == [] and body["errors"] == []


def test_missing_token_is_401_error_body(simulator) -> None:
    sim = simulator()
    _assert_error_body(
        requests.get(sim.base_url + QUEUES, timeout=10), 401, "authentication.required"
    )


def test_unknown_token_is_401_error_body(simulator) -> None:
    sim = simulator()
    response = requests.get(
        sim.base_url + QUEUES, headers={"Authorization": "Bearer not-a-token"}, timeout=10
    )
    _assert_error_body(response, 401, "bad.credentials")


def test_expired_token_is_401_and_a_new_token_works(simulator) -> None:
    sim = simulator(token_lifetime_s=300)
    session = api_session(sim)
    assert session.get(sim.base_url + QUEUES, timeout=10).status_code == 200
    sim.advance(301)
    _assert_error_body(session.get(sim.base_url + QUEUES, timeout=10), 401, "credentials.expired")
    assert api_session(sim).get(sim.base_url + QUEUES, timeout=10).status_code == 200


def test_every_response_carries_a_distinct_correlation_id(simulator) -> None:
    sim = simulator()
    session = api_session(sim)
    ids = {
        session.get(sim.base_url + QUEUES, timeout=10).headers["ININ-Correlation-Id"]
        for _ in range(5)
    }
    assert len(ids) == 5


def test_unknown_path_is_404_error_body(simulator) -> None:
    sim = simulator()
    _assert_error_body(
        api_session(sim).get(sim.base_url + "/api/v2/nothing/here", timeout=10), 404, "not.found"
    )
