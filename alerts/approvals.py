"""Telegram replies to approval requests: ``/approve TOKEN`` and ``/reject TOKEN``.

notifications parses the Bot API update, checks the chat and publishes a ``ChatCommand``; this
module (alerts may lean on orders) turns the command into ``orders.approvals.approval_decide(via="telegram")``,
the same path the dashboard's approve button takes, and answers with a ``ChatReplied``. Subscribed in
``AlertsConfig.ready``.
"""

from __future__ import annotations

import logging

from rest_framework.exceptions import ValidationError as DrfValidationError

from alphaloop import bus
from alphaloop.events import ChatCommand, ChatReplied
from alphaloop.exceptions import ApplicationError
from orders.models import ApprovalRequest

logger = logging.getLogger(__name__)


def chat_command_answer(event: ChatCommand) -> None:
    """``ChatCommand`` subscriber ``alerts.approvals``: ``/approve TOKEN`` or ``/reject TOKEN`` from the chat."""
    if event.command in ("approve", "reject"):
        reply = approval_reply(event.args, approve=event.command == "approve")
        bus.publish(ChatReplied(chat_id=event.chat_id, text=reply))


def approval_reply(args: str, *, approve: bool) -> str:
    """Decide the approval named by the first word of ``args``; the reply text for the chat."""
    from orders.approvals import approval_decide

    verb = "approve" if approve else "reject"
    words = args.split()
    if not words:
        return f"Usage: /{verb} TOKEN (the code in the approval message)."
    token = words[0].strip().upper()
    approval = ApprovalRequest.objects.select_related("account__user", "plan").filter(token=token).first()
    if approval is None:
        return f"No approval request {token}."
    try:
        approval = approval_decide(approval=approval, approve=approve, via="telegram", user=approval.account.user)
    except (ApplicationError, DrfValidationError) as exc:
        detail = exc.message if isinstance(exc, ApplicationError) else exc.detail
        logger.info("telegram /%s %s refused: %s", verb, token, detail)
        return f"{token}: {detail}"
    plan = approval.plan
    if not approve:
        return f"Rejected {token}: plan #{plan.pk} ({plan.direction} {plan.symbol}) will not be executed."
    order = approval.order
    if approval.status == approval.PENDING:  # approved, but its order was refused: it waits for another approval
        refused = f"order #{order.pk} was refused" if order is not None else "the order was invalid"
        return (f"{token}: not executed yet: {refused} ({approval.refusal_code}): {approval.refusal_reason} "
                f"{approval.pending_note()}: /approve it again once it can execute.")
    if order is None:
        return f"Approved {token}, but no order was placed for plan #{plan.pk}."
    if order.status == order.REJECTED:
        return f"Approved {token}; order #{order.pk} was refused: {order.reject_code} {order.reject_reason}".strip()
    return f"Approved {token}: order #{order.pk} {order.side} {order.quantity.normalize():f} {order.symbol} is {order.status}."
