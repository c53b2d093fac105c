"""The Graph schema checker itself: it must accept what exists in v1.0 and refuse what does not."""

from __future__ import annotations

import pytest

from tests import graphschema
from tests.graph.trim_metadata import FULL_METADATA, USED_PATHS, build_trimmed
from tests.graphschema import TRIMMED_METADATA, GraphSchema


@pytest.mark.parametrize("path", USED_PATHS)
def test_every_used_path_resolves_in_the_trimmed_schema(path: str) -> None:
    assert graphschema.check_request(path) == []


@pytest.mark.parametrize(
    ("path", "expected_type"),
    [
        ("/v1.0/users", "microsoft.graph.user"),
        ("/v1.0/users/delta()", "microsoft.graph.user"),
        ("/v1.0/users/delta", "microsoft.graph.user"),
        ("/v1.0/directory/deletedItems/microsoft.graph.user", "microsoft.graph.user"),
        ("/v1.0/tenantRelationships/delegatedAdminRelationships", "microsoft.graph.delegatedAdminRelationship"),
        (
            "/v1.0/tenantRelationships/findTenantInformationByTenantId(tenantId='x')",
            "microsoft.graph.tenantInformation",
        ),
        ("https://graph.microsoft.com/v1.0/users?$top=5", "microsoft.graph.user"),
    ],
)
def test_paths_resolve_to_their_entity_type(path: str, expected_type: str) -> None:
    assert graphschema.resolve_path(path) == expected_type


@pytest.mark.parametrize(
    "path",
    [
        "/beta/tenantRelationships/managedTenants/users",  # the endpoint a PSA shipped without it existing
        "/v1.0/tenantRelationships/managedTenants/users",
        "/v1.0/tenantRelationships/findTenantInformationByTenantId",  # its parameter is mandatory
        "/v1.0/tenantRelationships/findTenantInformationByDomainName(tenantId='x')",
        "/v1.0/customers",
        "/v1.0/directory/deletedItems/microsoft.graph.domain",  # not a directoryObject
    ],
)
def test_made_up_paths_are_refused(path: str) -> None:
    problems = graphschema.check_request(path)
    assert problems, path
    with pytest.raises(graphschema.GraphSchemaError):
        graphschema.resolve_path(path)


def test_select_filter_and_query_options_are_checked() -> None:
    assert (
        graphschema.check_request(
            "/v1.0/users",
            {
                "$select": "id,userPrincipalName,mail,accountEnabled,otherMails,assignedLicenses",
                "$top": "999",
                "$filter": "accountEnabled eq true",
                "$count": "true",
            },
        )
        == []
    )
    assert graphschema.check_request("/v1.0/users", {"$select": "id,emailAddress"}) == [
        "user has no property 'emailAddress'"
    ]
    assert graphschema.check_request("/v1.0/users", {"$filter": "startswith(email,'a')"}) == [
        "user has no property 'email'"
    ]
    assert graphschema.check_request("/v1.0/users", {"$expandall": "x"}) == ["unknown system query option '$expandall'"]
    assert graphschema.check_request("/v1.0/users", {"tenantFilter": "x"})[0].startswith("unknown query parameter")
    assert graphschema.check_request("/v1.0/users?$top=many") == ["$top must be a non-negative integer, got 'many'"]
    assert (
        graphschema.check_request("/v1.0/tenantRelationships/delegatedAdminRelationships?$filter=status eq 'active'")
        == []
    )


def test_properties_include_base_types_and_nested_values_are_typed() -> None:
    assert graphschema.check_properties("user", ["id", "deletedDateTime", "mail"]) == []  # id from entity, dDT from dO
    assert graphschema.check_properties("delegatedAdminCustomer", ["tenantId", "defaultDomainName"]) == [
        "delegatedAdminCustomer has no property 'defaultDomainName'"
    ]
    assert (
        graphschema.check_json(
            "delegatedAdminRelationship",
            {
                "id": "r",
                "status": "active",
                "customer": {"tenantId": "t", "displayName": "C"},
                "accessDetails": {"unifiedRoles": [{"roleDefinitionId": "x"}]},
            },
        )
        == []
    )
    assert graphschema.check_json("delegatedAdminRelationship", {"status": "dormant", "customer": {"tenant": "t"}}) == [
        "delegatedAdminRelationship.status: 'dormant' is not a member of microsoft.graph.delegatedAdminRelationshipStatus",
        "delegatedAdminRelationshipCustomerParticipant has no property 'tenant'",
    ]
    assert graphschema.check_json("user", {"id": "1", "accountEnabled": "yes", "businessPhones": "555"}) == [
        "user.accountEnabled: expected Edm.Boolean, got str",
        "user.businessPhones: expected an array, got str",
    ]


def test_the_committed_trimmed_copy_is_what_the_full_schema_gives() -> None:
    """The trimmed copy is regenerated from Microsoft's full v1.0 metadata and must match byte for byte."""
    full = GraphSchema.load(FULL_METADATA)
    assert build_trimmed(full) == TRIMMED_METADATA.read_text(encoding="utf-8")
    trimmed = GraphSchema.load(TRIMMED_METADATA)
    for path in USED_PATHS:
        resolved = full.resolve_path(path)
        assert trimmed.resolve_path(path).type == resolved.type
        if not resolved.item_type.startswith("Edm."):
            names = list(full.all_properties(resolved.item_type)) + list(full.all_navigation(resolved.item_type))
            assert trimmed.check_properties(resolved.item_type, names) == []
            assert trimmed.check_properties(resolved.item_type, ["notAProperty"]) != []
