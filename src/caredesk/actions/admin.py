"""Setting up a deployment: workspaces, agents and their roles, teams, channels, API tokens, presence."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.actions.base import Actor, get_or_404, record, require
from caredesk.connectors import registry
from caredesk.connectors.base import ConnectorSpec
from caredesk.domain import signature
from caredesk.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from caredesk.domain.types import Presence, Role
from caredesk.domain.watch import WatchSpec, to_x_rule
from caredesk.routing.assign import network_weights
from caredesk.routing.dispatch import STRATEGIES, dispatch, release_excess, strategy_of, workspaces_of
from caredesk.routing.priority import DEFAULT_WEIGHTS, validate_weights
from caredesk.runtime import Runtime
from caredesk.security.passwords import hash_password, new_token, token_digest, verify_password
from caredesk.storage import models as m

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
DEFAULT_FIRST_REPLY_MINUTES = 60  # "customers expect an answer within the hour"


def create_workspace(
    rt: Runtime, actor: Actor, *, slug: str, name: str, timezone: str = "UTC"
) -> m.Workspace:
    if not actor.is_superadmin:
        raise Forbidden("only a deployment administrator can create workspaces")
    if not _SLUG.match(slug):
        raise InvalidInput("slug: lowercase letters, digits and dashes, at most 63")
    _check_timezone(timezone)
    now = rt.clock.now()
    with rt.db.write() as session:
        if session.scalar(sa.select(m.Workspace.id).where(m.Workspace.slug == slug)) is not None:
            raise Conflict(f"workspace {slug!r} exists already")
        ws = m.Workspace(slug=slug, name=name.strip() or slug, timezone=timezone, settings={}, created_at=now)
        session.add(ws)
        session.flush()
        session.add(
            m.SlaPolicy(
                workspace_id=ws.id,
                name="Default",
                position=100,
                match={},
                first_reply_minutes=DEFAULT_FIRST_REPLY_MINUTES,
                next_reply_minutes=60,
                resolution_minutes=None,
                business_hours=False,
            )
        )
        if actor.agent_id is not None:
            session.add(m.Membership(workspace_id=ws.id, agent_id=actor.agent_id, role=Role.ADMIN.value))
        record(session, actor, "workspace.created", workspace_id=ws.id, at=now, slug=slug)
    return ws


def ensure_workspace(rt: Runtime, *, slug: str, name: str, timezone: str = "UTC") -> m.Workspace:
    """Get or create (imports and the demo; idempotent, writes nothing when it exists)."""
    with rt.db.read() as session:
        ws = session.scalar(sa.select(m.Workspace).where(m.Workspace.slug == slug))
    return ws or create_workspace(rt, Actor.system(), slug=slug, name=name, timezone=timezone)


def _check_timezone(tz: str) -> None:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {tz!r}") from None


def create_agent(
    rt: Runtime,
    actor: Actor,
    *,
    email: str,
    name: str,
    password: str | None,
    signature: str = "",
    languages: list[str] | None = None,
    skills: list[str] | None = None,
    max_concurrent: int = 12,
    is_superadmin: bool = False,
) -> m.Agent:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidInput("email address is not valid")
    if password is not None and len(password) < 8:
        raise InvalidInput("password must be at least 8 characters")
    if not 1 <= max_concurrent <= 200:
        raise InvalidInput("max_concurrent must be between 1 and 200")
    if is_superadmin and not actor.is_superadmin:
        raise Forbidden("only a deployment administrator can create another")
    now = rt.clock.now()
    with rt.db.write() as session:
        if session.scalar(sa.select(m.Agent.id).where(m.Agent.email == email)) is not None:
            raise Conflict(f"an agent with {email} exists already")
        agent = m.Agent(
            email=email,
            name=name.strip() or email,
            signature=signature.strip()[:32],
            password_hash=hash_password(password) if password else None,
            is_superadmin=is_superadmin,
            languages=sorted({x.lower() for x in languages or []}),
            skills=list(skills or []),
            max_concurrent=max_concurrent,
            presence=Presence.OFFLINE.value,
            created_at=now,
        )
        session.add(agent)
        session.flush()
        record(session, actor, "agent.created", workspace_id=None, at=now, agent_id=agent.id)
    return agent


def add_member(rt: Runtime, actor: Actor, *, workspace_id: int, agent_id: int, role: Role) -> None:
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.ADMIN)
        get_or_404(session, m.Agent, agent_id, "agent")
        existing = session.scalar(
            sa.select(m.Membership).where(
                m.Membership.workspace_id == workspace_id, m.Membership.agent_id == agent_id
            )
        )
        if existing is None:
            session.add(m.Membership(workspace_id=workspace_id, agent_id=agent_id, role=role.value))
        else:
            existing.role = role.value
        record(
            session,
            actor,
            "member.set",
            workspace_id=workspace_id,
            at=now,
            agent_id=agent_id,
            role=role.value,
        )


def create_team(
    rt: Runtime, actor: Actor, *, workspace_id: int, name: str, agent_ids: list[int] | None = None
) -> m.Team:
    name = name.strip()
    if not name:
        raise InvalidInput("team name is empty")
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.ADMIN)
        _team_name_free(session, workspace_id, name)
        team = m.Team(workspace_id=workspace_id, name=name, created_at=now)
        session.add(team)
        session.flush()
        for agent_id in agent_ids or []:
            _require_member(session, workspace_id, agent_id)
            session.add(m.TeamMember(team_id=team.id, agent_id=agent_id))
        record(session, actor, "team.created", workspace_id=workspace_id, at=now, team_id=team.id)
    return team


def update_team(
    rt: Runtime, actor: Actor, *, workspace_id: int, team_id: int, name: str, agent_ids: list[int]
) -> m.Team:
    """Rename a team and set its members (agents who leave it keep the conversations they hold)."""
    name = name.strip()
    if not name:
        raise InvalidInput("team name is empty")
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.ADMIN)
        team: m.Team = get_or_404(session, m.Team, team_id, "team")
        if team.workspace_id != workspace_id:
            raise NotFound(f"team {team_id} not found")
        _team_name_free(session, workspace_id, name, but=team_id)
        team.name = name
        wanted = set(agent_ids)
        for agent_id in wanted:
            _require_member(session, workspace_id, agent_id)
        current = {
            tm.agent_id: tm
            for tm in session.scalars(sa.select(m.TeamMember).where(m.TeamMember.team_id == team_id))
        }
        for agent_id, row in current.items():
            if agent_id not in wanted:
                session.delete(row)
        for agent_id in sorted(wanted - current.keys()):
            session.add(m.TeamMember(team_id=team_id, agent_id=agent_id))
        record(session, actor, "team.updated", workspace_id=workspace_id, at=now, team_id=team_id)
    rt.bus.publish("agents.changed", {"ids": sorted(wanted | current.keys())})
    return team


def update_agent(
    rt: Runtime,
    actor: Actor,
    *,
    workspace_id: int,
    agent_id: int,
    name: str,
    role: Role,
    signature: str,
    languages: list[str],
    skills: list[str],
    max_concurrent: int,
) -> m.Agent:
    """An admin edits an agent of their workspace: profile, role here, languages, skills and capacity."""
    if not 1 <= max_concurrent <= 200:
        raise InvalidInput("max_concurrent must be between 1 and 200")
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.ADMIN)
        _require_member(session, workspace_id, agent_id)
        agent: m.Agent = get_or_404(session, m.Agent, agent_id, "agent")
        if actor.agent_id == agent_id and role is not Role.ADMIN and not actor.is_superadmin:
            raise InvalidInput("you cannot take away your own admin role")
        agent.name = name.strip() or agent.email
        agent.signature = signature.strip()[:32]
        agent.languages = sorted({x.strip().lower() for x in languages if x.strip()})
        agent.skills = [s.strip() for s in skills if s.strip()]
        agent.max_concurrent = max_concurrent
        membership = session.scalars(
            sa.select(m.Membership).where(
                m.Membership.workspace_id == workspace_id, m.Membership.agent_id == agent_id
            )
        ).one()
        membership.role = role.value
        record(
            session,
            actor,
            "agent.updated",
            workspace_id=workspace_id,
            at=now,
            agent_id=agent_id,
            role=role.value,
        )
        _rebalance(session, agent, now)
    rt.bus.publish("agents.changed", {"ids": [agent_id]})
    return agent


def _team_name_free(session: Session, workspace_id: int, name: str, *, but: int | None = None) -> None:
    same = sa.select(m.Team.id).where(m.Team.workspace_id == workspace_id, m.Team.name == name)
    if session.scalar(same.where(m.Team.id != but) if but is not None else same) is not None:
        raise Conflict(f"team {name!r} exists already")


def _require_member(session: Session, workspace_id: int, agent_id: int) -> None:
    if (
        session.scalar(
            sa.select(m.Membership.id).where(
                m.Membership.workspace_id == workspace_id, m.Membership.agent_id == agent_id
            )
        )
        is None
    ):
        raise InvalidInput(f"agent {agent_id} is not a member of this workspace")


def create_channel(
    rt: Runtime,
    actor: Actor,
    *,
    workspace_id: int,
    connector: str,
    name: str,
    config: dict[str, Any] | None = None,
    credentials: dict[str, Any] | None = None,
    own_account_id: str | None = None,
    team_id: int | None = None,
) -> m.Channel:
    cls = registry.get(connector)
    spec = cls.spec
    config = dict(config or {})
    credentials = dict(credentials or {})
    _check_fields(spec, config, credentials)
    name = name.strip()
    if not name:
        raise InvalidInput("channel name is empty")
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.ADMIN)
        if session.scalar(
            sa.select(m.Channel.id).where(m.Channel.workspace_id == workspace_id, m.Channel.name == name)
        ):
            raise Conflict(f"channel {name!r} exists already in this workspace")
        if team_id is not None:
            team = session.get(m.Team, team_id)
            if team is None or team.workspace_id != workspace_id:
                raise InvalidInput(f"team {team_id} is not a team of this workspace")
        channel = m.Channel(
            workspace_id=workspace_id,
            connector=spec.key,
            network=spec.network,
            name=name,
            own_account_id=own_account_id,
            config=config,
            credentials_encrypted=rt.vault.encrypt(credentials) if credentials else None,
            capabilities=sorted(c.value for c in spec.capabilities),
            cursor={},
            team_id=team_id,
            created_at=now,
        )
        session.add(channel)
        session.flush()
        record(
            session,
            actor,
            "channel.created",
            workspace_id=workspace_id,
            at=now,
            channel_id=channel.id,
            connector=spec.key,
        )
    return channel


# Settings every channel has, whatever its connector: how agents' replies are signed (domain/signature.py).
COMMON_CONFIG = ("signature_format",)


def _check_fields(spec: ConnectorSpec, config: dict[str, Any], credentials: dict[str, Any]) -> None:
    """Only the settings and credentials the connector declares (a typo is an error, not a silent no-op)."""
    for given, declared, what in (
        (config, (*spec.config_fields, *COMMON_CONFIG), "settings"),
        (credentials, spec.credential_fields, "credentials"),
    ):
        unknown = set(given) - set(declared)
        if unknown:
            raise InvalidInput(f"unknown {what} for {spec.display_name}: {', '.join(sorted(unknown))}")
    if "signature_format" in config:
        signature.check_format(str(config["signature_format"]))


def update_channel_config(rt: Runtime, actor: Actor, channel_id: int, config: dict[str, Any]) -> m.Channel:
    """Change a channel's non-secret settings (only the connector's declared fields)."""
    now = rt.clock.now()
    with rt.db.write() as session:
        channel: m.Channel = get_or_404(session, m.Channel, channel_id, "channel")
        require(session, actor, channel.workspace_id, Role.ADMIN)
        _check_fields(registry.get(channel.connector).spec, config, {})
        channel.config = {**(channel.config or {}), **config}
        record(
            session,
            actor,
            "channel.updated",
            workspace_id=channel.workspace_id,
            at=now,
            channel_id=channel.id,
            fields=sorted(config),
        )
    return channel


def reconnect_channel(
    rt: Runtime,
    actor: Actor,
    channel_id: int,
    *,
    config: dict[str, Any],
    credentials: dict[str, Any] | None = None,
    own_account_id: str | None = None,
) -> m.Channel:
    """Point a channel at its account again: new settings, new (rotated) credentials, and reading starts
    over from the network's present (the cursor is cleared, errors and leases too)."""
    now = rt.clock.now()
    with rt.db.write() as session:
        channel: m.Channel = get_or_404(session, m.Channel, channel_id, "channel")
        require(session, actor, channel.workspace_id, Role.ADMIN)
        _check_fields(registry.get(channel.connector).spec, config, credentials or {})
        channel.config = dict(config)
        if credentials is not None:
            channel.credentials_encrypted = rt.vault.encrypt(credentials) if credentials else None
        if own_account_id is not None:
            channel.own_account_id = own_account_id
        channel.cursor, channel.last_error, channel.poll_failures = {}, None, 0
        channel.next_poll_at = channel.lease_owner = channel.lease_until = None
        record(
            session,
            actor,
            "channel.reconnected",
            workspace_id=channel.workspace_id,
            at=now,
            channel_id=channel.id,
            credentials_changed=credentials is not None,
        )
    return channel


