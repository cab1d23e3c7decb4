"""The actor runtime: two-lane mailboxes, supervision, the event bus."""

from mats.actors.base import Actor, ActorMetrics, ActorState, ActorStoppedError, RestartPolicy
from mats.actors.bus import Envelope, EventBus, Subscription, SubscriptionLagged
from mats.actors.mailbox import Mailbox, MailboxClosed, MailboxFull, MailboxOverflow
from mats.actors.supervisor import Supervisor

__all__ = [
    "Actor",
    "ActorMetrics",
    "ActorState",
    "ActorStoppedError",
    "Envelope",
    "EventBus",
    "Mailbox",
    "MailboxClosed",
    "MailboxFull",
    "MailboxOverflow",
    "RestartPolicy",
    "Subscription",
    "SubscriptionLagged",
    "Supervisor",
]
