"""The report page and its charts (web/reports.py) over the hand-worked month of tests/test_planning.py,
on SQLite and PostgreSQL: the figures are the report API's, the charts are SVG drawn from them, and
only the workspace's analysts, supervisors and admins see them."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

from caredesk.analytics import reports
from caredesk.runtime import Runtime
from tests.conftest import World
from tests.test_planning import month  # noqa: F401 (the fixture)
from tests.web.test_settings_team_i18n import login

CPH = ZoneInfo("Europe/Copenhagen")


def _figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}"><span class="figure">([^<]*)</span>', html)
    assert found, name
    return found.group(1)


def test_the_figures_are_the_reports_and_the_charts_are_svg(rt: Runtime, month: World) -> None:  # noqa: F811
    client = login(rt, "analyst")
    page = client.get(f"/reports?ws={month.ws.id}&days=30")
    assert page.status_code == 200, page.text
    until = datetime.combine(rt.clock.now().astimezone(CPH).date(), time(0), tzinfo=CPH)
    with rt.db.read() as s:
        (whole,) = reports.summary(s, month.ws.id, since=until - timedelta(days=30), until=until)
    # Mondays 9-30 November (160), Tuesday the 10th and Monday the 2nd; today's is outside the range
    assert whole["conversations"] == 162
    assert _figure(page.text, "conversations") == "162"
    assert _figure(page.text, "response_rate") == "0.0%"  # nobody answered yet
    assert "2026-11-02 to 2026-12-01" in page.text and 'href="/reports?ws=' in page.text
    week = client.get(f"/reports?ws={month.ws.id}&days=7")
    assert _figure(week.text, "conversations") == "40"  # Monday the 30th
    today = client.get(f"/reports?ws={month.ws.id}&days=0")
    assert _figure(today.text, "conversations") == "1" and "2026-12-02 to 2026-12-02" in today.text
    for name in ("volume", "response", "daily", "staffing"):
        chart = client.get(f"/reports/chart/{name}.svg?ws={month.ws.id}&days=30")
        assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg+xml")
        root = ElementTree.fromstring(chart.content)  # noqa: S314 (the product's own SVG)
        assert root.tag == "{http://www.w3.org/2000/svg}svg" and not list(root.iter("{*}script"))
        assert f'src="/reports/chart/{name}.svg?ws={month.ws.id}&days=30"' in page.text
    assert client.get(f"/reports/chart/pie.svg?ws={month.ws.id}").status_code in (404, 422)
    csv = client.get(f"/api/v1/workspaces/{month.ws.id}/reports/conversations.csv")
    assert csv.status_code == 200 and len(csv.text.splitlines()) == 1 + 163  # the export link's endpoint


def test_agents_and_other_workspaces_see_no_reports(rt: Runtime, month: World) -> None:  # noqa: F811
    agent = login(rt, "agent")
    assert agent.get(f"/reports?ws={month.ws.id}").status_code == 403
    assert agent.get(f"/reports/chart/volume.svg?ws={month.ws.id}").status_code == 404
    assert ">Reports</a>" not in agent.get(f"/?ws={month.ws.id}").text
    supervisor = login(rt, "supervisor")
    assert ">Reports</a>" in supervisor.get(f"/?ws={month.ws.id}").text
    outsider = login(rt, "outsider")  # admin of the other workspace
    assert outsider.get(f"/reports/chart/volume.svg?ws={month.ws.id}").status_code == 404
    page = outsider.get(f"/reports?ws={month.ws.id}")
    assert page.status_code == 200 and "Globex" in page.text and "Acme" not in page.text  # their own
    assert login(rt, "analyst").get(f"/reports?ws={month.ws.id}&days=-1").status_code == 422