def create_token(
    rt: Runtime,
    actor: Actor,
    *,
    agent_id: int,
    name: str,
    scopes: list[str] | None = None,
    days: int | None = 90,
) -> str:
    """A bearer token for the API; returned once, stored as a digest."""
    scopes = sorted(set(scopes or ["read", "write"]))
    if not set(scopes) <= {"read", "write"}:
        raise InvalidInput("scopes are 'read' and 'write'")
    if actor.kind == "agent" and actor.agent_id != agent_id and not actor.is_superadmin:
        raise Forbidden("agents create tokens for themselves only")
    if days is not None and not 1 <= days <= 3650:
        raise InvalidInput("a token lives 1 to 3650 days")
    now = rt.clock.now()
    token = new_token("cdk")
    with rt.db.write() as session:
        get_or_404(session, m.Agent, agent_id, "agent")
        session.add(
            m.ApiToken(
                agent_id=agent_id,
                name=name[:200] or "token",
                token_hash=token_digest(token),
                scopes=scopes,
                expires_at=now + timedelta(days=days) if days else None,
                created_at=now,
            )
        )
        record(session, actor, "token.created", workspace_id=None, at=now, agent_id=agent_id, scopes=scopes)
    return token


def authenticate_token(rt: Runtime, token: str) -> Actor:
    now = rt.clock.now()
    with rt.db.read() as session:
        row = session.execute(
            sa.select(m.ApiToken, m.Agent)
            .join(m.Agent, m.Agent.id == m.ApiToken.agent_id)
            .where(m.ApiToken.token_hash == token_digest(token))
        ).first()
    if row is None:
        raise Unauthorized("invalid API token")
    tok, agent = row
    if tok.revoked or not agent.active or (tok.expires_at is not None and tok.expires_at <= now):
        raise Unauthorized("API token expired or revoked")
    return Actor.agent(agent.id, is_superadmin=agent.is_superadmin, scopes=frozenset(tok.scopes))


