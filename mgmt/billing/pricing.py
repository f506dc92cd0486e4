"""A period's bill from a price and the metered units: pure maths, no I/O, no clock.

Order: the included units come off first, then the rest (the billable units) are charged
by the price's model, and tier bounds count billable units only. With 1,000 units
included and tiers up to 1,000 then beyond, the 1,500th metered unit is the 500th
billable one, in the first tier.

Rounding: each line's amount is computed exactly (quantity x unit price, plus a tier's
flat fee; the recurring fee x the prorated fraction) and rounded once to the currency's
minor unit, half away from zero (ROUND_HALF_UP). The total is the sum of the rounded
lines, so the lines of an invoice always add up to its total.

Lines come in this order: the recurring fee, the included units, the unit charges.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Final

from mgmt.billing.currencies import is_currency, minor_units, quantize

MAX_FEE: Final = Decimal(10**9)
"""Ceiling of a recurring fee, a package price and a tier's flat fee, in major units."""

MAX_UNIT_PRICE: Final = Decimal(10**6)
"""Ceiling of the price of one unit, in major units."""

MAX_DECIMAL_PLACES: Final = 6
"""Finest precision of any amount in a price: a millionth of the major unit."""

EN_DASH: Final = "\u2013"
ZERO: Final = Decimal(0)


class PricingModel(StrEnum):
    PER_UNIT = "per_unit"
    GRADUATED = "graduated"
    VOLUME = "volume"
    PACKAGE = "package"


@dataclass(frozen=True, slots=True)
class Tier:
    """Billable units up to `up_to` (inclusive; None: no bound, last tier only)."""

    up_to: int | None
    unit_price: Decimal
    flat_fee: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Price:
    currency: str
    fee: Decimal
    """The recurring fee of a whole period."""
    included_units: int
    model: PricingModel
    unit_price: Decimal = Decimal(0)
    """PER_UNIT only."""
    package_size: int = 0
    """PACKAGE only: units in one package."""
    package_price: Decimal = Decimal(0)
    """PACKAGE only."""
    tiers: tuple[Tier, ...] = ()
    """GRADUATED and VOLUME only."""


class PriceError(ValueError):
    """A price that cannot be billed, and the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Line:
    kind: str
    """One of fee, included, units, tier (GRADUATED, VOLUME) and package."""
    description: str
    quantity: int
    unit_amount: Decimal
    amount: Decimal
    """Rounded to the currency's minor unit."""


@dataclass(frozen=True, slots=True)
class Bill:
    currency: str
    units: int
    """Every metered unit of the period, included ones too."""
    billable_units: int
    """The units left once the included ones are taken off."""
    lines: tuple[Line, ...]
    total: Decimal
    """The sum of the lines' rounded amounts."""


def validate(price: Price) -> None:
    """Raise PriceError, naming the field, for a price that cannot be billed."""
    if not is_currency(price.currency):
        raise PriceError("currency", f"{price.currency!r} is not an ISO 4217 currency")
    try:
        model = PricingModel(price.model)
    except ValueError:
        raise PriceError("model", f"{price.model!r} is not a pricing model") from None
    _check_amount("fee", price.fee, MAX_FEE)
    if price.included_units < 0:
        raise PriceError("included_units", "must not be negative")
    _check_amount("unit_price", price.unit_price, MAX_UNIT_PRICE)
    _check_amount("package_price", price.package_price, MAX_FEE)
    # A field of another model is refused rather than ignored: it is a price set up wrong.
    if model is not PricingModel.PER_UNIT and price.unit_price != 0:
        raise PriceError("unit_price", f"only a {PricingModel.PER_UNIT} price has one")
    if model is PricingModel.PACKAGE:
        if price.package_size < 1:
            raise PriceError("package_size", "a package holds at least one unit")
    else:
        if price.package_size != 0:
            raise PriceError("package_size", f"only a {PricingModel.PACKAGE} price has one")
        if price.package_price != 0:
            raise PriceError("package_price", f"only a {PricingModel.PACKAGE} price has one")
    if model in (PricingModel.GRADUATED, PricingModel.VOLUME):
        validate_tiers(price.tiers)
    elif price.tiers:
        raise PriceError("tiers", f"a {model} price has no tiers")


def validate_tiers(tiers: Sequence[Tier]) -> None:
    """Raise PriceError for tiers that do not cut the billable units into one ladder.

    Bounds are at least 1 and strictly increasing; the last tier, and only it, is open.
    """
    if not tiers:
        raise PriceError("tiers", "at least one tier is needed")
    previous = 0
    for index, tier in enumerate(tiers):
        field = f"tiers[{index}]"
        _check_amount(f"{field}.unit_price", tier.unit_price, MAX_UNIT_PRICE)
        _check_amount(f"{field}.flat_fee", tier.flat_fee, MAX_FEE)
        last = index == len(tiers) - 1
        if tier.up_to is None:
            if not last:
                raise PriceError(f"{field}.up_to", "only the last tier is open-ended")
            continue
        if last:
            raise PriceError(f"{field}.up_to", "the last tier must be open-ended (None)")
        if tier.up_to < 1:
            raise PriceError(f"{field}.up_to", "a tier bound is at least 1")
        if tier.up_to <= previous:
            raise PriceError(
                f"{field}.up_to", f"{tier.up_to:,} does not exceed the bound before, {previous:,}"
            )
        previous = tier.up_to


