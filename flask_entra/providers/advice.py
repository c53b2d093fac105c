"""What an operator should do about an error from Microsoft's identity platform, Graph or CIPP-API.

Every token error carries an AADSTS code; the table turns the common ones into an action. CIPP reports its failures as
free text, so those are matched on phrases.
"""

from __future__ import annotations

import re

AADSTS_ADVICE: dict[int, str] = {
    65001: "The app is not consented in this customer tenant: redo the app consent for the customer "
    "(GDAP admin consent).",
    50020: "The partner user has no GDAP access to this customer: add the user to a security group that holds a role "
    "in an active GDAP relationship with the customer.",
    50177: "The partner user has no GDAP access to this customer: add the user to a security group that holds a role "
    "in an active GDAP relationship with the customer.",
    700082: "The refresh token expired from inactivity: reconnect Microsoft (sign in again on the connect page).",
    53003: "Sign-in was blocked by Conditional Access: exclude the integration's sign-in from the policy or "
    "sign in from a compliant location.",
    50076: "Multi-factor authentication is required: reconnect Microsoft and complete MFA during sign-in.",
    50079: "Multi-factor authentication enrolment is required: enrol the partner user in MFA, then reconnect "
    "Microsoft.",
    5000224: "The customer tenant was deleted: unmap it or skip it in the mapping step.",
    900023: "The tenant id is invalid: check the customer tenant id or the CIPP tenant id.",
    90002: "The tenant was not found: check the tenant id, or unmap a customer tenant that no longer exists.",
    7000215: "The client secret is wrong or expired: create a new client secret and update the stored secret.",
    700016: "The application was not found in this tenant: check the client id and that the app is consented there.",
    70011: "The requested scope is invalid: check the app registration's API permissions.",
    70008: "The authorization code or refresh token expired: reconnect Microsoft.",
    54005: "The authorization code was already redeemed: start the connection again.",
}

_AADSTS_PATTERN = re.compile(r"AADSTS(\d{4,8})")

GRAPH_ADVICE: dict[str, str] = {
    "Authorization_RequestDenied": "The partner's GDAP roles do not allow this read: give the relationship's security "
    "group at least the Directory Readers role in this customer.",
    "InvalidAuthenticationToken": "The access token was refused: reconnect Microsoft.",
    "Request_ResourceNotFound": "The object no longer exists in Microsoft Graph.",
    "Request_UnsupportedQuery": "Microsoft Graph refused the query: this is a flask-entra defect, please report it.",
}

#: CIPP-API failure phrases (case-insensitive) and the action they call for.
CIPP_ADVICE: tuple[tuple[str, str], ...] = (
    (
        "failed to retrieve tenants",
        "CIPP could not list tenants: run CIPP's permission check (Settings > Permissions) "
        "and repair the SAM application's consent.",
    ),
    (
        "insufficient privileges",
        "CIPP's SAM application lacks a permission in this tenant: run CIPP's permission "
        "check and refresh the customer's consent (CPV).",
    ),
    ("could not get token", "CIPP could not get a token for this tenant: refresh the tenant's consent in CIPP."),
    (
        "access to this cipp api endpoint is not allowed",
        "The CIPP API client's role does not allow this endpoint: give "
        "the API client at least the readonly role in CIPP (Integrations > CIPP-API).",
    ),
    (
        "access to this tenant is not allowed",
        "The CIPP API client is restricted to other tenants: allow this tenant for the API client in CIPP.",
    ),
    ("endpoint not found", "The CIPP instance does not know this endpoint: check the CIPP API URL and update CIPP."),
)


def aadsts_code(text: str | None, error_codes: object = None) -> int | None:
    """The first AADSTS code of a token error: from ``error_codes`` when present, else from the description text."""
    if isinstance(error_codes, list):
        for code in error_codes:
            if isinstance(code, int) and not isinstance(code, bool):
                return code
    match = _AADSTS_PATTERN.search(text or "")
    return int(match.group(1)) if match else None


def advice_for_aadsts(code: int | None, error: str | None = None) -> str:
    if code in AADSTS_ADVICE:
        return AADSTS_ADVICE[code]
    if error == "invalid_client":
        return AADSTS_ADVICE[7000215]
    if error in ("invalid_grant", "interaction_required", "consent_required"):
        return "Microsoft refused the stored sign-in: reconnect Microsoft."
    if code is not None:
        return f"Look up AADSTS{code} in Microsoft's sign-in error reference; reconnecting Microsoft may be needed."
    return "Check the app registration (client id, secret, permissions) and reconnect Microsoft."


def advice_for_graph(code: str | None) -> str | None:
    return GRAPH_ADVICE.get(code or "")


def advice_for_cipp(text: str) -> str | None:
    """Advice for a CIPP failure text; an AADSTS code inside it (CIPP relays token errors) takes precedence."""
    code = aadsts_code(text)
    if code is not None:
        return advice_for_aadsts(code)
    lowered = text.lower()
    for phrase, advice in CIPP_ADVICE:
        if phrase in lowered:
            return advice
    return None