def check_password(rt: Runtime, email: str, password: str) -> m.Agent:
    with rt.db.read() as session:
        agent = session.scalar(sa.select(m.Agent).where(m.Agent.email == email.strip().lower()))
    if agent is None or not agent.active or not verify_password(agent.password_hash, password):
        raise Unauthorized("wrong email or password")
    return agent


def set_presence(rt: Runtime, actor: Actor, presence: Presence, *, agent_id: int | None = None) -> None:
    target = agent_id or actor.agent_id
    if target is None:
        raise InvalidInput("which agent?")
    if target != actor.agent_id and not actor.is_superadmin:
        raise Forbidden("agents set their own presence")
    now = rt.clock.now()
    with rt.db.write() as session:
        agent = get_or_404(session, m.Agent, target, "agent")
        agent.presence = presence.value
        agent.presence_changed_at = now
        record(
            session,
            actor,
            "agent.presence",
            workspace_id=None,
            at=now,
            agent_id=target,
            presence=presence.value,
        )
        _rebalance(session, agent, now)
    rt.bus.publish("agents.changed", {"ids": [target]})


def set_capacity(rt: Runtime, actor: Actor, *, workspace_id: int, agent_id: int, max_concurrent: int) -> None:
    """A supervisor sets how many conversations an agent holds at once; the queue follows at once."""
    if not 0 <= max_concurrent <= 200:
        raise InvalidInput("max_concurrent: 0 to 200")
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.SUPERVISOR)
        _require_member(session, workspace_id, agent_id)
        agent = get_or_404(session, m.Agent, agent_id, "agent")
        agent.max_concurrent = max_concurrent
        record(
            session, actor, "agent.capacity", workspace_id=workspace_id, at=now, agent_id=agent_id,
            max_concurrent=max_concurrent,
        )  # fmt: skip
        _rebalance(session, agent, now)
    rt.bus.publish("agents.changed", {"ids": [agent_id]})


