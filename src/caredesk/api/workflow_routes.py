"""REST API v1, workflow: outgoing webhooks and their delivery log, escalation to an external ticket,
case links, approvals, canned responses and the collision guard. Every write goes through an action
(actions/webhooks.py, cases.py, approvals.py, canned.py, presence.py); the ticket system's status
callback is signed, not logged in."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field

from caredesk.actions import admin, approvals, canned, cases, greetings, presence, webhooks
from caredesk.actions.base import get_or_404, require
from caredesk.api.deps import ActorDep, RtDep
from caredesk.api.routes import Strict, raw_body
from caredesk.connectors.webhook import signing
from caredesk.domain.types import Role
from caredesk.storage import models as m

workflow = APIRouter(prefix="/api/v1")
ticket_hooks = APIRouter()


class WebhookIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    url: Annotated[str, Field(min_length=8, max_length=2000)]
    # event types: see hooks.EVENT_TYPES (an unknown one is refused with the list of known ones)
    events: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=50)] = Field(
        default_factory=list
    )
    ticketing: bool = False
    secret: Annotated[str, Field(min_length=16, max_length=200)] | None = None
    rotate_secret: bool = False


@workflow.get("/workspaces/{workspace_id}/webhooks", tags=["webhooks"])
def get_webhooks(workspace_id: int, actor: ActorDep, rt: RtDep) -> list[dict[str, Any]]:
    """Outgoing webhooks: where the workspace's events are posted, signed (docs/webhooks.md)."""
    return webhooks.list_webhooks(rt, actor, workspace_id)


@workflow.post("/workspaces/{workspace_id}/webhooks", tags=["webhooks"], status_code=201)
def post_webhook(workspace_id: int, body: WebhookIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """Create a webhook; the answer carries its signing `secret`, shown this once."""
    return webhooks.save_webhook(rt, actor, workspace_id=workspace_id, data=body.model_dump())


@workflow.put("/workspaces/{workspace_id}/webhooks/{webhook_id}", tags=["webhooks"])
def put_webhook(
    workspace_id: int, webhook_id: int, body: WebhookIn, actor: ActorDep, rt: RtDep
) -> dict[str, Any]:
    """Replace a webhook's settings; a new `secret` or `rotate_secret` changes the signing secret."""
    return webhooks.save_webhook(
        rt, actor, workspace_id=workspace_id, data=body.model_dump(), webhook_id=webhook_id
    )


@workflow.delete("/workspaces/{workspace_id}/webhooks/{webhook_id}", tags=["webhooks"], status_code=204)
def delete_webhook(workspace_id: int, webhook_id: int, actor: ActorDep, rt: RtDep) -> Response:
    webhooks.remove_webhook(rt, actor, workspace_id=workspace_id, webhook_id=webhook_id)
    return Response(status_code=204)


@workflow.post("/workspaces/{workspace_id}/webhooks/{webhook_id}/test", tags=["webhooks"], status_code=202)
def post_webhook_test(workspace_id: int, webhook_id: int, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """Queue a `webhook.test` event to this webhook; its outcome shows in the delivery log."""
    return webhooks.send_test(rt, actor, workspace_id=workspace_id, webhook_id=webhook_id)


@workflow.get("/workspaces/{workspace_id}/webhooks/{webhook_id}/deliveries", tags=["webhooks"])
def get_deliveries(
    workspace_id: int,
    webhook_id: int,
    actor: ActorDep,
    rt: RtDep,
    status: Literal["queued", "sending", "delivered", "failed"] | None = None,
    before_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=webhooks.DELIVERY_PAGE)] = 50,
) -> list[dict[str, Any]]:
    """The delivery log, newest first: each attempt's time, HTTP status, duration and error."""
    return webhooks.deliveries(
        rt, actor, workspace_id=workspace_id, webhook_id=webhook_id, status=status, before_id=before_id,
        limit=limit,
    )  # fmt: skip


