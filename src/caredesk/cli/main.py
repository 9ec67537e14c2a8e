"""The operator's command line: `caredesk --help`."""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer

from caredesk.config import Settings, load_settings
from caredesk.domain.errors import CaredeskError
from caredesk.runtime import Runtime

GRACEFUL_SECONDS = 3  # how long `serve` waits for open requests (live streams) when stopped

app = typer.Typer(no_args_is_help=True, add_completion=False, help="caredesk: a social customer care desk.")
import_app = typer.Typer(
    no_args_is_help=True, help="Import history (through the same pipeline as live traffic)."
)
report_app = typer.Typer(no_args_is_help=True, help="Reports.")
admin_app = typer.Typer(no_args_is_help=True, help="Workspaces, agents and tokens.")
app.add_typer(import_app, name="import")
app.add_typer(report_app, name="report")
channel_app = typer.Typer(
    no_args_is_help=True, help="Channels: the network accounts a workspace answers from."
)
watch_app = typer.Typer(no_args_is_help=True, help="Watch rules: listening for the brand without an @.")
app.add_typer(admin_app, name="admin")
app.add_typer(channel_app, name="channel")
app.add_typer(watch_app, name="watch")


class Format(StrEnum):
    json = "json"
    table = "table"
    csv = "csv"


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: CAREDESK_DATABASE_URL or SQLite in ./data).",
        envvar="CAREDESK_DATABASE_URL",
    ),
]


def _settings(db: str | None) -> Settings:
    return load_settings(database_url=db)


def _open(db: str | None) -> Runtime:
    return Runtime.open(_settings(db))


def _fail(exc: CaredeskError) -> None:
    typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@app.callback()
def main_callback(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def init(db: DbOption = None) -> None:
    """Create or upgrade the database schema."""
    rt = _open(db)
    typer.echo(f"database ready: {rt.db.url.render_as_string(hide_password=True)}")
    rt.close()


@app.command()
def backup(
    to: Annotated[Path, typer.Argument(help="The backup file to write (a new SQLite file).")],
    db: DbOption = None,
    overwrite: Annotated[bool, typer.Option(help="Replace the file if it exists.")] = False,
) -> None:
    """Copy the embedded SQLite database to a file while the product runs (PostgreSQL: use pg_dump)."""
    from caredesk.storage import backup as backups  # noqa: PLC0415

    try:
        done = backups.backup(_settings(db).database_url, to, overwrite=overwrite)
    except CaredeskError as exc:
        _fail(exc)
        return
    typer.echo(f"backup written: {done.path} ({done.bytes:,} bytes; {_counts(done.rows)})")
    typer.echo("the secret key is not in the backup: keep secret.key (or CAREDESK_SECRET_KEYS) apart")


@app.command()
def restore(
    source: Annotated[Path, typer.Argument(help="A file written by caredesk backup.")],
    db: DbOption = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace an existing database (stop caredesk first).")
    ] = False,
) -> None:
    """Replace the embedded SQLite database with a backup, then bring its schema up to date."""
    from caredesk.storage import backup as backups  # noqa: PLC0415

    settings = _settings(db)
    try:
        done = backups.restore(source, settings.database_url, overwrite=overwrite)
    except CaredeskError as exc:
        _fail(exc)
        return
    Runtime.open(settings).close()  # a backup from an older release is migrated here
    typer.echo(f"restored {done.path} from {source} ({_counts(done.rows)})")


