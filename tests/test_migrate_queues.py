"""celery_stack.migrate_queues: a queue given another type keeps every message, once, and
a move cut off anywhere is finished by the next run. The broker here is a stand-in that
keeps messages in lists; the real one is tests/integration/test_migration.py's."""

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "roles" / "celery_app" / "files" / "celery-stack"))

from celery_stack import migrate_queues  # noqa: E402


class Cut(Exception):
    """The run stopped here (a lost connection, a killed controller)."""


class FakeBroker:
    """Queues by name (a list of messages each, and a type), the old exchange's type."""

    def __init__(self, messages, exchange_type="direct", cut_after=None):
        self.queues = {"celery": {"type": "classic", "messages": list(messages)}}
        self.exchanges = {"celery": exchange_type}
        self.cut_after = cut_after
        self.copies = 0
        self.unacked = {}

    def fresh(self):
        pass

    def count(self, name):
        return len(self.queues[name]["messages"]) if name in self.queues else None

    def declare_holding(self, name, arguments):
        self.queues.setdefault(name, {"type": arguments["x-queue-type"], "messages": []})

    def declare_exchange(self, exchange):
        replaced = self.exchanges.get(exchange.name, exchange.type) != exchange.type
        self.exchanges[exchange.name] = exchange.type
        return replaced

    def declare_queue(self, queue):
        assert self.exchanges[queue.exchange.name] == queue.exchange.type
        have = self.queues.setdefault(queue.name, {"type": queue.queue_arguments["x-queue-type"], "messages": []})
        assert have["type"] == queue.queue_arguments["x-queue-type"], "RabbitMQ refuses another type"

    def delete(self, name):
        assert not self.queues[name]["messages"], "if_empty"
        del self.queues[name]

    def get(self, name):
        if not self.queues[name]["messages"]:
            return None
        message = self.queues[name]["messages"].pop(0)
        self.unacked[id(message)] = (name, message)
        return message

    def copy(self, message, name):
        if self.cut_after is not None and self.copies == self.cut_after:
            # the connection drops: what was taken and not acknowledged goes back
            for source, taken in self.unacked.values():
                self.queues[source]["messages"].insert(0, taken)
            self.unacked.clear()
            self.cut_after = None
            raise Cut()
        self.copies += 1
        self.queues[name]["messages"].append(dict(message))

    def ack(self, message):
        del self.unacked[id(message)]


QUORUM = SimpleNamespace(name="celery", queue_arguments={"x-queue-type": "quorum"},
                         exchange=SimpleNamespace(name="celery", type="topic"))
HOLDING = "celery.migrating"
TASKS = [{"id": f"t{i}", "eta": "2026-12-07T05:00:00" if i % 2 else None} for i in range(10)]


def test_a_classic_queue_becomes_quorum_with_every_task_once_in_order_etas_kept():
    broker = FakeBroker(TASKS)
    done = migrate_queues.move(broker, QUORUM, HOLDING)
    assert done == {"queue": "celery", "out": 10, "back": 10, "exchange_replaced": True}
    assert broker.queues == {"celery": {"type": "quorum", "messages": TASKS}}
    assert broker.exchanges == {"celery": "topic"}


@pytest.mark.parametrize("cut_after", [0, 4, 10, 14, 19])
def test_a_move_cut_off_anywhere_is_finished_by_the_next_run(cut_after):
    broker = FakeBroker(TASKS, cut_after=cut_after)
    with pytest.raises(Cut):
        migrate_queues.move(broker, QUORUM, HOLDING)
    # the next run: the playbook reads the broker again (rabbitmq_queue_moves)
    renewed = "celery.migrating" in broker.queues and broker.queues.get("celery", {}).get("type") == "quorum"
    migrate_queues.move(broker, QUORUM, HOLDING, renewed=renewed)
    assert broker.queues == {"celery": {"type": "quorum", "messages": TASKS}}


def test_a_queue_that_has_its_type_is_declared_and_left_alone():
    broker = FakeBroker([])
    broker.queues = {"celery": {"type": "quorum", "messages": [{"id": "x"}]}}
    broker.exchanges = {"celery": "topic"}
    assert migrate_queues.move(broker, QUORUM, HOLDING, renewed=True) == {"queue": "celery", "out": 0, "back": 0,
                                                                  "exchange_replaced": False}
    assert broker.queues["celery"]["messages"] == [{"id": "x"}]


def test_a_copy_carries_the_body_headers_and_properties_but_not_the_brokers_count():
    published = []
    broker = migrate_queues.Broker.__new__(migrate_queues.Broker)
    broker.producer = SimpleNamespace(publish=lambda body, **kwargs: published.append((body, kwargs)))
    message = SimpleNamespace(body=b'[[2, 3], {}, {}]', headers={"id": "t1", "eta": "2026-12-07T05:00:00",
                                                                 "x-delivery-count": 2},
                              properties={"content_type": "application/json", "content_encoding": "utf-8",
                                          "correlation_id": "t1", "priority": 0, "reply_to": None})
    broker.copy(message, "celery.migrating")
    body, sent = published[0]
    assert body == message.body
    assert sent["headers"] == {"id": "t1", "eta": "2026-12-07T05:00:00"}
    assert (sent["routing_key"], sent["exchange"], sent["delivery_mode"]) == ("celery.migrating", "", 2)
    assert (sent["content_type"], sent["content_encoding"], sent["correlation_id"], sent["priority"]) == (
        "application/json", "utf-8", "t1", 0)
    assert "reply_to" not in sent
