"""The heading functions the upload page's mapping form uses agree with what ingest does."""
from __future__ import annotations

from itertools import combinations

import pytest

from analytics import schema
from analytics.ingest import headers as H


@pytest.mark.parametrize("dataset", list(schema.DATASETS))
def test_missing_required_agrees_with_the_importer_on_every_combination(dataset):
    # every subset of the columns that take part in a need (required columns, the provider
    # identifiers, the attendance alternatives): the form says "complete" exactly when ingest would
    relevant = sorted({c.name for c in schema.DATASETS[dataset] if c.required}
                      | ({"provider", "provider_urn", "provider_ukprn"} if dataset == "placements" else set())
                      | ({H.AM, H.PM, H.MARK, H.PCT, "possible_sessions", "attended_sessions"}
                         if dataset == "attendance" else set()))
    for k in range(len(relevant) + 1):
        for have in combinations(relevant, k):
            complete_for_ingest = not H._complete(dataset, {c: i for i, c in enumerate(have)})
            assert (not H.missing_required(dataset, set(have))) == complete_for_ingest, (dataset, have)


def test_read_as_is_what_ingest_reads_each_heading_as():
    headers = ["Pupil UPN", "first name", "SURNAME", "Began", "Provider name", "Keyworker", "Forename"]
    # by hand: UPN, first and last name and provider are synonyms; 'Began' and 'Keyworker' are
    # not; 'Forename' repeats first_name, already read, so it is not loaded
    assert H.read_as("placements", headers, {}) == ["pupil_id", "first_name", "last_name", None, "provider",
                                                   None, None]
    mapped = H.read_as("placements", headers, {"Began": "start_date", "SURNAME": ""})
    assert mapped == ["pupil_id", "first_name", None, "start_date", "provider", None, None]
    assert H.read_as(None, headers, {}) == [None] * len(headers)
    assert H.closest_dataset(headers, {}) == "placements"
    assert H.closest_dataset(["Keyworker", "Notes"], {}) is None