def _counts(rows: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {table}" for table, n in rows.items())


@app.command()
def serve(
    db: DbOption = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[bool, typer.Option(help="Run the intake and sender workers in this process.")] = True,
) -> None:
    """Run the web inbox and API (and, by default, the workers)."""
    import uvicorn  # noqa: PLC0415

    from caredesk.api.app import create_app  # noqa: PLC0415

    rt = _open(db)
    typer.echo(f"caredesk on http://{host}:{port}/  (API docs: /docs)")
    # Open live streams would hold a graceful shutdown for ever: they get a few seconds, then are closed
    # (browsers reconnect to another process).
    uvicorn.run(
        create_app(rt, run_workers=workers), host=host, port=port, log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )  # fmt: skip


@app.command()
def demo(
    db: DbOption = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    network_port: Annotated[
        int,
        typer.Option(help="First port of the local networks: webhook fake, X, Mastodon, the ticket system."),
    ] = 8001,
    serve_it: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the server afterwards.")] = True,
) -> None:
    """Create the demo workspace (once), start the local networks and serve the inbox."""
    import dataclasses  # noqa: PLC0415

    import uvicorn  # noqa: PLC0415

    from caredesk.actions import admin  # noqa: PLC0415
    from caredesk.actions.base import Actor  # noqa: PLC0415
    from caredesk.api.app import create_app  # noqa: PLC0415
    from caredesk.demo import seed  # noqa: PLC0415
    from caredesk.demo.networks import DemoNetworks  # noqa: PLC0415
    from caredesk.fakes.webhook_network import FakeWebhookNetwork, ServerThread  # noqa: PLC0415

    # The demo polls its networks every few seconds, so what a customer writes shows up at once.
    rt = Runtime.open(dataclasses.replace(_settings(db), poll_seconds=3))
    network_url = f"http://127.0.0.1:{network_port}"
    created = not seed.demo_exists(rt)
    seed.seed(rt, network_url=network_url)
    typer.echo("demo workspace " + ("created" if created else "already there"))
    if not serve_it:
        rt.close()
        return
    network = FakeWebhookNetwork()
    for channel in seed.demo_channels(rt):
        admin.update_channel_config(
            rt,
            Actor.system(),
            channel.channel_id,
            {"outbound_url": f"{network_url}/channels/{channel.key}/replies"},
        )
        network.add_channel(
            channel.key, secret=channel.secret, hook_url=f"http://{host}:{port}/hooks/{channel.channel_id}"
        )
    fake = ServerThread(network.app, port=network_port).start()
    live = DemoNetworks(
        x_port=network_port + 1, mastodon_port=network_port + 2, tickets_port=network_port + 3
    ).start()
    live.connect(rt)
    live.customers_write()
    typer.echo(
        f"web chat network on {network_url}/ (a customer writes: POST {network_url}/channels/chat/inject)"
    )
    typer.echo(
        f"X on {live.pages['x']}/ and Mastodon on {live.pages['mastodon']}/ (what the brand published)"
    )
    typer.echo(f"ticket system on {live.pages['tickets']}/events (what escalations sent)")
    if live.mail is not None:
        typer.echo(f"mail: IMAP 127.0.0.1:{live.mail.imap_port}, SMTP 127.0.0.1:{live.mail.smtp_port}")
    else:
        typer.echo("mail: no dovecot here (scripts/install-system-deps installs it); the email channel waits")
    typer.echo(f"caredesk on http://{host}:{port}/  log in as claire@nordlys.example / {seed.DEMO_PASSWORD}")
    try:
        uvicorn.run(
            create_app(rt, run_workers=True), host=host, port=port, log_level="warning",
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
        )  # fmt: skip
    finally:
        live.stop()
        fake.stop()


@app.command()
def worker(db: DbOption = None) -> None:
    """Run the intake pipeline and the reply sender until stopped (several may run on PostgreSQL)."""
    from caredesk.workers.loop import Workers  # noqa: PLC0415

    rt = _open(db)
    typer.echo("worker running; Ctrl-C or SIGTERM to stop")
    try:
        Workers(rt).run_forever()
    finally:
        rt.close()


@import_app.command("twcs")
def import_twcs(path: Path, db: DbOption = None) -> None:
    """Import a TWCS CSV: each brand a workspace with an X channel, brand tweets as agent replies."""
    from caredesk.actions.imports import import_twcs as run  # noqa: PLC0415

    rt = _open(db)
    try:
        report = run(rt, path)
    except CaredeskError as exc:
        _fail(exc)
        return
    _print_import(report)


@import_app.command("jsonl")
def import_jsonl(
    path: Path,
    channel: Annotated[int | None, typer.Option(help="Channel id for lines without one.")] = None,
    db: DbOption = None,
) -> None:
    """Import lines of the generic message format (docs/message-format.md)."""
    from caredesk.actions.base import Actor  # noqa: PLC0415
    from caredesk.actions.imports import import_jsonl as run  # noqa: PLC0415

    rt = _open(db)
    try:
        report = run(rt, Actor.system(), path, channel_id=channel)
    except CaredeskError as exc:
        _fail(exc)
        return
    _print_import(report)
    if report.errors:
        raise typer.Exit(1)


def _print_import(report: Any) -> None:
    typer.echo(
        f"accepted {report.accepted}, already there {report.duplicates}, processed {report.processed}, "
        f"parked {report.dead}, workspaces {len(set(report.workspaces))}"
    )
    for err in report.errors[:50]:
        typer.echo(f"  {err}", err=True)


@report_app.command("kpis")
def report_kpis(
    db: DbOption = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    workspace: Annotated[str | None, typer.Option(help="Workspace slug (default: all).")] = None,
) -> None:
    """Inbound conversations, response rate, first-response time (median, p90) and share within 60 minutes."""
    from caredesk.analytics.kpis import kpis  # noqa: PLC0415
    from caredesk.storage import models as m  # noqa: PLC0415

    rt = _open(db)
    with rt.db.read() as session:
        ids = None
        if workspace:
            ws_id = session.scalar(sa.select(m.Workspace.id).where(m.Workspace.slug == workspace))
            if ws_id is None:
                _fail(CaredeskError(f"no workspace {workspace!r}"))
            ids = [int(ws_id or 0)]
        rows = [k.as_dict() for k in kpis(session, workspace_ids=ids)]
    if fmt == Format.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if fmt == Format.csv:
        from caredesk.analytics.reports import safe_cell  # noqa: PLC0415

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["workspace"])
        writer.writeheader()
        writer.writerows({k: safe_cell(v) for k, v in row.items()} for row in rows)  # no formulas
        typer.echo(buffer.getvalue(), nl=False)
        return
    headers = ["workspace", "inbound", "responded", "rate", "FRT median", "FRT p90", "≤60 min"]
    table = [
        [
            r["workspace"],
            r["inbound_conversations"],
            r["responded_conversations"],
            _pct(r["response_rate"]),
            _num(r["first_response_median_minutes"]),
            _num(r["first_response_p90_minutes"]),
            _pct(r["answered_within_60_minutes"]),
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *table, strict=False)]
    for line in [headers, *table]:
        typer.echo("  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def _rows_out(rows: list[dict[str, Any]], fmt: Format, headers: list[str], table: list[list[Any]]) -> None:
    if fmt == Format.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if fmt == Format.csv:
        from caredesk.analytics.reports import safe_cell  # noqa: PLC0415

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else headers)
        writer.writeheader()
        writer.writerows({k: safe_cell(v) for k, v in row.items()} for row in rows)  # no formulas
        typer.echo(buffer.getvalue(), nl=False)
        return
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *table, strict=False)]
    for line in [headers, *table]:
        typer.echo("  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


SinceOption = Annotated[
    str | None, typer.Option(help="ISO date or time (workspace time zone if none given).")
]
UntilOption = Annotated[str | None, typer.Option(help="ISO date or time, exclusive.")]
ExactOption = Annotated[
    bool, typer.Option("--exact", help="Medians and p90s from the facts, not the roll-ups (slower).")
]


def _bounds(rt: Runtime, ws_id: int | None, since: str | None, until: str | None) -> tuple[Any, Any]:
    """--since/--until as times, dates and times without a zone read in the workspace's time zone."""
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    from caredesk.storage import models as m  # noqa: PLC0415

    with rt.db.read() as session:
        ws = session.get(m.Workspace, ws_id) if ws_id is not None else None
        tz = ZoneInfo(ws.timezone if ws and ws.timezone else "UTC")
    try:
        return _when(since, tz), _when(until, tz)
    except ValueError as exc:
        _fail(CaredeskError(f"--since/--until: {exc}"))
        raise


@report_app.command("reply-times")
def report_reply_times(
    db: DbOption = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    workspace: Annotated[str | None, typer.Option(help="Workspace slug (default: all).")] = None,
    business_hours: Annotated[bool, typer.Option("--business-hours", help="In business hours.")] = False,
    since: SinceOption = None,
    until: UntilOption = None,
    exact: ExactOption = False,
) -> None:
    """Per-message reply time: each customer message to the first agent reply to it (median, p90, mean)."""
    from caredesk.analytics.reports import reply_times  # noqa: PLC0415

    rt = _open(db)
    ids = [_workspace_id(rt, workspace)] if workspace else None
    start, end = _bounds(rt, ids[0] if ids else None, since, until)
    with rt.db.read() as session:
        found = reply_times(
            session, workspace_ids=ids, since=start, until=end, business_hours=business_hours, exact=exact
        )
        rows = [r.as_dict() for r in found]
    headers = ["workspace", "messages", "replied", "median min", "p90 min", "mean min", "≤60 min", "≤24 h"]
    table = [
        [r["workspace"], r["customer_messages"], r["replied"], _num(r["median_minutes"]),
         _num(r["p90_minutes"]), _num(r["mean_minutes"]), _pct(r["within_60_minutes"]),
         _pct(r["within_24_hours"])]
        for r in rows
    ]  # fmt: skip
    _rows_out(rows, fmt, headers, table)


@report_app.command("conversations")
def report_conversations(
    workspace: Annotated[str, typer.Option(help="Workspace slug.")],
    db: DbOption = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.csv,
    since: SinceOption = None,
    until: UntilOption = None,
) -> None:
    """One row per conversation with its times (calendar and business hours), safe in a spreadsheet."""
    from caredesk.analytics.reports import conversation_rows, write_csv  # noqa: PLC0415

    rt = _open(db)
    ws_id = _workspace_id(rt, workspace)
    start, end = _bounds(rt, ws_id, since, until)
    with rt.db.read() as session:
        rows = conversation_rows(session, ws_id, since=start, until=end)
    if fmt == Format.json:
        typer.echo(json.dumps(rows, indent=2))
    elif fmt == Format.csv:
        typer.echo(write_csv(rows), nl=False)
    else:
        for r in rows:
            typer.echo(
                f"{r['conversation_id']}  {r['started_at']}  {r['status']}  {r['first_response_minutes']}"
            )


@report_app.command("summary")
def report_summary(
    workspace: Annotated[str, typer.Option(help="Workspace slug.")],
    db: DbOption = None,
    by: Annotated[
        str | None, typer.Option(help="Slice by channel, network, public, team, agent, ...")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    business_hours: Annotated[
        bool, typer.Option("--business-hours", help="Times in business hours.")
    ] = False,
    since: SinceOption = None,
    until: UntilOption = None,
    exact: ExactOption = False,
) -> None:
    """The care figures of a workspace's conversations, in all or per slice (docs/metrics.md, Summary)."""
    from caredesk.analytics.reports import summary  # noqa: PLC0415

    rt = _open(db)
    ws_id = _workspace_id(rt, workspace)
    start, end = _bounds(rt, ws_id, since, until)
    with rt.db.read() as session:
        try:
            rows = summary(
                session, ws_id, by=by, since=start, until=end, business_hours=business_hours, exact=exact
            )
        except ValueError as exc:
            _fail(CaredeskError(str(exc)))
            return
    if fmt == Format.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    flat = [
        {
            "slice": r["slice"], "conversations": r["conversations"], "response_rate": r["response_rate"],
            "frt_median": r["first_response"]["median"], "frt_p90": r["first_response"]["p90"],
            "frt_within_60": r["first_response"]["within_60_minutes"],
            "nrt_median": r["next_response"]["median"], "resolution_median": r["resolution"]["median"],
            "reopen_rate": r["reopen_rate"], "moved_to_private": r["moved_to_private"],
            "approval_median": r["approval"]["median"],
            "sla_attainment": r["first_reply_sla"]["attainment"],
        }
        for r in rows
    ]  # fmt: skip
    headers = list(flat[0]) if flat else ["slice"]
    _rows_out(
        flat, fmt, headers, [[_num(v) if isinstance(v, float) else v for v in f.values()] for f in flat]
    )


@report_app.command("heatmap")
def report_heatmap(
    workspace: Annotated[str, typer.Option(help="Workspace slug.")],
    db: DbOption = None,
    metric: Annotated[str, typer.Option(help="volume, or response (median minutes).")] = "volume",
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    business_hours: Annotated[
        bool, typer.Option("--business-hours", help="Response in business hours.")
    ] = False,
    since: SinceOption = None,
    until: UntilOption = None,
    exact: ExactOption = False,
) -> None:
    """Customer messages, or the median response time, per hour of the week in the workspace's time zone."""
    from caredesk.analytics.reports import hour_of_week  # noqa: PLC0415

    if metric not in ("volume", "response"):
        _fail(CaredeskError("--metric is volume or response"))
        return
    rt = _open(db)
    ws_id = _workspace_id(rt, workspace)
    start, end = _bounds(rt, ws_id, since, until)
    with rt.db.read() as session:
        grid = hour_of_week(
            session, ws_id, since=start, until=end, business_hours=business_hours, exact=exact
        )
    cells = grid["volume"] if metric == "volume" else grid["response_median_minutes"]
    if fmt == Format.json:
        typer.echo(json.dumps(grid, indent=2))
        return
    rows = [
        {"day": day, **{f"{h:02d}": cells[d][h] for h in range(24)}} for d, day in enumerate(grid["days"])
    ]
    if fmt == Format.csv:
        _rows_out(rows, fmt, ["day"], [])
        return
    headers = ["", *(f"{h:02d}" for h in range(24))]
    shown = [
        [day, *("." if v in (None, 0) else f"{v:g}" for v in cells[d])] for d, day in enumerate(grid["days"])
    ]
    typer.echo(f"{metric} per hour of the week ({grid['time_zone']})")
    _rows_out(rows, Format.table, headers, shown)


def _when(value: str | None, tz: Any) -> Any:
    from datetime import datetime  # noqa: PLC0415

    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


@report_app.command("rebuild-facts")
def report_rebuild_facts(db: DbOption = None) -> None:
    """Recompute every conversation's report facts and the roll-ups (after an upgrade, or to apply
    today's calendars)."""
    from caredesk.analytics import upkeep  # noqa: PLC0415

    rt = _open(db)
    done = upkeep.recompute(rt.db)
    typer.echo(f"facts rebuilt for {done['conversations']} conversations; {done['rollup_rows']} roll-up rows")


@report_app.command("staffing")
def report_staffing(
    arrivals: Annotated[float, typer.Option(help="Contacts arriving in the interval.")],
    handle: Annotated[float, typer.Option(help="Mean handling time of one contact, seconds.")],
    interval: Annotated[float, typer.Option(help="Interval length, seconds.")] = 3600,
    target: Annotated[float, typer.Option(help="Share to answer within --within.")] = 0.8,
    within: Annotated[float, typer.Option(help="Target answer time, seconds.")] = 60,
    patience: Annotated[float | None, typer.Option(help="Mean patience, seconds (Erlang A).")] = None,
    concurrency: Annotated[int, typer.Option(help="Conversations an agent holds at once.")] = 1,
    max_occupancy: Annotated[float, typer.Option(help="Occupancy cap, 0-1.")] = 1.0,
    shrinkage: Annotated[float, typer.Option(help="Share of paid time not available, 0-1.")] = 0.0,
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
) -> None:
    """Agents needed for one interval (Erlang C, or Erlang A with --patience); see docs/metrics.md."""
    from caredesk.analytics.staffing import Demand, agents_needed  # noqa: PLC0415

    try:
        demand = Demand(
            arrivals, interval, handle, target, within, patience, concurrency, max_occupancy, shrinkage
        )
    except ValueError as exc:
        _fail(CaredeskError(str(exc)))
        return
    out = agents_needed(demand).as_dict()
    if fmt == Format.json:
        typer.echo(json.dumps(out, indent=2))
        return
    if fmt == Format.csv:
        typer.echo(",".join(out) + "\n" + ",".join(str(v) for v in out.values()))
        return
    typer.echo(
        f"{out['agents']} agents ({out['scheduled']} scheduled with {shrinkage:.0%} shrinkage), "
        f"{out['model'].replace('_', ' ')}: {out['service_level']:.1%} answered within {within:g} s, "
        f"occupancy {out['occupancy']:.1%}, mean wait {out['average_wait_seconds']:.1f} s"
        + (f", {out['abandoned_share']:.1%} give up" if patience else "")
    )


def _plan(
    rt: Runtime, ws_id: int, since: str | None, until: str | None, demand_args: tuple[Any, ...]
) -> dict[str, Any]:
    from caredesk.analytics.planning import weekly_plan  # noqa: PLC0415
    from caredesk.analytics.staffing import Demand  # noqa: PLC0415

    start, end = _bounds(rt, ws_id, since, until)
    handle, target, within, concurrency, max_occupancy, shrinkage = demand_args
    try:
        demand = Demand(0.0, 3600, handle, target, within, None, concurrency, max_occupancy, shrinkage)
        with rt.db.read() as session:
            return weekly_plan(session, ws_id, rt.clock.now(), demand, since=start, until=end)
    except ValueError as exc:
        _fail(CaredeskError(str(exc)))
        raise


HandleOption = Annotated[float, typer.Option(help="Mean handling time of one message, seconds.")]
TargetOption = Annotated[float, typer.Option(help="Share to answer within --within.")]
WithinOption = Annotated[float, typer.Option(help="Target answer time, seconds.")]
ConcurrencyOption = Annotated[int, typer.Option(help="Conversations an agent holds at once.")]
OccupancyOption = Annotated[float, typer.Option(help="Occupancy cap, 0-1.")]
ShrinkageOption = Annotated[float, typer.Option(help="Share of paid time not available, 0-1.")]


@report_app.command("staffing-plan")
def report_staffing_plan(
    workspace: Annotated[str, typer.Option(help="Workspace slug.")],
    db: DbOption = None,
    handle: HandleOption = 300,
    target: TargetOption = 0.8,
    within: WithinOption = 3600,
    concurrency: ConcurrencyOption = 1,
    max_occupancy: OccupancyOption = 0.85,
    shrinkage: ShrinkageOption = 0.3,
    since: SinceOption = None,
    until: UntilOption = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
) -> None:
    """Agents to schedule per hour of the week for the mean arrivals of the last four whole weeks (or
    --since/--until), beside the agents rostered next week (docs/metrics.md, "Staffing plan")."""
    rt = _open(db)
    ws_id = _workspace_id(rt, workspace)
    plan = _plan(rt, ws_id, since, until, (handle, target, within, concurrency, max_occupancy, shrinkage))
    if fmt == Format.json:
        typer.echo(json.dumps(plan, indent=2))
        return
    rows = [
        {"day": day, "hour": f"{h:02d}", "arrivals": plan["arrivals"][d][h], "needed": plan["needed"][d][h],
         "scheduled": plan["scheduled"][d][h], "rostered": plan["rostered"][d][h]}
        for d, day in enumerate(plan["days"]) for h in range(24)
    ]  # fmt: skip
    if fmt == Format.csv:
        _rows_out(rows, fmt, list(rows[0]), [])
        return
    typer.echo(
        f"scheduled / rostered per hour of the week ({plan['time_zone']}; history {plan['since'][:10]}"
        f" to {plan['until'][:10]}, roster week of {plan['roster_week']})"
    )
    headers = ["", *(f"{h:02d}" for h in range(24))]
    shown = [
        [day, *(f"{plan['scheduled'][d][h]}/{plan['rostered'][d][h]}" for h in range(24))]
        for d, day in enumerate(plan["days"])
    ]
    _rows_out(rows, Format.table, headers, shown)
    typer.echo(
        f"{plan['short_hours']} hours short by {plan['agent_hours_short']} agent-hours;"
        f" {plan['agents_in_no_team']} member(s) in no team are not rostered"
    )


class ChartFormat(StrEnum):
    svg = "svg"
    png = "png"


@report_app.command("charts")
def report_charts(
    workspace: Annotated[str, typer.Option(help="Workspace slug.")],
    out: Annotated[Path, typer.Option(help="Folder to write the charts to.")] = Path("."),
    fmt: Annotated[ChartFormat, typer.Option("--format")] = ChartFormat.svg,
    since: SinceOption = None,
    until: UntilOption = None,
    db: DbOption = None,
    handle: HandleOption = 300,
    target: TargetOption = 0.8,
    within: WithinOption = 3600,
    concurrency: ConcurrencyOption = 1,
    max_occupancy: OccupancyOption = 0.85,
    shrinkage: ShrinkageOption = 0.3,
) -> None:
    """The weekly report as pictures: customer messages and median response per hour of the week,
    messages and median reply time day by day (the last 7 whole days, or --since/--until), and the
    staffing plan against next week's roster."""
    from datetime import timedelta  # noqa: PLC0415
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    from caredesk.analytics import charts, rollups  # noqa: PLC0415
    from caredesk.analytics.reports import hour_of_week  # noqa: PLC0415

    rt = _open(db)
    ws_id = _workspace_id(rt, workspace)
    start, end = _bounds(rt, ws_id, since, until)
    plan = _plan(rt, ws_id, since, until, (handle, target, within, concurrency, max_occupancy, shrinkage))
    tz = ZoneInfo(plan["time_zone"])
    end = end or rollups.today_start(rt.clock.now(), tz)
    start = start or end - timedelta(days=7)
    with rt.db.read() as session:
        grid = hour_of_week(session, ws_id, since=start, until=end)
        days = charts.daily_figures(session, ws_id, start, end)
    span = f"{workspace}, {start.date().isoformat()} to {end.date().isoformat()}"
    figures = {
        "volume": charts.heatmap(grid, "volume", f"Customer messages per hour, {span}"),
        "response": charts.heatmap(grid, "response", f"Median response per hour, {span}"),
        "daily": charts.daily(days, f"Customer messages and median reply time, {span}"),
        "staffing": charts.staffing(plan, f"Agents needed and rostered, week of {plan['roster_week']}"),
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, fig in figures.items():
        path = out / f"{workspace}-{name}.{fmt.value}"
        path.write_bytes(charts.render(fig, fmt.value))
        typer.echo(str(path))


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


@admin_app.command("add-workspace")
def add_workspace(slug: str, name: str, timezone: str = "UTC", db: DbOption = None) -> None:
    from caredesk.actions import admin  # noqa: PLC0415
    from caredesk.actions.base import Actor  # noqa: PLC0415

    rt = _open(db)
    try:
        ws = admin.create_workspace(rt, Actor.system(), slug=slug, name=name, timezone=timezone)
    except CaredeskError as exc:
        _fail(exc)
        return
    typer.echo(f"workspace {ws.id} {ws.slug}")


@admin_app.command("add-agent")
def add_agent(
    email: str,
    name: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    workspace: Annotated[str | None, typer.Option(help="Workspace slug to join.")] = None,
    role: str = "agent",
    superadmin: bool = False,
    db: DbOption = None,
) -> None:
    from caredesk.actions import admin  # noqa: PLC0415
    from caredesk.actions.base import Actor  # noqa: PLC0415
    from caredesk.domain.types import Role  # noqa: PLC0415
    from caredesk.storage import models as m  # noqa: PLC0415

    rt = _open(db)
    try:
        agent = admin.create_agent(
            rt, Actor.system(), email=email, name=name, password=password, is_superadmin=superadmin
        )
        if workspace:
            with rt.db.read() as session:
                ws_id = session.scalar(sa.select(m.Workspace.id).where(m.Workspace.slug == workspace))
            if ws_id is None:
                raise CaredeskError(f"no workspace {workspace!r}")
            admin.add_member(rt, Actor.system(), workspace_id=ws_id, agent_id=agent.id, role=Role(role))
    except (CaredeskError, ValueError) as exc:
        _fail(exc if isinstance(exc, CaredeskError) else CaredeskError(str(exc)))
        return
    typer.echo(f"agent {agent.id} {agent.email}")


@admin_app.command("audit")
def audit_export(
    workspace: Annotated[str | None, typer.Option(help="Workspace slug (default: everything).")] = None,
    db: DbOption = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.csv,
    since: SinceOption = None,
    until: UntilOption = None,
) -> None:
    """The audit trail (every recorded action, oldest first), as spreadsheet-safe CSV or JSON lines."""
    from caredesk.actions import audit  # noqa: PLC0415
    from caredesk.actions.base import Actor  # noqa: PLC0415

    rt = _open(db)
    try:
        ws_id = _workspace_id(rt, workspace) if workspace else None
        start, end = _bounds(rt, ws_id, since, until)
        after, upto, rows = 0, None, []
        while True:
            page, upto = audit.export(
                rt, Actor.system(), ws_id, since=start, until=end, after_id=after, before_id=upto
            )
            rows.extend(page)
            if len(page) < audit.MAX_ROWS:
                break
            after = page[-1]["id"]
    except CaredeskError as exc:
        _fail(exc)
        return
    if fmt == Format.csv:
        typer.echo(audit.csv_text(rows), nl=False)
    else:
        for r in rows:
            typer.echo(json.dumps(r, ensure_ascii=False, default=str))


@admin_app.command("erase-contact")
def erase_contact(contact_id: int, db: DbOption = None) -> None:
    """Erase a contact's personal data on the customer's request (it cannot be undone): every text, name,
    handle and network payload of its conversations; times and counts stay for the reports."""
    from caredesk.actions import erasure  # noqa: PLC0415
    from caredesk.actions.base import Actor  # noqa: PLC0415

    rt = _open(db)
    try:
        out = erasure.erase_contact(rt, Actor.system(), contact_id)
    except CaredeskError as exc:
        _fail(exc)
        return
    typer.echo(
        f"contact {contact_id} erased: {out['conversations']} conversations, {out['messages']} messages, "
        f"{out['contacts']} contact records"
    )


@admin_app.command("retention")
def retention(
    workspace: Annotated[str, typer.Argument(help="Workspace slug.")],
    days: Annotated[int | None, typer.Option(help="Keep conversations this many days; 0: for ever.")] = None,
    now: Annotated[bool, typer.Option("--now", help="Erase what is past the rule now.")] = False,
    db: DbOption = None,
) -> None:
    """Show or set the workspace's retention rule; the worker applies it hourly (or --now)."""
    from caredesk.actions import erasure  # noqa: PLC0415
    from caredesk.actions.base import Actor  # noqa: PLC0415
    from caredesk.storage import models as m  # noqa: PLC0415

    rt = _open(db)
    try:
        ws_id = _workspace_id(rt, workspace)
        if days is not None:
            erasure.set_retention(rt, Actor.system(), ws_id, days or None)
        with rt.db.read() as session:
            rule = erasure.retention_of(session.get(m.Workspace, ws_id).settings)
    except CaredeskError as exc:
        _fail(exc)
        return
    typer.echo(f"keep conversations {rule['days']} days" if rule["days"] else "keep conversations for ever")
    if now:
        typer.echo(f"erased {erasure.apply_retention(rt)} conversations")


@admin_app.command("new-key")
def new_key() -> None:
    """Print a new encryption key for stored secrets (to put first in CAREDESK_SECRET_KEYS or secret.key)."""
    from cryptography.fernet import Fernet  # noqa: PLC0415

    typer.echo(Fernet.generate_key().decode())


@admin_app.command("rotate-keys")
def rotate_keys(db: DbOption = None) -> None:
    """Re-encrypt every stored credential and webhook secret with the newest key (the first configured);
    afterwards the older keys can be removed."""
    from caredesk.actions import keys  # noqa: PLC0415

    rt = _open(db)
    try:
        count = keys.reencrypt(rt)
    except CaredeskError as exc:
        _fail(exc)
        return
    typer.echo(f"re-encrypted {count} secrets with the newest key; the older keys may now be removed")


@admin_app.command("token")
def create_token(
    email: str, name: str = "cli", days: int = 90, read_only: bool = False, db: DbOption = None
) -> None:
    """Create an API token for an agent (printed once)."""
    from caredesk.actions import admin  # noqa: PLC0415
    from caredesk.actions.base import Actor  # noqa: PLC0415
    from caredesk.storage import models as m  # noqa: PLC0415

    rt = _open(db)
    with rt.db.read() as session:
        agent_id = session.scalar(sa.select(m.Agent.id).where(m.Agent.email == email.strip().lower()))
    if agent_id is None:
        _fail(CaredeskError(f"no agent {email}"))
        return
    token = admin.create_token(
        rt,
        Actor.system(),
        agent_id=agent_id,
        name=name,
        days=days,
        scopes=["read"] if read_only else ["read", "write"],
    )
    typer.echo(token)


@admin_app.command("dead-letters")
def dead_letters(retry: bool = False, db: DbOption = None) -> None:
    """List events parked by a failing stage; --retry puts them back in the queue."""
    from caredesk.pipeline.runner import Pipeline, retry_dead  # noqa: PLC0415
    from caredesk.storage import models as m  # noqa: PLC0415

    rt = _open(db)
    with rt.db.read() as session:
        rows = (
            session.execute(sa.select(m.DeadLetter).where(m.DeadLetter.retried_at.is_(None))).scalars().all()
        )
    for row in rows:
        typer.echo(f"spool {row.spool_id}  stage {row.stage}  {row.error}")
    if retry:
        n = retry_dead(rt)
        result = Pipeline(rt).drain()
        typer.echo(f"retried {n}: processed {result.processed}, parked again {result.dead}")


def _workspace_id(rt: Runtime, slug: str) -> int:
    from caredesk.storage import models as m  # noqa: PLC0415

    with rt.db.read() as session:
        ws_id = session.scalar(sa.select(m.Workspace.id).where(m.Workspace.slug == slug))
    if ws_id is None:
        raise CaredeskError(f"no workspace {slug!r}")
    return int(ws_id)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise CaredeskError(f"{what} must be given as key=value (got {value!r})")
        out[key.strip()] = val
    return out


@channel_app.command("add")
def channel_add(
    connector: Annotated[
        str, typer.Argument(help="Connector key: webhook, x, mastodon, bluesky, facebook, ...")
    ],
    workspace: Annotated[str, typer.Option(help="Workspace slug.")],
    name: Annotated[str, typer.Option(help="Channel name, e.g. '@acme_care'.")],
    config: Annotated[list[str] | None, typer.Option("--config", help="key=value, repeatable.")] = None,
    credential: Annotated[
        list[str] | None, typer.Option("--credential", help="key=value, repeatable; stored encrypted.")
    ] = None,
    own_account: Annotated[str | None, typer.Option(help="The brand's own id on the network.")] = None,
    db: DbOption = None,
) -> None:
    """Add a channel. Credentials are stored encrypted and never printed."""
    from caredesk.actions import admin  # noqa: PLC0415
    from caredesk.actions.base import Actor  # noqa: PLC0415

    rt = _open(db)
    try:
        channel = admin.create_channel(
            rt,
            Actor.system(),
            workspace_id=_workspace_id(rt, workspace),
            connector=connector,
            name=name,
            config=_pairs(config or [], "--config"),
            credentials=_pairs(credential or [], "--credential"),
            own_account_id=own_account,
        )
    except CaredeskError as exc:
        _fail(exc)
        return
    typer.echo(f"channel {channel.id} {channel.name} ({channel.connector}); webhooks: /hooks/{channel.id}")


@channel_app.command("list")
def channel_list(
    workspace: Annotated[str | None, typer.Option(help="Workspace slug (default: all).")] = None,
    db: DbOption = None,
) -> None:
    from caredesk.storage import models as m  # noqa: PLC0415

    rt = _open(db)
    with rt.db.read() as session:
        query = sa.select(m.Channel, m.Workspace.slug).join(
            m.Workspace, m.Workspace.id == m.Channel.workspace_id
        )
        if workspace:
            query = query.where(m.Workspace.slug == workspace)
        for channel, slug in session.execute(query.order_by(m.Channel.id)):
            state = "enabled" if channel.enabled else "disabled"
            error = f"  last error: {channel.last_error}" if channel.last_error else ""
            typer.echo(f"{channel.id}\t{slug}\t{channel.connector}\t{channel.name}\t{state}{error}")


@channel_app.command("test")
def channel_test(channel_id: int, db: DbOption = None) -> None:
    """Check the channel's credentials against its network."""
    from caredesk.storage import models as m  # noqa: PLC0415
    from caredesk.workers.sender import connector_for  # noqa: PLC0415

    rt = _open(db)
    with rt.db.read() as session:
        channel = session.get(m.Channel, channel_id)
    if channel is None:
        _fail(CaredeskError(f"no channel {channel_id}"))
        return
    try:
        connector_for(rt, channel).verify()
    except CaredeskError as exc:
        typer.secho(f"channel {channel_id}: FAILED: {exc.message}", fg=typer.colors.RED)
        raise typer.Exit(1) from None
    typer.echo(f"channel {channel_id}: ok")


@watch_app.command("add")
def watch_add(
    workspace: Annotated[str, typer.Option(help="Workspace slug.")],
    name: Annotated[str, typer.Option(help="A name for the rule.")],
    keyword: Annotated[list[str] | None, typer.Option("--keyword", "-k", help="Any of these words.")] = None,
    phrase: Annotated[
        list[str] | None, typer.Option("--phrase", "-p", help="Any of these exact phrases.")
    ] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", "-x", help="None of these.")] = None,
    language: Annotated[
        list[str] | None, typer.Option("--language", "-l", help="ISO 639-1; default any.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Listen for posts that mention the brand without an @; they arrive marked as indirect."""
    from caredesk.actions import admin  # noqa: PLC0415
    from caredesk.actions.base import Actor  # noqa: PLC0415
    from caredesk.domain.watch import to_x_rule  # noqa: PLC0415

    rt = _open(db)
    try:
        rule = admin.create_watch_rule(
            rt,
            Actor.system(),
            workspace_id=_workspace_id(rt, workspace),
            name=name,
            keywords=keyword,
            phrases=phrase,
            exclusions=exclude,
            languages=language,
        )
    except CaredeskError as exc:
        _fail(exc)
        return
    typer.echo(f"watch rule {rule.id} {rule.name}: as an X rule: {to_x_rule(rule.spec())}")


@watch_app.command("list")
def watch_list(workspace: Annotated[str, typer.Option(help="Workspace slug.")], db: DbOption = None) -> None:
    from caredesk.storage import models as m  # noqa: PLC0415

    rt = _open(db)
    try:
        ws_id = _workspace_id(rt, workspace)
    except CaredeskError as exc:
        _fail(exc)
        return
    with rt.db.read() as session:
        for rule in session.scalars(sa.select(m.WatchRule).where(m.WatchRule.workspace_id == ws_id)):
            typer.echo(
                f"{rule.id}\t{rule.name}\tkeywords={','.join(rule.keywords)}\tphrases={'|'.join(rule.phrases)}"
                f"\texclude={','.join(rule.exclusions)}\tlanguages={','.join(rule.languages) or 'any'}"
            )


triage_app = typer.Typer(no_args_is_help=True, help="The triage models: classify, evaluate, rebuild.")
app.add_typer(triage_app, name="triage")
DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="The public data sets (default: $CAREDESK_SHARED_DATA or ../shared/data)."),
]


@triage_app.command("classify")
def triage_classify(
    batch: Annotated[int, typer.Option(help="Messages classified together.")] = 500,
) -> None:
    """Read JSONL lines {"id", "text", "lang_hint"?} on stdin; write one JSONL result per line."""
    from caredesk.triage.base import TriageInput  # noqa: PLC0415
    from caredesk.triage.model import default_triager  # noqa: PLC0415

    triager = default_triager()
    pending: list[tuple[Any, TriageInput]] = []
    bad = 0

    def flush() -> None:
        results = triager.classify([item for _, item in pending])
        for (ident, _), result in zip(pending, results, strict=True):
            sys.stdout.write(json.dumps({"id": ident, **result}, ensure_ascii=False) + "\n")
        pending.clear()

    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise ValueError("each line needs a JSON object with a string 'text'")
            hint = row.get("lang_hint")
            if hint is not None and not isinstance(hint, str):
                raise ValueError("'lang_hint' must be a string")
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            bad += 1
            typer.secho(f"line {number}: {exc}", fg=typer.colors.RED, err=True)
            continue
        pending.append((row.get("id"), TriageInput(row["text"], hint)))
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    if bad:
        raise typer.Exit(1)


@triage_app.command("eval")
def triage_eval(
    task: Annotated[
        str, typer.Option("--task", help="sentiment, language, needs_reply, complaint or topic.")
    ],
    data: DataOption = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
) -> None:
    """Accuracy, macro-F1 and the confusion matrix on the task's evaluation set (docs/triage.md)."""
    from caredesk.triage import datasets  # noqa: PLC0415
    from caredesk.triage.evaluate import TASKS, evaluate  # noqa: PLC0415
    from caredesk.triage.model import default_triager  # noqa: PLC0415

    if task not in TASKS:
        typer.secho(
            f"error: unknown task {task!r}; choose from {', '.join(TASKS)}", fg=typer.colors.RED, err=True
        )
        raise typer.Exit(2)
    root = datasets.data_root(data)
    if not root.is_dir():
        typer.secho(f"error: no data sets at {root}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    reports = evaluate(task, default_triager(), root)
    if fmt == Format.json:
        typer.echo(json.dumps([r.__dict__ for r in reports], indent=2))
    else:
        typer.echo("\n\n".join(r.render() for r in reports))


@triage_app.command("train")
def triage_train(
    data: DataOption = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the model files (default: the package's).")
    ] = None,
) -> None:
    """Rebuild every head from the data sets whose licence allows training, and the project's corpus."""
    from caredesk.triage import datasets  # noqa: PLC0415
    from caredesk.triage.train import MODELS, train  # noqa: PLC0415

    root = datasets.data_root(data)
    if not root.is_dir():
        typer.secho(f"error: no data sets at {root}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    train(root, out or MODELS, log=typer.echo)


@triage_app.command("adapt")
def triage_adapt(
    workspace: Annotated[str | None, typer.Option(help="Workspace slug (default: every workspace).")] = None,
    db: DbOption = None,
) -> None:
    """Fit each workspace's needs-reply adjustment from its team's decisions (replied, resolved without a
    reply, left unanswered a day) and print the gain measured on a time split."""
    from caredesk.storage import models as m  # noqa: PLC0415
    from caredesk.triage import adapt  # noqa: PLC0415
    from caredesk.triage.model import default_triager  # noqa: PLC0415

    rt = _open(db)
    if workspace:
        try:
            ids = [_workspace_id(rt, workspace)]
        except CaredeskError as exc:
            _fail(exc)
            return
    else:
        with rt.db.read() as session:
            ids = list(session.scalars(sa.select(m.Workspace.id).order_by(m.Workspace.id)))
    for ws_id in ids:
        metrics = adapt.adapt_workspace(rt, default_triager(), ws_id)
        if metrics is None:
            least = adapt.MIN_DECISIONS
            typer.echo(f"workspace {ws_id}: fewer than {least} decisions of both kinds; not fitted")
        else:
            typer.echo(f"workspace {ws_id}: fitted on {metrics['decisions']} decisions {json.dumps(metrics)}")


i18n_app = typer.Typer(no_args_is_help=True, help="The web inbox's words, for translators.")
app.add_typer(i18n_app, name="i18n")


@i18n_app.command("extract")
def i18n_extract(target: Annotated[Path, typer.Argument(help="the .pot file to write")]) -> None:
    """Write every message of the web inbox (pages, settings, scripts) to a gettext template."""
    from babel.messages.pofile import write_po  # noqa: PLC0415

    from caredesk.web.i18n import extract_catalog  # noqa: PLC0415

    catalog = extract_catalog()
    with target.open("wb") as handle:
        write_po(handle, catalog, width=100)
    typer.echo(f"{len(catalog)} messages written to {target}")


def main() -> None:
    try:
        app()
    except CaredeskError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        sys.exit(2)
