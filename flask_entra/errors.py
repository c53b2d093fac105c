"""The one exception family of flask-entra.

Third-party errors (httpx, hvac, SQLAlchemy, temporalio) are converted at the boundary into these, each carrying a
message an operator can act on. Messages never contain a bearer token or a secret value.
"""

from __future__ import annotations


class EntraError(Exception):
    """Base of every error raised by flask-entra."""

    code = "entra_error"
    status = 500

    def __init__(self, message: str, *, advice: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.advice = advice

    def __str__(self) -> str:
        return f"{self.message} {self.advice}" if self.advice else self.message


class ConfigurationError(EntraError):
    """The host configured the extension wrongly; raised by ``init_app``."""

    code = "configuration_error"


class AccessDenied(EntraError):
    """A guard refused the principal (the status tells which rule)."""

    code = "forbidden"
    status = 403


class NotAuthenticated(AccessDenied):
    code = "unauthenticated"
    status = 401


class ClientPortalDenied(AccessDenied):
    code = "client_portal_forbidden"
    status = 403


class PermissionDenied(AccessDenied):
    code = "permission_denied"
    status = 403


class NotFound(EntraError):
    """Missing, or belonging to another tenant, or behind a flag that is off: the caller cannot tell which."""

    code = "not_found"
    status = 404


class ValidationFailed(EntraError):
    """The request's payload is malformed; nothing was written."""

    code = "invalid_request"
    status = 400


class Conflict(EntraError):
    """The request contradicts the current state (for example, a client with no mapped tenant)."""

    code = "conflict"
    status = 409


class SecretStoreError(EntraError):
    """A secret provider failed or is unreachable."""

    code = "secret_store_error"
    status = 503


class ProviderError(EntraError):
    """Microsoft or CIPP answered with an error, or could not be reached."""

    code = "provider_error"
    status = 502
    retryable = True


class ProviderAuthError(ProviderError):
    """Authentication or consent failure: retrying will not help, the operator must act."""

    code = "provider_auth_error"
    retryable = False

    def __init__(self, message: str, *, advice: str | None = None, aadsts: int | None = None) -> None:
        super().__init__(message, advice=advice)
        self.aadsts = aadsts


class ProviderThrottled(ProviderError):
    """Throttling or transient unavailability outlasted the retry budget."""

    code = "provider_throttled"


class IncompleteListing(ProviderError):
    """A paged listing failed part-way; what was read must not be treated as complete."""

    code = "incomplete_listing"


class WorkflowError(EntraError):
    """Temporal could not be reached or refused a request."""

    code = "workflow_error"
    status = 503


class ConnectionFailed(EntraError):
    """Connecting or validating a Microsoft/CIPP connection failed; nothing was saved. The advice says what to fix."""

    code = "connection_failed"
    status = 400
