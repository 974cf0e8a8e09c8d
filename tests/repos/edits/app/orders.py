"""Orders: totals, discounts and the receipt line."""

from decimal import Decimal

from .pricing import unit_price


class Order:
    def __init__(self, items, coupon=None):
        self.items = items
        self.coupon = coupon

    def total(self):
        amount = Decimal("0")
        for item in self.items:
            amount += unit_price(item["sku"]) * item["qty"]
        if self.coupon:
            amount -= amount * self.coupon["percent"] / 100
        return amount

    def average_price(self):
        count = sum(item["qty"] for item in self.items)
        return self.total() / count


def receipt_line(order):
    total = order.total()
    return f"{len(order.items)} items, {total:.2f}"


def refund_line(order):
    total = order.total()
    return f"refund of {total:.2f}"
