"""Billing jobs."""

from celery import shared_task


@shared_task(name="shipyard.invoice")
def invoice(order: int, amount: float) -> str:
    """The text of an invoice."""
    return f"invoice {order}: {amount:.2f}"