@workflow.post("/workspaces/{workspace_id}/webhook-deliveries/{delivery_id}/retry", tags=["webhooks"])
def post_delivery_retry(workspace_id: int, delivery_id: int, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """Post a failed delivery again now, with the same delivery id."""
    return webhooks.retry_delivery(rt, actor, workspace_id=workspace_id, delivery_id=delivery_id)


# --- escalation and case links -------------------------------------------------------------------


class EscalateIn(Strict):
    note: Annotated[str, Field(max_length=2000)] | None = None


@workflow.post("/conversations/{conversation_id}/escalate", tags=["conversations"], status_code=202)
def post_escalate(conversation_id: int, body: EscalateIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """Open an external ticket through the workspace's ticketing webhook; its id and status appear on the
    conversation (`external_ticket`) when the ticket system answers."""
    return cases.escalate(rt, actor, conversation_id, body.note)


class CaseLinkIn(Strict):
    kind: Literal["order", "case", "ticket", "email"]
    value: Annotated[str, Field(min_length=1, max_length=cases.MAX_REF)]


@workflow.get("/conversations/{conversation_id}/case-links", tags=["conversations"])
def get_case_links(conversation_id: int, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """The conversation's case, order, ticket and email references, and the other conversations sharing
    one of them."""
    with rt.db.read() as session:
        conv = get_or_404(session, m.Conversation, conversation_id, "conversation")
        require(session, actor, conv.workspace_id, Role.ANALYST)
        return {
            "refs": cases.refs_of(session, conv.id),
            "external_ticket": conv.external_ticket or None,
            "linked": cases.linked(session, conv),
        }


@workflow.post("/conversations/{conversation_id}/case-links", tags=["conversations"], status_code=201)
def post_case_link(conversation_id: int, body: CaseLinkIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    return {"refs": cases.add_link(rt, actor, conversation_id, body.kind, body.value)}


@ticket_hooks.post("/hooks/tickets/{webhook_id}", tags=["webhooks"])
def post_ticket_status(
    webhook_id: int, request: Request, rt: RtDep, body: Annotated[bytes, Depends(raw_body)]
) -> dict[str, Any]:
    """The ticket system reports a ticket's status: `{"conversation_id", "ticket_id", "status", "url"}`,
    signed with the ticketing webhook's secret in `X-Caredesk-Signature`."""
    ticket = cases.ticket_update(rt, webhook_id, body, request.headers.get(signing.HEADER))
    return {"external_ticket": ticket}


# --- approvals -----------------------------------------------------------------------------------

Mode = Literal["off", "public", "all"]


class ApprovalRulesIn(Strict):
    mode: Mode = "off"
    agents: Annotated[dict[Annotated[str, Field(pattern=r"^\d{1,12}$")], Mode], Field(max_length=1000)] = (
        Field(default_factory=dict)
    )


@workflow.get("/workspaces/{workspace_id}/approval-rules", tags=["approvals"])
def get_approval_rules(workspace_id: int, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """Whose replies wait for review: the workspace's mode (for agents) and per-agent rules."""
    return approvals.rules_of(rt, actor, workspace_id)


@workflow.put("/workspaces/{workspace_id}/approval-rules", tags=["approvals"])
def put_approval_rules(
    workspace_id: int, body: ApprovalRulesIn, actor: ActorDep, rt: RtDep
) -> dict[str, Any]:
    return approvals.set_rules(rt, actor, workspace_id, body.model_dump())


@workflow.get("/workspaces/{workspace_id}/approvals", tags=["approvals"])
def get_approvals(
    workspace_id: int,
    actor: ActorDep,
    rt: RtDep,
    status: Literal["pending", "approved", "rejected"] = "pending",
) -> list[dict[str, Any]]:
    """Replies waiting for review (oldest first), with the checks' findings the requester saw."""
    return approvals.list_approvals(rt, actor, workspace_id, status)


class DecisionIn(Strict):
    reason: Annotated[str, Field(max_length=approvals.MAX_REASON)] | None = None


@workflow.post("/approvals/{approval_id}/approve", tags=["approvals"])
def post_approve(approval_id: int, body: DecisionIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """Publish the held reply (queued for the sender); the requester is told."""
    return approvals.decide(rt, actor, approval_id, approve=True, reason=body.reason)


@workflow.post("/approvals/{approval_id}/reject", tags=["approvals"])
def post_reject(approval_id: int, body: DecisionIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """Refuse the held reply with a reason for the requester; nothing is published."""
    return approvals.decide(rt, actor, approval_id, approve=False, reason=body.reason)


# --- canned responses ----------------------------------------------------------------------------


class CannedIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    shortcut: Annotated[str, Field(max_length=40)] | None = None
    folder: Annotated[str, Field(max_length=120)] = ""
    texts: Annotated[
        dict[Annotated[str, Field(max_length=2)], Annotated[str, Field(max_length=canned.MAX_TEXT)]],
        Field(min_length=1, max_length=canned.MAX_LANGUAGES),
    ]
    topics: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=20)] = Field(
        default_factory=list
    )


@workflow.get("/workspaces/{workspace_id}/canned-responses", tags=["canned responses"])
def get_canned(workspace_id: int, actor: ActorDep, rt: RtDep) -> list[dict[str, Any]]:
    """Canned responses by folder: a text per language with `{variables}` and `[[fill-in fields]]`."""
    return canned.list_canned(rt, actor, workspace_id)


@workflow.post("/workspaces/{workspace_id}/canned-responses", tags=["canned responses"], status_code=201)
def post_canned(workspace_id: int, body: CannedIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    return canned.save(rt, actor, workspace_id=workspace_id, data=body.model_dump())


@workflow.put("/workspaces/{workspace_id}/canned-responses/{canned_id}", tags=["canned responses"])
def put_canned(
    workspace_id: int, canned_id: int, body: CannedIn, actor: ActorDep, rt: RtDep
) -> dict[str, Any]:
    return canned.save(rt, actor, workspace_id=workspace_id, data=body.model_dump(), canned_id=canned_id)


@workflow.delete(
    "/workspaces/{workspace_id}/canned-responses/{canned_id}", tags=["canned responses"], status_code=204
)
def delete_canned(workspace_id: int, canned_id: int, actor: ActorDep, rt: RtDep) -> Response:
    canned.remove(rt, actor, workspace_id=workspace_id, canned_id=canned_id)
    return Response(status_code=204)


@workflow.get("/conversations/{conversation_id}/canned-responses", tags=["canned responses"])
def get_canned_suggestions(
    conversation_id: int,
    actor: ActorDep,
    rt: RtDep,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> dict[str, Any]:
    """Canned responses for this conversation, best first (its topic, its language, then `q`), each
    rendered with the conversation's values and the fill-in fields still to complete."""
    return canned.suggest(rt, actor, conversation_id, query=q, limit=limit)


# --- collision guard -----------------------------------------------------------------------------


class PresenceIn(Strict):
    state: Literal["viewing", "typing", "left"]


@workflow.put("/conversations/{conversation_id}/presence", tags=["conversations"])
def put_presence_in_conversation(
    conversation_id: int, body: PresenceIn, actor: ActorDep, rt: RtDep
) -> dict[str, Any]:
    """Say you are viewing or typing here (repeat every few seconds; it lapses after 30 s) or have left;
    the answer lists who else is here."""
    return {"others": presence.report(rt, actor, conversation_id, body.state)}


# --- routing -------------------------------------------------------------------------------------


class RoutingIn(Strict):
    strategy: Literal["least_loaded", "round_robin", "manual"] = "least_loaded"
    # what one conversation of a network counts against an agent's capacity (1 when not named)
    network_weights: Annotated[
        dict[Annotated[str, Field(max_length=32)], Annotated[float, Field(gt=0, le=10)]], Field(max_length=20)
    ] = Field(default_factory=dict)


@workflow.get("/workspaces/{workspace_id}/routing", tags=["routing"])
def get_routing(workspace_id: int, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """How waiting conversations are handed out: least loaded, round robin or manual pull."""
    return admin.routing_of(rt, actor, workspace_id)


@workflow.put("/workspaces/{workspace_id}/routing", tags=["routing"])
def put_routing(workspace_id: int, body: RoutingIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    return admin.set_routing(
        rt, actor, workspace_id, strategy=body.strategy, network_weights_=body.network_weights
    )


# --- greeting and sign-off posts -----------------------------------------------------------------


class GreetingsIn(Strict):
    enabled: bool
    language: Annotated[str, Field(min_length=2, max_length=2)] = "en"
    greeting: Annotated[str, Field(min_length=1, max_length=1000)] | None = None  # null: the default text
    sign_off: Annotated[str, Field(min_length=1, max_length=1000)] | None = None


@workflow.get("/channels/{channel_id}/greetings", tags=["channels"])
def get_greetings(channel_id: int, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """The channel's scheduled greeting and sign-off posts (at its calendar's openings and closings)."""
    return greetings.settings_of(rt, actor, channel_id)


@workflow.put("/channels/{channel_id}/greetings", tags=["channels"])
def put_greetings(channel_id: int, body: GreetingsIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    return greetings.set_settings(rt, actor, channel_id, body.model_dump())


# --- listening (watch rules) ---------------------------------------------------------------------

Terms = Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=100)]


class WatchRuleIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    keywords: Terms = Field(default_factory=list)
    phrases: Terms = Field(default_factory=list)
    exclusions: Terms = Field(default_factory=list)
    languages: Annotated[list[Annotated[str, Field(max_length=8)]], Field(max_length=30)] = Field(
        default_factory=list
    )
    enabled: bool = True


@workflow.get("/workspaces/{workspace_id}/watch-rules", tags=["listening"])
def get_watch_rules(workspace_id: int, actor: ActorDep, rt: RtDep) -> list[dict[str, Any]]:
    """Listening rules, each with the X filtered-stream rule it becomes."""
    return admin.list_watch_rules(rt, actor, workspace_id)


@workflow.post("/workspaces/{workspace_id}/watch-rules", tags=["listening"], status_code=201)
def post_watch_rule(workspace_id: int, body: WatchRuleIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    data = body.model_dump()
    enabled = data.pop("enabled")
    rule = admin.create_watch_rule(rt, actor, workspace_id=workspace_id, **data)
    if not enabled:
        rule = admin.update_watch_rule(
            rt, actor, workspace_id=workspace_id, rule_id=rule.id, **body.model_dump()
        )
    return admin.watch_rule_out(rule)


@workflow.put("/workspaces/{workspace_id}/watch-rules/{rule_id}", tags=["listening"])
def put_watch_rule(
    workspace_id: int, rule_id: int, body: WatchRuleIn, actor: ActorDep, rt: RtDep
) -> dict[str, Any]:
    rule = admin.update_watch_rule(rt, actor, workspace_id=workspace_id, rule_id=rule_id, **body.model_dump())
    return admin.watch_rule_out(rule)


@workflow.delete("/workspaces/{workspace_id}/watch-rules/{rule_id}", tags=["listening"], status_code=204)
def delete_watch_rule(workspace_id: int, rule_id: int, actor: ActorDep, rt: RtDep) -> Response:
    admin.remove_watch_rule(rt, actor, workspace_id=workspace_id, rule_id=rule_id)
    return Response(status_code=204)
