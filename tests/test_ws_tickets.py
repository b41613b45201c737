import pytest

from alphaloop.ws_tickets import ws_ticket_redeem


@pytest.mark.django_db
def test_a_ws_ticket_is_issued_to_a_jwt_user_and_redeems_exactly_once(api, user):
    response = api.post("/api/v1/auth/ws-ticket")
    assert response.status_code == 200 and response.data["expires_in"] == 30
    ticket = response.data["ticket"]
    assert ws_ticket_redeem(ticket) == user.pk
    assert ws_ticket_redeem(ticket) is None


@pytest.mark.django_db
def test_a_browser_session_gets_a_ticket_only_with_csrf(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/api/v1/auth/ws-ticket").status_code == 403
    client.get("/")  # any page with a form sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post("/api/v1/auth/ws-ticket", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200 and ws_ticket_redeem(response.json()["ticket"]) == user.pk


def test_forged_or_unknown_tickets_are_refused():
    assert ws_ticket_redeem("wst_not-issued") is None
    assert ws_ticket_redeem("eyJhbGciOi.jwt.like") is None
