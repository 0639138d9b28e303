"""The outcomes page in Chromium: a clinician opens it from the menu, each figure draws its chart
(Chart.js, no script error, no CSP violation: the `page` fixture fails on either) with its table
under it, a site and date range narrow it, and the table downloads as CSV; a researcher sees the
aggregates with small cells suppressed."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from registry.models import Role
from research.outcome_snapshots import refresh
from tests.conftest import TODAY, _member
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import ReactionFactory
from tests.research.test_outcome_figures import hand_cohort


def test_a_clinician_reads_the_outcomes_with_charts_tables_and_csv(page: Page, clinician_a):
    site = clinician_a.memberships.get().site
    courses = hand_cohort(site)
    ReactionFactory(infusion=courses[0].infusions.order_by("given_on").first())
    refresh(TODAY)
    sign_in(page, clinician_a.username)
    page.get_by_role("link", name="Outcomes").click()
    expect(page.get_by_role("heading", name="Outcomes", exact=True)).to_be_visible()

    survival = page.locator("#relapse-free-survival")
    expect(survival.locator("canvas")).to_have_attribute("data-drawn", "true")
    expect(survival).to_contain_text("Rests on 5 patients, 5 courses.")
    expect(survival).to_contain_text("about 30–40 % relapse after stopping infliximab")
    expect(survival.locator("table")).to_contain_text("46.7 %")
    reactions = page.locator("#infusion-reactions")
    expect(reactions.locator("canvas")).to_have_attribute("data-drawn", "true")
    expect(reactions.locator("table")).to_contain_text("Cheifetz 2003 6.1 %")
    survival.get_by_text("How this is counted").click()
    expect(survival).to_contain_text("censored when the next course starts")
    screenshot(page, "outcomes")

    with page.expect_download() as download:
        survival.get_by_role("link", name="Download this table (CSV)").click()
    assert download.value.suggested_filename == "relapse-free-survival.csv"

    page.get_by_label("From").fill(str(TODAY))
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#relapse-free-survival")).to_contain_text("Rests on 0 patients")


def test_a_researcher_sees_aggregates_only(page: Page, site_a):
    _member("rhea", site_a, Role.RESEARCHER, is_staff=False)
    hand_cohort(site_a)
    refresh(TODAY)
    sign_in(page, "rhea", home="Research exports")
    page.get_by_role("link", name="Outcomes").click()
    expect(page.get_by_text("Aggregates for research")).to_be_visible()
    expect(page.locator("#relapse-free-survival table")).to_contain_text("< 5")
    expect(page.locator("a[href^='/patients/']")).to_have_count(0)