def routing_of(rt: Runtime, actor: Actor, workspace_id: int) -> dict[str, Any]:
    with rt.db.read() as session:
        require(session, actor, workspace_id, Role.ANALYST)
        ws = get_or_404(session, m.Workspace, workspace_id, "workspace")
        return {"strategy": strategy_of(ws.settings), "network_weights": network_weights(ws.settings)}


def set_routing(
    rt: Runtime, actor: Actor, workspace_id: int, *, strategy: str, network_weights_: dict[str, float]
) -> dict[str, Any]:
    """How the waiting queue is handed out (routing/dispatch.py) and what a conversation of each network
    weighs against an agent's capacity (routing/assign.py); the queue follows at once."""
    if strategy not in STRATEGIES:
        raise InvalidInput(f"strategy: one of {list(STRATEGIES)}")
    for network, weight in network_weights_.items():
        if not 0 < float(weight) <= 10:
            raise InvalidInput(f"network_weights[{network}]: more than 0, at most 10")
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.ADMIN)
        ws = get_or_404(session, m.Workspace, workspace_id, "workspace")
        routing = dict((ws.settings or {}).get("routing") or {})
        routing.update(strategy=strategy, network_weights={k: float(v) for k, v in network_weights_.items()})
        ws.settings = {**(ws.settings or {}), "routing": routing}
        record(session, actor, "workspace.routing", workspace_id=workspace_id, at=now, strategy=strategy)
        session.flush()
        dispatch(session, workspace_id, now)
        return {"strategy": strategy, "network_weights": network_weights(ws.settings)}


