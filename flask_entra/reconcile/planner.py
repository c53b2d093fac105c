"""The reconciliation planner: one Microsoft tenant's listing + what we hold locally -> a :class:`Plan`.

Pure and deterministic (no Flask, no database, no I/O), so dry runs and real runs share it. Decisions taken here, beyond
DESIGN.md's rules:

- A listing that is not complete inactivates nothing at all, not even for ``accountEnabled=false``.
- Absence only proves deletion when the listing is complete AND every record (including those the provider rejected)
  had an object id: a record without one could be any linked user.
- A user both live and soft-deleted counts as live (positive evidence wins; the next run sees the deletion).
- Identical duplicate records collapse to one; conflicting duplicates of one object id are skipped (``duplicate``) and
  count as present, so nothing is written for that identity and nothing is inactivated.
- A contact the sync inactivated and someone made active by hand is not inactivated again while the user stays
  disabled or deleted; when the user is enabled again the stale marker is cleared.
- Filters, dismissals and open review items apply to users not linked yet; a linked identity is always kept in step.
- Unlinked users that would create contacts sharing an address compete like users matching the same contact: all go to
  review (``competing_identities``), because creating both would make duplicate contacts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from flask_entra.host import ContactRecord, ContactUpdate
from flask_entra.providers.base import EntraUser, UserListing
from flask_entra.reconcile.inputs import LinkState, LocalState, PlanSettings
from flask_entra.reconcile.plan import (
    Identity,
    Inactivation,
    InactivationReason,
    LinkRefresh,
    Plan,
    PlannedCreate,
    PlannedLink,
    Reactivation,
    ReviewItem,
    ReviewReason,
    Skip,
    SkipReason,
)
from flask_entra.reconcile.user_fields import (
    field_changes,
    is_guest,
    match_addresses,
    new_contact,
    primary_email,
)


@dataclass
class _ListingIndex:
    """The listing, deduplicated: live users, deleted ids, and ids listed with an unusable record (``present_ids``
    also holds the live ones)."""

    live: dict[str, EntraUser] = field(default_factory=dict)
    deleted_ids: set[str] = field(default_factory=set)
    present_ids: set[str] = field(default_factory=set)
    skips: list[Skip] = field(default_factory=list)
    absence_provable: bool = True

    @classmethod
    def build(cls, listing: UserListing) -> _ListingIndex:
        index = cls(absence_provable=listing.complete)
        seen: dict[str, EntraUser] = {}
        conflicting: set[str] = set()
        for user in listing.users:
            if not user.object_id:
                index.skips.append(Skip(None, "malformed", "missing object id"))
                index.absence_provable = False
                continue
            prior = seen.setdefault(user.object_id, user)
            if prior is not user and prior != user:
                conflicting.add(user.object_id)
        for object_id in sorted(conflicting):
            del seen[object_id]
            index.skips.append(Skip(object_id, "duplicate"))
        rejected: set[str] = set()
        for record in listing.skipped:
            index.skips.append(Skip(record.object_id, "malformed", record.reason))
            if record.object_id:
                rejected.add(record.object_id)
            else:
                index.absence_provable = False
        index.live = {object_id: user for object_id, user in seen.items() if not user.deleted}
        index.present_ids = set(index.live) | conflicting | rejected
        index.deleted_ids = {object_id for object_id, user in seen.items() if user.deleted}
        index.deleted_ids.update(user.object_id for user in listing.deleted if user.object_id)
        return index


def _identity(user: EntraUser) -> Identity:
    return Identity(user.object_id, user.user_principal_name, user.mail, user.account_enabled)


class _Planner:
    def __init__(self, client_id: str, state: LocalState, settings: PlanSettings, listing: UserListing) -> None:
        self.client_id = client_id
        self.state = state
        self.settings = settings
        self.complete = listing.complete
        self.index = _ListingIndex.build(listing)
        self.contacts = {contact.id: contact for contact in state.contacts}
        self.active_links = {link.object_id: link for link in state.links if link.active}
        self.taken = set(state.linked_contact_ids).union(link.contact_id for link in self.active_links.values())
        self.toggles = settings.ordered_toggles
        self.linked_active_contacts = 0
        self.links: list[PlannedLink] = []
        self.creates: list[PlannedCreate] = []
        self.updates: list[ContactUpdate] = []
        self.inactivations: list[Inactivation] = []
        self.reactivations: list[Reactivation] = []
        self.reviews: list[ReviewItem] = []
        self.refreshes: list[LinkRefresh] = []
        self.skips: list[Skip] = list(self.index.skips)

    # -- identities we already linked -------------------------------------------------------------------------------

    def plan_linked(self) -> None:
        index = self.index
        for object_id, link in self.active_links.items():
            contact = self.contacts.get(link.contact_id)
            user = index.live.get(object_id)
            if contact is None:
                if user is not None:
                    self.skips.append(Skip(object_id, "linked_contact_missing"))
                continue
            if not contact.is_inactive:
                self.linked_active_contacts += 1
            if user is not None:
                self._keep_in_step(link, contact, user)
            elif object_id in index.present_ids:
                continue  # listed, but its record is unusable: proof of nothing
            elif object_id in index.deleted_ids:
                self._inactivate(link, contact, "deleted")
            elif index.absence_provable:
                self._inactivate(link, contact, "absent")

    def _keep_in_step(self, link: LinkState, contact: ContactRecord, user: EntraUser) -> None:
        self._update(contact, user)
        clear_marker = False
        if not user.account_enabled:
            self._inactivate(link, contact, "disabled")
        elif link.inactivated_by_sync:
            if contact.is_inactive:
                self.reactivations.append(Reactivation(contact.id, user.object_id))
            else:
                clear_marker = True
        if (
            clear_marker
            or link.upn != user.user_principal_name
            or link.mail != user.mail
            or link.account_enabled != user.account_enabled
        ):
            self.refreshes.append(LinkRefresh(_identity(user), clear_inactivation=clear_marker))

    def _update(self, contact: ContactRecord, user: EntraUser) -> None:
        changes = field_changes(contact, user, self.toggles) if self.toggles else None
        if changes:
            self.updates.append(ContactUpdate(contact.id, changes))

    def _inactivate(self, link: LinkState, contact: ContactRecord, reason: InactivationReason) -> None:
        if self.complete and not contact.is_inactive and not link.inactivated_by_sync:
            self.inactivations.append(Inactivation(contact.id, link.object_id, reason))

    # -- users not linked yet ---------------------------------------------------------------------------------------

    def plan_unlinked(self) -> None:
        unlinked = [user for object_id, user in self.index.live.items() if object_id not in self.active_links]
        if not unlinked:  # the usual re-sync: skip indexing every contact by address
            return
        by_address = self._own_contacts_by_address()
        others = self._other_client_contacts_by_address()
        would_link: dict[str, list[EntraUser]] = defaultdict(list)
        would_create: dict[str, EntraUser] = {}
        addresses_of: dict[str, frozenset[str]] = {}
        for user in unlinked:
            object_id = user.object_id
            skip_reason = self._skip_reason(user)
            if skip_reason:
                self.skips.append(Skip(object_id, skip_reason))
                continue
            addresses = addresses_of[object_id] = match_addresses(user)
            candidates = tuple(sorted({cid for address in addresses for cid in by_address.get(address, ())}))
            owners = tuple(sorted({pair for address in addresses for pair in others.get(address, ())}))
            if len(candidates) > 1:
                self._review(user, "multiple_candidates", candidates, owners)
            elif candidates and candidates[0] in self.taken:
                self._review(user, "candidate_linked_elsewhere", candidates, owners)
            elif owners:
                self._review(user, "email_owned_by_other_client", candidates, owners)
            elif candidates:
                would_link[candidates[0]].append(user)
            else:
                would_create[object_id] = user
        self._settle_links(would_link)
        self._settle_creates(would_create, addresses_of)

    def _settle_links(self, would_link: dict[str, list[EntraUser]]) -> None:
        """One user per contact links to it; users competing for one contact all go to review."""
        for contact_id, users in would_link.items():
            if len(users) > 1:
                for user in users:
                    self._review(user, "competing_identities", (contact_id,), ())
                continue
            user = users[0]
            self.links.append(PlannedLink(_identity(user), contact_id))
            self._update(self.contacts[contact_id], user)

    def _settle_creates(self, would_create: dict[str, EntraUser], addresses_of: dict[str, frozenset[str]]) -> None:
        """Users sharing an address would create duplicate contacts: they all go to review instead."""
        creators: dict[str, list[str]] = defaultdict(list)
        for object_id in would_create:
            for address in addresses_of[object_id]:
                creators[address].append(object_id)
        contested = {object_id for ids in creators.values() if len(ids) > 1 for object_id in ids}
        for object_id, user in would_create.items():
            if object_id in contested:
                self._review(user, "competing_identities", (), ())
            else:
                self.creates.append(PlannedCreate(_identity(user), new_contact(user, self.client_id)))

    def _skip_reason(self, user: EntraUser) -> SkipReason | None:
        settings = self.settings
        if not user.account_enabled:
            return "disabled"
        if user.object_id in self.state.dismissed_object_ids:
            return "dismissed"
        if user.object_id in self.state.open_review_object_ids:
            return "review_open"
        if settings.skip_guests and is_guest(user):
            return "guest"
        if settings.skip_unlicensed and not user.licensed:
            return "unlicensed"
        if settings.skip_no_email and primary_email(user) is None:
            return "no_email"
        addresses = [address for address in (user.mail, user.user_principal_name) if address]
        if any(regex.search(address) for regex in settings.service_regexes for address in addresses):
            return "service_account"
        if any(regex.search(address) for regex in settings.custom_regexes for address in addresses):
            return "pattern"
        return None

    def _review(
        self,
        user: EntraUser,
        reason: ReviewReason,
        candidates: tuple[str, ...],
        owners: tuple[tuple[str, str], ...],
    ) -> None:
        self.reviews.append(ReviewItem(user.object_id, user, reason, candidates, owners))

    def _own_contacts_by_address(self) -> dict[str, list[str]]:
        by_address: dict[str, list[str]] = defaultdict(list)
        for contact in self.state.contacts:
            if contact.client_id == self.client_id and contact.email and contact.email.strip():
                by_address[contact.email.strip().lower()].append(contact.id)
        return by_address

    def _other_client_contacts_by_address(self) -> dict[str, set[tuple[str, str]]]:
        owners: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for address, contacts in self.state.other_client_contacts.items():
            for other in contacts:
                if other.client_id != self.client_id:
                    owners[address.strip().lower()].add((other.contact_id, other.client_id))
        return owners

    # -- the plan ---------------------------------------------------------------------------------------------------

    def finish(self, entra_tenant_id: str) -> Plan:
        settings = self.settings
        pending = tuple(sorted(self.inactivations, key=lambda item: (item.object_id, item.contact_id)))
        count = len(pending)
        held = (
            not settings.released
            and count > settings.mass_inactivation_min
            and count * 100 > settings.mass_inactivation_percent * self.linked_active_contacts
        )
        return Plan(
            entra_tenant_id=entra_tenant_id,
            client_id=self.client_id,
            links=tuple(sorted(self.links, key=lambda item: item.identity.object_id)),
            creates=tuple(sorted(self.creates, key=lambda item: item.identity.object_id)),
            updates=tuple(sorted(self.updates, key=lambda item: item.contact_id)),
            inactivations=() if held else pending,
            reactivations=tuple(sorted(self.reactivations, key=lambda item: (item.object_id, item.contact_id))),
            reviews=tuple(sorted(self.reviews, key=lambda item: (item.object_id, item.reason))),
            link_refreshes=tuple(sorted(self.refreshes, key=lambda item: item.identity.object_id)),
            skips=tuple(sorted(self.skips, key=lambda item: (item.object_id or "", item.reason, item.detail))),
            held_inactivations=pending if held else (),
            listing_complete=self.complete,
        )


def plan_sync(
    *,
    entra_tenant_id: str,
    client_id: str,
    listing: UserListing,
    state: LocalState,
    settings: PlanSettings,
) -> Plan:
    """Plan one Microsoft tenant's sync into the mapped client ``client_id``; writes nothing."""
    planner = _Planner(client_id, state, settings, listing)
    planner.plan_linked()
    planner.plan_unlinked()
    return planner.finish(entra_tenant_id)
