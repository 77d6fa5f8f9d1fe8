"""Notifications: incident events out to the people who asked for them.

``rules`` decides who hears of an event and whether it is news, ``messages`` says it in the
subscriber's language, ``channels`` carries it (signed JSON webhooks, Apprise URLs), and
``dispatch`` claims events, queues, sends, retries and logs every attempt.
"""

from panne.notify.channels import Channel, DeliveryError
from panne.notify.dispatch import Dispatcher, RunSummary
from panne.notify.messages import Message

__all__ = ["Channel", "DeliveryError", "Dispatcher", "Message", "RunSummary"]