def _rebalance(session: Session, agent: m.Agent, now: datetime) -> None:
    """Offline (or over capacity): the agent's waiting customers go back to the queue; then the queue is
    handed out again in each of the agent's workspaces."""
    session.flush()
    release_excess(session, agent, now)
    session.flush()
    for workspace_id in workspaces_of(session, agent.id):
        dispatch(session, workspace_id, now)


def create_watch_rule(
    rt: Runtime,
    actor: Actor,
    *,
    workspace_id: int,
    name: str,
    keywords: list[str] | None = None,
    phrases: list[str] | None = None,
    exclusions: list[str] | None = None,
    languages: list[str] | None = None,
) -> m.WatchRule:
    """A listening rule; connectors with LISTEN turn it into their network's mechanism."""
    spec = WatchSpec(
        keywords=tuple(k.strip() for k in keywords or [] if k.strip()),
        phrases=tuple(p.strip() for p in phrases or [] if p.strip()),
        exclusions=tuple(e.strip() for e in exclusions or [] if e.strip()),
        languages=tuple(sorted({lang.strip().lower() for lang in languages or [] if lang.strip()})),
    )
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("a watch rule needs a name of at most 200 characters")
    to_x_rule(spec)  # refused here, not later on an X channel, when too long for X's 1,024 characters
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.ADMIN)
        same_name = sa.and_(m.WatchRule.workspace_id == workspace_id, m.WatchRule.name == name)
        if session.scalar(sa.select(m.WatchRule.id).where(same_name)) is not None:
            raise Conflict(f"watch rule {name!r} exists already")
        rule = m.WatchRule(
            workspace_id=workspace_id,
            name=name,
            keywords=list(spec.keywords),
            phrases=list(spec.phrases),
            exclusions=list(spec.exclusions),
            languages=list(spec.languages),
            created_at=now,
        )
        session.add(rule)
        session.flush()
        record(session, actor, "watch.created", workspace_id=workspace_id, at=now, watch_rule_id=rule.id)
    return rule


