"""Prices per SKU, read from the catalogue."""

from decimal import Decimal

CATALOGUE = {"tea": Decimal("3.50"), "cake": Decimal("4.20")}


def unit_price(sku):
    return CATALOGUE[sku]