def price_period(price: Price, units: int, fee_fraction: Fraction = Fraction(1)) -> Bill:
    """The bill of one period: `units` metered, the fee prorated by `fee_fraction`.

    A fee line is there whenever the price has a fee (0.00 for a fraction of 0); an
    included line whenever the price includes units (quantity 0 for no usage).

    Raises PriceError for an invalid price, ValueError for negative units or a fraction
    outside [0, 1].
    """
    validate(price)
    if units < 0:
        raise ValueError(f"units must not be negative, got {units}")
    if not 0 <= fee_fraction <= 1:
        raise ValueError(f"fee_fraction must be within [0, 1], got {fee_fraction}")
    code = price.currency
    lines: list[Line] = []
    if price.fee > 0:
        lines.append(_fee_line(price, fee_fraction))
    included = min(units, price.included_units)
    if price.included_units > 0:
        description = f"Included units ({included:,} of {price.included_units:,})"
        lines.append(Line("included", description, included, ZERO, quantize(ZERO, code)))
    billable = units - included
    if billable > 0:
        lines.extend(_unit_lines(price, billable))
    total = quantize(sum((Fraction(line.amount) for line in lines), Fraction(0)), code)
    return Bill(code, units, billable, tuple(lines), total)


def _fee_line(price: Price, fraction: Fraction) -> Line:
    amount = quantize(Fraction(price.fee) * fraction, price.currency)
    if fraction == 1:
        description = "Recurring fee"
    else:
        description = f"Recurring fee for {fraction} of the period"
    return Line("fee", description, 1, price.fee, amount)


def _unit_lines(price: Price, billable: int) -> list[Line]:
    code = price.currency
    match PricingModel(price.model):
        case PricingModel.PER_UNIT:
            text = f"{_count(billable, 'unit')} at {_price_text(price.unit_price, code)}"
            return [_charge("units", text, billable, price.unit_price, code)]
        case PricingModel.PACKAGE:
            packages = math.ceil(Fraction(billable, price.package_size))
            text = (
                f"{_count(packages, 'package')} of {_count(price.package_size, 'unit')}"
                f" ({_count(billable, 'unit')}) at {_price_text(price.package_price, code)}"
            )
            return [_charge("package", text, packages, price.package_price, code)]
        case PricingModel.GRADUATED:
            return _graduated_lines(price.tiers, billable, code)
        case PricingModel.VOLUME:
            return [_volume_line(price.tiers, billable, code)]


def _graduated_lines(tiers: Sequence[Tier], billable: int, code: str) -> list[Line]:
    """Each unit at the price of the tier it falls in; a touched tier's flat fee once."""
    lines: list[Line] = []
    lower = 0  # the bound of the tier before: this tier starts at lower + 1
    for tier in tiers:
        upper = billable if tier.up_to is None else min(tier.up_to, billable)
        text = f"Units {_range_text(lower, tier.up_to)} at {_price_text(tier.unit_price, code)}"
        if tier.flat_fee:
            text += f" plus {_price_text(tier.flat_fee, code)} flat"
        lines.append(
            _charge("tier", text, upper - lower, tier.unit_price, code, flat=tier.flat_fee)
        )
        if tier.up_to is None or tier.up_to >= billable:
            break
        lower = tier.up_to
    return lines


def _volume_line(tiers: Sequence[Tier], billable: int, code: str) -> Line:
    """Every unit at the price of the tier the count falls in, plus that tier's flat fee."""
    lower = 0  # the bound of the tier before, for the description
    for tier in tiers:
        if tier.up_to is None or billable <= tier.up_to:
            break
        lower = tier.up_to
    text = (
        f"{_count(billable, 'unit')} at {_price_text(tier.unit_price, code)}"
        f" (tier {_range_text(lower, tier.up_to)})"
    )
    if tier.flat_fee:
        text += f" plus {_price_text(tier.flat_fee, code)} flat"
    return _charge("tier", text, billable, tier.unit_price, code, flat=tier.flat_fee)


def _charge(
    kind: str, text: str, quantity: int, unit_amount: Decimal, code: str, *, flat: Decimal = ZERO
) -> Line:
    exact = quantity * Fraction(unit_amount) + Fraction(flat)
    return Line(kind, text, quantity, unit_amount, quantize(exact, code))


def _check_amount(field: str, value: Decimal, ceiling: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise PriceError(field, f"must be a finite Decimal, got {value!r}")
    if value < 0:
        raise PriceError(field, "must not be negative")
    if value > ceiling:
        raise PriceError(field, f"must not exceed {ceiling:,}")
    if _decimal_places(value) > MAX_DECIMAL_PLACES:
        raise PriceError(field, f"has more than {MAX_DECIMAL_PLACES} decimal places")


def _decimal_places(value: Decimal) -> int:
    """Decimals that carry a digit: 1.2500 has 2 (trailing zeros say nothing)."""
    _, digits, exponent = value.as_tuple()
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    for digit in reversed(digits):
        if places == 0 or digit != 0:
            break
        places -= 1
    return places


def _range_text(lower: int, up_to: int | None) -> str:
    """The units of the tier after bound `lower`: "1,001", an en dash, "10,000"; or
    "10,001 and up" for the open tier."""
    if up_to is None:
        return f"{lower + 1:,} and up"
    return f"{lower + 1:,}{EN_DASH}{up_to:,}"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


def _price_text(value: Decimal, code: str) -> str:
    """A price with its own decimals, at least the currency's: 0.0010, 5.00, 300 (JPY)."""
    exponent = value.as_tuple().exponent
    own = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return f"{value:,.{max(own, minor_units(code))}f}"