def watch_rule_out(rule: m.WatchRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "keywords": list(rule.keywords),
        "phrases": list(rule.phrases),
        "exclusions": list(rule.exclusions),
        "languages": list(rule.languages),
        "enabled": rule.enabled,
        "x_rule": to_x_rule(rule.spec()),
    }


def list_watch_rules(rt: Runtime, actor: Actor, workspace_id: int) -> list[dict[str, Any]]:
    with rt.db.read() as session:
        require(session, actor, workspace_id, Role.ANALYST)
        rows = session.scalars(
            sa.select(m.WatchRule).where(m.WatchRule.workspace_id == workspace_id).order_by(m.WatchRule.name)
        )
        return [watch_rule_out(r) for r in rows]


def update_watch_rule(
    rt: Runtime,
    actor: Actor,
    *,
    workspace_id: int,
    rule_id: int,
    name: str,
    keywords: list[str],
    phrases: list[str],
    exclusions: list[str],
    languages: list[str],
    enabled: bool,
) -> m.WatchRule:
    """Change a listening rule; pollers read the rules on their next round, X filtered-stream channels
    on their next rule sync."""
    spec = WatchSpec(
        keywords=tuple(k.strip() for k in keywords if k.strip()),
        phrases=tuple(p.strip() for p in phrases if p.strip()),
        exclusions=tuple(e.strip() for e in exclusions if e.strip()),
        languages=tuple(sorted({lang.strip().lower() for lang in languages if lang.strip()})),
    )
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("a watch rule needs a name of at most 200 characters")
    to_x_rule(spec)
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.ADMIN)
        rule = _watch_rule(session, workspace_id, rule_id)
        same_name = sa.and_(
            m.WatchRule.workspace_id == workspace_id, m.WatchRule.name == name, m.WatchRule.id != rule_id
        )
        if session.scalar(sa.select(m.WatchRule.id).where(same_name)) is not None:
            raise Conflict(f"watch rule {name!r} exists already")
        rule.name = name
        rule.keywords, rule.phrases = list(spec.keywords), list(spec.phrases)
        rule.exclusions, rule.languages = list(spec.exclusions), list(spec.languages)
        rule.enabled = enabled
        record(session, actor, "watch.updated", workspace_id=workspace_id, at=now, watch_rule_id=rule_id)
    return rule


def remove_watch_rule(rt: Runtime, actor: Actor, *, workspace_id: int, rule_id: int) -> None:
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.ADMIN)
        session.delete(_watch_rule(session, workspace_id, rule_id))
        record(session, actor, "watch.removed", workspace_id=workspace_id, at=now, watch_rule_id=rule_id)


def _watch_rule(session: Session, workspace_id: int, rule_id: int) -> m.WatchRule:
    rule = session.get(m.WatchRule, rule_id)
    if rule is None or rule.workspace_id != workspace_id:
        raise NotFound(f"watch rule {rule_id} not found")
    return rule


def set_triage_settings(
    rt: Runtime,
    actor: Actor,
    *,
    workspace_id: int,
    priority_weights: dict[str, Any] | None = None,
    topics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A supervisor's priority weights (over the defaults) and the workspace's own topics with their example
    phrases. A value given replaces the stored one whole; None leaves it as it is."""
    from caredesk.triage.topics import validate  # noqa: PLC0415 (numpy and scikit-learn load only here)

    try:
        weights = validate_weights(priority_weights) if priority_weights is not None else None
        custom = validate(topics) if topics is not None else None
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.SUPERVISOR)
        ws = get_or_404(session, m.Workspace, workspace_id, "workspace")
        settings = dict(ws.settings or {})
        if weights is not None:
            settings["priority_weights"] = weights
        if custom is not None:
            settings["topics"] = custom
        ws.settings = settings
        changed = sorted(k for k, v in (("priority_weights", weights), ("topics", custom)) if v is not None)
        kind = "workspace.triage_settings"
        record(session, actor, kind, workspace_id=workspace_id, at=now, changed=changed)
    return triage_settings_of(settings)


def triage_settings_of(settings: dict[str, Any]) -> dict[str, Any]:
    weights = dict(settings.get("priority_weights") or {})
    return {
        "priority_weights": {**DEFAULT_WEIGHTS, **weights},
        "overridden": sorted(weights),
        "topics": dict(settings.get("topics") or {}),
    }
