"""Who may see what: the app's own access rules, applied after sign-in proves who someone is.

Sign-in (OIDC, Streamlit's ``st.login``) only says who a person is; this module decides what
they may open (security.md invariant 8). The rules are the ``[access]`` table of the
deployment's ``.streamlit/secrets.toml``: for each group of pages, the accounts allowed in,
as whole email addresses or ``@domain`` for everyone at a domain.

>>> policy = AccessPolicy.from_mapping({"trends": ["@council.gov.uk"], "panel": ["Chair@Council.gov.uk"]})
>>> sorted(policy.groups_for("chair@council.gov.uk"))
['panel', 'trends']
>>> sorted(policy.groups_for("someone@elsewhere.org"))
[]
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from analytics.errors import APDataError

# The page groups of the dashboard, and what each holds.
GROUPS = {
    "trends": "Overview and trends: figures, and placement lists by case number (no names)",
    "panel": "Panel: the case list and pupil view, which name pupils",
    "data": "Data: uploading and withdrawing files, and the settings",
}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DOMAIN = re.compile(r"@[^@\s]+\.[^@\s]+")


class AccessConfigError(APDataError):
    """The [access] settings cannot be used: nothing is shown until they are fixed."""


@dataclass(frozen=True)
class AccessPolicy:
    """For each group, the email addresses and @domains allowed in (lower-cased)."""
    rules: tuple[tuple[str, frozenset[str]], ...]

    @classmethod
    def from_mapping(cls, table: Mapping) -> "AccessPolicy":
        """The policy of an [access] table; AccessConfigError names what is wrong with it."""
        if not isinstance(table, Mapping) or not table:
            raise AccessConfigError("The [access] settings are empty: list who may open each group of "
                                    f"pages ({', '.join(GROUPS)}).")
        unknown = sorted(set(table) - set(GROUPS))
        if unknown:
            raise AccessConfigError(f"The [access] settings name an unknown group: {', '.join(unknown)}. "
                                    f"The groups are {', '.join(GROUPS)}.")
        rules = []
        for group in GROUPS:
            entries = table.get(group, [])
            if isinstance(entries, str) or not isinstance(entries, (list, tuple)):
                raise AccessConfigError(f"[access] {group} must be a list of email addresses or "
                                        '@domains, such as ["@council.gov.uk"].')
            allowed = set()
            for entry in entries:
                text = str(entry).strip().lower()
                if not (_EMAIL.fullmatch(text) or _DOMAIN.fullmatch(text)):
                    raise AccessConfigError(f"[access] {group}: '{entry}' is neither an email address "
                                            "nor an @domain.")
                allowed.add(text)
            rules.append((group, frozenset(allowed)))
        return cls(tuple(rules))

    def groups_for(self, email: str | None) -> frozenset[str]:
        """The groups an account may open: none for no email or a malformed one."""
        text = (email or "").strip().lower()
        if not _EMAIL.fullmatch(text):
            return frozenset()
        domain = "@" + text.rsplit("@", 1)[1]
        return frozenset(g for g, allowed in self.rules if text in allowed or domain in allowed)


def signed_in_groups(policy: AccessPolicy, claims: Mapping) -> frozenset[str]:
    """The groups for a signed-in user's identity claims. An email the identity provider says
    is not verified opens nothing: anyone could have typed it.

    >>> p = AccessPolicy.from_mapping({"trends": ["@council.gov.uk"]})
    >>> sorted(signed_in_groups(p, {"email": "a@council.gov.uk", "email_verified": True}))
    ['trends']
    >>> sorted(signed_in_groups(p, {"email": "a@council.gov.uk", "email_verified": False}))
    []
    """
    if claims.get("email_verified") is False:
        return frozenset()
    email = claims.get("email")
    return policy.groups_for(email if isinstance(email, str) else None)
