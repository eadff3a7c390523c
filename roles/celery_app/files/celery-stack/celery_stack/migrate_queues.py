"""Give the app's queues the type the deployment declares, keeping every message:

    python -m celery_stack.migrate_queues MOVES_JSON

MOVES_JSON: [{"queue": NAME, "holding": HOLDING, "renewed": false}, ...], the queues whose
type on the broker is not the app's (playbooks/migrate-queues.yml reads them from the
broker's definitions with the filter rabbitmq_queue_moves, which names HOLDING, the queue
that keeps NAME's messages meanwhile; `renewed`: NAME already has the new type, a cut-off
run left messages in HOLDING). Run on an app host as the app's account with its environment file, the workers
stopped, with the release that declares the new type installed: the queue, its exchange
and binding are declared exactly as the workers will declare them (celery_stack.app).

RabbitMQ cannot change the type of a queue, nor of an exchange; both are declared anew.
Meanwhile the messages wait in HOLDING (durable, of the new type):

1. every message of NAME is published into HOLDING, body, headers and properties
   as they are (a task with a countdown keeps its ETA), and once the broker confirms it,
   acknowledged in NAME; NAME, now empty, is deleted;
2. NAME's exchange is declared as the app declares it; one of another type (Celery's
   direct exchange, where quorum queues route through a topic one) is deleted first;
3. NAME is declared, with its binding, as the app declares it;
4. every message of HOLDING moves back into NAME the same way; HOLDING is deleted.

A run cut off anywhere is finished by the next. A message is acknowledged only once its
copy is confirmed, so a crash between the two leaves it in both queues (it runs twice),
never in neither. Tasks published meanwhile by producers the roles do not run (a web app)
may be refused while the exchange is declared anew: stop them first. Prints one JSON line
per queue: how many messages went out and came back.
"""

from __future__ import annotations

import json
import sys

from celery_stack.messages import republish

class Broker:
    """The AMQP operations of a move, on one kombu connection (the app's: TLS, failover,
    confirms). A refused declaration closes its channel, so those get one of their own."""

    def __init__(self, connection):
        self.connection = connection
        self.channel = self.producer = None
        self.fresh()

    def fresh(self) -> None:
        """A new channel for the moves. RabbitMQ 3.10 keeps, per channel, what it learnt
        of a queue: a channel that took messages from the classic NAME crashed (541,
        INTERNAL_ERROR) publishing into the quorum NAME declared since."""
        if self.channel is not None:
            self.channel.close()
        self.channel = self.connection.channel()
        self.producer = self.connection.Producer(channel=self.channel)

    def _alone(self, action):
        channel = self.connection.channel()
        try:
            return action(channel)
        finally:
            try:
                channel.close()
            except Exception:  # noqa: BLE001 - the broker closed it already
                pass

    def count(self, name: str) -> int | None:
        """The messages in queue `name`, or None when there is no such queue."""
        try:
            return self._alone(lambda channel: channel.queue_declare(name, passive=True)[1])
        except Exception as error:  # noqa: BLE001 - amqp's NotFound (404)
            if getattr(error, "code", None) == 404:
                return None
            raise

    def declare_holding(self, name: str, arguments: dict) -> None:
        self.channel.queue_declare(name, durable=True, auto_delete=False, arguments=arguments or None)

    def declare_exchange(self, exchange) -> bool:
        """Declare the exchange as the app does; True when one of another type was deleted first."""
        try:
            self._alone(lambda channel: exchange(channel).declare())
            return False
        except Exception as error:  # noqa: BLE001 - amqp's PreconditionFailed (406)
            if getattr(error, "code", None) != 406:
                raise
        self._alone(lambda channel: channel.exchange_delete(exchange.name))
        self._alone(lambda channel: exchange(channel).declare())
        return True

    def declare_queue(self, queue) -> None:
        self._alone(lambda channel: queue(channel).declare())

    def delete(self, name: str) -> None:
        """Delete an emptied queue. Quorum queues refuse queue.delete's if-empty flag (540),
        so the count is asked first (a passive declare: exact, where listings lag)."""
        left = self.count(name)
        if left:
            raise RuntimeError(f"queue {name!r} still holds {left} message(s); not deleted")
        self.channel.queue_delete(name)

    def get(self, name: str):
        return self.channel.basic_get(name, no_ack=False)

    def copy(self, message, name: str) -> None:
        """The message as its producer sent it, into queue `name`; returns once confirmed."""
        republish(self.producer, message, name)

    def ack(self, message) -> None:
        self.channel.basic_ack(message.delivery_tag)


def pour(broker, source: str, target: str) -> int:
    """Move every message of `source` into `target`, each acknowledged once confirmed."""
    moved = 0
    while (message := broker.get(source)) is not None:
        broker.copy(message, target)
        broker.ack(message)
        moved += 1
    return moved


def move(broker, queue, holding: str, renewed: bool = False) -> dict:
    """Give `queue` (a kombu Queue, as the app declares it) its type, keeping its messages
    in the queue `holding` meanwhile."""
    done = {"queue": queue.name, "out": 0, "back": 0, "exchange_replaced": False}
    if not renewed and broker.count(queue.name) is not None:
        broker.declare_holding(holding, queue.queue_arguments or {})
        done["out"] = pour(broker, queue.name, holding)
        broker.delete(queue.name)
    if queue.exchange is not None and queue.exchange.name:
        done["exchange_replaced"] = broker.declare_exchange(queue.exchange)
    broker.declare_queue(queue)
    if broker.count(holding) is not None:
        broker.fresh()
        done["back"] = pour(broker, holding, queue.name)
        broker.delete(holding)
    return done


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit('usage: python -m celery_stack.migrate_queues '
                 '\'[{"queue": NAME, "holding": HOLDING, "renewed": false}, ...]\'')
    moves = json.loads(argv[0])
    from celery_stack.app import app

    queues = app.amqp.queues
    with app.connection_for_write() as connection:
        broker = Broker(connection)
        for entry in moves:
            # A queue the app's settings do not name is one its workers create (-Q): the
            # app's rules for those (queue and exchange type) give it, as Queues does.
            print(json.dumps(move(broker, queues[entry["queue"]], entry["holding"], bool(entry.get("renewed")))),
                  flush=True)


if __name__ == "__main__":
    main()
