"""A period's bill from a price and the metered units: every expectation worked out by hand."""

import tempfile
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from mgmt.billing.currencies import is_currency, minor_units, quantize
from mgmt.billing.pricing import (
    Bill,
    Line,
    Price,
    PriceError,
    PricingModel,
    Tier,
    price_period,
    validate,
    validate_tiers,
)

pytestmark = pytest.mark.pure

# Hypothesis keeps caches in its home directory, by default .hypothesis/ in the working
# tree; nothing of this run belongs there.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "tollgate-hypothesis")

D = Decimal
# 1 to 1,000 at 0.010, 1,001 to 10,000 at 0.008, beyond at 0.005. Ranges in descriptions
# are joined by an en dash, \u2013.
TIERS = (Tier(1000, D("0.010")), Tier(10_000, D("0.008")), Tier(None, D("0.005")))
FEE_10 = Line("fee", "Recurring fee", 1, D("10.00"), D("10.00"))


def tiered(
    model: PricingModel,
    tiers: tuple[Tier, ...] = TIERS,
    *,
    fee: str = "10.00",
    included: int = 0,
    currency: str = "USD",
) -> Price:
    return Price(currency, D(fee), included, model, tiers=tiers)


def per_unit(unit_price: str, *, fee: str = "0", included: int = 0, currency: str = "USD") -> Price:
    return Price(currency, D(fee), included, PricingModel.PER_UNIT, unit_price=D(unit_price))


def packaged(size: int, package_price: str, *, included: int = 0) -> Price:
    return Price(
        "USD",
        D(0),
        included,
        PricingModel.PACKAGE,
        package_size=size,
        package_price=D(package_price),
    )


# Tier boundaries


def test_graduated_1000th_unit_is_the_last_of_the_first_tier() -> None:
    bill = price_period(tiered(PricingModel.GRADUATED), 1000)
    assert bill == Bill(
        "USD",
        1000,
        1000,
        (FEE_10, Line("tier", "Units 1\u20131,000 at 0.010", 1000, D("0.010"), D("10.00"))),
        D("20.00"),
    )


def test_graduated_1001st_unit_is_the_first_of_the_second_tier() -> None:
    bill = price_period(tiered(PricingModel.GRADUATED), 1001)
    # 1,000 x 0.010 = 10.00; 1 x 0.008 = 0.008, rounded half up to 0.01.
    assert bill.lines == (
        FEE_10,
        Line("tier", "Units 1\u20131,000 at 0.010", 1000, D("0.010"), D("10.00")),
        Line("tier", "Units 1,001\u201310,000 at 0.008", 1, D("0.008"), D("0.01")),
    )
    assert bill.total == D("20.01")


def test_volume_1000th_unit_prices_all_units_in_the_first_tier() -> None:
    bill = price_period(tiered(PricingModel.VOLUME), 1000)
    assert bill.lines == (
        FEE_10,
        Line("tier", "1,000 units at 0.010 (tier 1\u20131,000)", 1000, D("0.010"), D("10.00")),
    )
    assert bill.total == D("20.00")


def test_volume_1001st_unit_moves_every_unit_to_the_second_tier() -> None:
    bill = price_period(tiered(PricingModel.VOLUME), 1001)
    # 1,001 x 0.008 = 8.008 -> 8.01: cheaper than 1,000 units.
    assert bill.lines == (
        FEE_10,
        Line("tier", "1,001 units at 0.008 (tier 1,001\u201310,000)", 1001, D("0.008"), D("8.01")),
    )
    assert bill.total == D("18.01")


def test_volume_and_graduated_differ_on_the_same_tiers() -> None:
    graduated = price_period(tiered(PricingModel.GRADUATED), 12_000)
    volume = price_period(tiered(PricingModel.VOLUME), 12_000)
    # 1,000 x 0.010 + 9,000 x 0.008 + 2,000 x 0.005 = 10.00 + 72.00 + 10.00, plus the fee.
    assert [line.amount for line in graduated.lines] == [
        D("10.00"),
        D("10.00"),
        D("72.00"),
        D("10.00"),
    ]
    assert graduated.lines[-1].description == "Units 10,001 and up at 0.005"
    assert graduated.lines[-1].quantity == 2000
    assert graduated.total == D("102.00")
    # 12,000 x 0.005 = 60.00, plus the fee.
    assert volume.lines[-1] == Line(
        "tier", "12,000 units at 0.005 (tier 10,001 and up)", 12_000, D("0.005"), D("60.00")
    )
    assert volume.total == D("70.00")


FLAT_TIERS = (Tier(100, D(0), D("5.00")), Tier(None, D("0.02"), D("1.50")))


def test_graduated_charges_a_touched_tiers_flat_fee_once() -> None:
    bill = price_period(tiered(PricingModel.GRADUATED, FLAT_TIERS, fee="0"), 150)
    # 100 x 0 + 5.00; 50 x 0.02 + 1.50 = 2.50.
    assert bill.lines == (
        Line("tier", "Units 1\u2013100 at 0.00 plus 5.00 flat", 100, D(0), D("5.00")),
        Line("tier", "Units 101 and up at 0.02 plus 1.50 flat", 50, D("0.02"), D("2.50")),
    )
    assert bill.total == D("7.50")


def test_graduated_skips_the_flat_fee_of_an_untouched_tier() -> None:
    bill = price_period(tiered(PricingModel.GRADUATED, FLAT_TIERS, fee="0"), 100)
    assert [line.amount for line in bill.lines] == [D("5.00")]
    assert bill.total == D("5.00")


def test_volume_charges_only_the_flat_fee_of_the_tier_reached() -> None:
    bill = price_period(tiered(PricingModel.VOLUME, FLAT_TIERS, fee="0"), 150)
    # 150 x 0.02 = 3.00, plus 1.50.
    assert bill.lines == (
        Line(
            "tier", "150 units at 0.02 (tier 101 and up) plus 1.50 flat", 150, D("0.02"), D("4.50")
        ),
    )
    assert bill.total == D("4.50")


# Included units


@pytest.mark.parametrize(
    ("units", "used", "billable"),
    [(999, 999, 0), (1000, 1000, 0)],
    ids=["below", "at"],
)
def test_usage_within_the_included_units_costs_nothing(
    units: int, used: int, billable: int
) -> None:
    bill = price_period(per_unit("0.01", included=1000), units)
    assert bill.lines == (
        Line("included", f"Included units ({used:,} of 1,000)", used, D(0), D("0.00")),
    )
    assert (bill.units, bill.billable_units, bill.total) == (units, billable, D("0.00"))


@pytest.mark.parametrize(
    ("units", "billable", "line"),
    [
        (1001, 1, Line("units", "1 unit at 0.01", 1, D("0.01"), D("0.01"))),
        (1250, 250, Line("units", "250 units at 0.01", 250, D("0.01"), D("2.50"))),
    ],
)
def test_units_above_the_included_ones_are_billed(units: int, billable: int, line: Line) -> None:
    bill = price_period(per_unit("0.01", included=1000), units)
    assert bill.lines == (
        Line("included", "Included units (1,000 of 1,000)", 1000, D(0), D("0.00")),
        line,
    )
    assert (bill.billable_units, bill.total) == (billable, line.amount)


def test_tiers_count_the_units_after_the_included_ones() -> None:
    price = tiered(PricingModel.GRADUATED, fee="0", included=1000)
    # 1,500 metered: 500 billable, all in the first tier.
    assert price_period(price, 1500).lines[1:] == (
        Line("tier", "Units 1\u20131,000 at 0.010", 500, D("0.010"), D("5.00")),
    )
    # 2,001 metered: 1,001 billable, so one unit in the second tier (0.008 -> 0.01).
    bill = price_period(price, 2001)
    assert [(line.quantity, line.amount) for line in bill.lines] == [
        (1000, D("0.00")),
        (1000, D("10.00")),
        (1, D("0.01")),
    ]
    assert bill.total == D("10.01")


# No usage


@pytest.mark.parametrize("model", [PricingModel.GRADUATED, PricingModel.VOLUME])
def test_no_usage_bills_only_the_fee(model: PricingModel) -> None:
    bill = price_period(tiered(model, fee="49.00"), 0)
    assert bill == Bill(
        "USD", 0, 0, (Line("fee", "Recurring fee", 1, D("49.00"), D("49.00")),), D("49.00")
    )


def test_no_usage_shows_the_included_units_untouched() -> None:
    bill = price_period(tiered(PricingModel.GRADUATED, fee="49.00", included=1000), 0)
    assert bill.lines == (
        Line("fee", "Recurring fee", 1, D("49.00"), D("49.00")),
        Line("included", "Included units (0 of 1,000)", 0, D(0), D("0.00")),
    )
    assert bill.total == D("49.00")


def test_no_fee_and_no_usage_is_an_empty_bill_of_zero() -> None:
    bill = price_period(per_unit("0.01"), 0)
    assert bill.lines == ()
    assert str(bill.total) == "0.00"


# Packages


@pytest.mark.parametrize(
    ("units", "description", "packages", "amount"),
    [
        (1, "1 package of 1,000 units (1 unit) at 5.00", 1, "5.00"),
        (1000, "1 package of 1,000 units (1,000 units) at 5.00", 1, "5.00"),
        (1001, "2 packages of 1,000 units (1,001 units) at 5.00", 2, "10.00"),
    ],
)
def test_packages_round_up(units: int, description: str, packages: int, amount: str) -> None:
    bill = price_period(packaged(1000, "5.00"), units)
    assert bill.lines == (Line("package", description, packages, D("5.00"), D(amount)),)
    assert bill.total == D(amount)


def test_packages_count_the_units_after_the_included_ones() -> None:
    bill = price_period(packaged(1000, "5.00", included=500), 1501)
    assert [(line.kind, line.quantity, line.amount) for line in bill.lines] == [
        ("included", 500, D("0.00")),
        ("package", 2, D("10.00")),
    ]


def test_no_usage_buys_no_package() -> None:
    assert price_period(packaged(1000, "5.00"), 0).lines == ()


# Currencies and rounding


@pytest.mark.parametrize(
    ("code", "decimals"),
    [
        *[(code, 0) for code in ("JPY", "KRW", "VND", "CLP", "ISK", "XOF", "XAF", "XPF")],
        *[(code, 2) for code in ("USD", "EUR", "GBP", "HUF", "CHF", "INR", "BRL", "CNY")],
        *[(code, 3) for code in ("BHD", "JOD", "KWD", "OMR", "TND")],
    ],
)
def test_minor_units_follow_iso_4217(code: str, decimals: int) -> None:
    assert is_currency(code)
    assert minor_units(code) == decimals


@pytest.mark.parametrize("code", ["XYZ", "usd", "XAU", "XDR", ""])
def test_an_unknown_currency_is_refused_by_name(code: str) -> None:
    assert not is_currency(code)
    with pytest.raises(ValueError, match=f"unknown currency '{code}'"):
        minor_units(code)
    with pytest.raises(ValueError, match=f"'{code}'"):
        quantize(D(1), code)


@pytest.mark.parametrize(
    ("amount", "code", "rounded"),
    [
        (D("2.675"), "USD", "2.68"),
        (D("2.665"), "USD", "2.67"),  # half up, not half even
        (D("0.005"), "USD", "0.01"),
        (D("0.004999"), "USD", "0.00"),
        (D("-0.005"), "USD", "-0.01"),  # half away from zero
        (D("1.5"), "USD", "1.50"),
        (D("0.5"), "JPY", "1"),
        (D("1.4999"), "JPY", "1"),
        (D("1234"), "JPY", "1234"),
        (D("0.0005"), "KWD", "0.001"),
        (D("0.00049"), "KWD", "0.000"),
        (D("1.5"), "KWD", "1.500"),
        (Fraction(1, 3), "USD", "0.33"),
        (Fraction(2, 3), "USD", "0.67"),
        (Fraction(1, 200), "USD", "0.01"),
    ],
)
def test_quantize_rounds_half_up_to_the_minor_unit(
    amount: Decimal | Fraction, code: str, rounded: str
) -> None:
    # str() pins the exponent too: 1.50, never 1.5.
    assert str(quantize(amount, code)) == rounded


def test_yen_amounts_have_no_decimals() -> None:
    bill = price_period(per_unit("0.5", fee="1000", currency="JPY"), 3, Fraction(1, 3))
    # 1000 / 3 = 333.33 -> 333; 3 x 0.5 = 1.5 -> 2.
    assert [str(line.amount) for line in bill.lines] == ["333", "2"]
    assert bill.lines[1].description == "3 units at 0.5"
    assert str(bill.total) == "335"


def test_dinar_amounts_have_three_decimals() -> None:
    bill = price_period(per_unit("0.0005", fee="1.5", currency="KWD"), 3)
    # 3 x 0.0005 = 0.0015 -> 0.002.
    assert [str(line.amount) for line in bill.lines] == ["1.500", "0.002"]
    assert str(bill.total) == "1.502"


@pytest.mark.parametrize(
    ("unit_price", "units", "amount"),
    [("0.005", 1, "0.01"), ("0.004999", 1, "0.00"), ("0.000005", 1000, "0.01")],
)
def test_a_line_rounds_half_up_at_half_a_cent(unit_price: str, units: int, amount: str) -> None:
    assert str(price_period(per_unit(unit_price), units).total) == amount


def test_the_total_is_the_sum_of_the_rounded_lines() -> None:
    price = tiered(
        PricingModel.GRADUATED,
        (Tier(1, D("0.005")), Tier(2, D("0.005")), Tier(None, D("0.005"))),
        fee="0",
    )
    bill = price_period(price, 3)
    # Three lines of 0.005 each round to 0.01: the total is 0.03, not round(0.015).
    assert [line.amount for line in bill.lines] == [D("0.01")] * 3
    assert bill.total == D("0.03")


def test_huge_quantities_are_priced_exactly() -> None:
    # 10**24 units at 999,999.999999 = 999999999999 x 10**18: 32 digits with the cents,
    # more than the default decimal context holds.
    bill = price_period(per_unit("999999.999999"), 10**24)
    assert str(bill.total) == f"{999999999999 * 10**18}.00"


# The recurring fee and its proration


@pytest.mark.parametrize(
    ("fee", "fraction", "description", "amount"),
    [
        ("10.00", Fraction(1), "Recurring fee", "10.00"),
        ("10.00", Fraction(1, 3), "Recurring fee for 1/3 of the period", "3.33"),
        ("10.00", Fraction(2, 3), "Recurring fee for 2/3 of the period", "6.67"),
        ("0.01", Fraction(1, 2), "Recurring fee for 1/2 of the period", "0.01"),
        ("10.00", Fraction(0), "Recurring fee for 0 of the period", "0.00"),
    ],
)
def test_the_fee_is_prorated_by_the_fraction(
    fee: str, fraction: Fraction, description: str, amount: str
) -> None:
    bill = price_period(per_unit("0.01", fee=fee), 0, fraction)
    assert bill.lines == (Line("fee", description, 1, D(fee), D(amount)),)
    assert str(bill.total) == amount


@pytest.mark.parametrize("fraction", [Fraction(3, 2), Fraction(-1, 2)])
def test_a_fee_fraction_outside_zero_to_one_is_refused(fraction: Fraction) -> None:
    with pytest.raises(ValueError, match="fee_fraction"):
        price_period(per_unit("0.01"), 1, fraction)


def test_negative_units_are_refused() -> None:
    with pytest.raises(ValueError, match="units"):
        price_period(per_unit("0.01"), -1)


# Validation


def _field_of(price: Price) -> str:
    with pytest.raises(PriceError) as caught:
        validate(price)
    assert caught.value.field in str(caught.value)
    return caught.value.field


@pytest.mark.parametrize(
    ("price", "field"),
    [
        (per_unit("0.01", currency="XYZ"), "currency"),
        (per_unit("0.01", currency="usd"), "currency"),
        (Price("USD", D(0), 0, cast(PricingModel, "flat")), "model"),
        (per_unit("0.01", fee="-1"), "fee"),
        (per_unit("0.01", fee="1000000000.01"), "fee"),
        (per_unit("0.01", fee="0.0000001"), "fee"),
        (per_unit("0.01", fee="NaN"), "fee"),
        (per_unit("0.01", fee="Infinity"), "fee"),
        (per_unit("0.01", included=-1), "included_units"),
        (per_unit("-0.01"), "unit_price"),
        (per_unit("1000000.01"), "unit_price"),
        (per_unit("0.0000001"), "unit_price"),
        (packaged(0, "5.00"), "package_size"),
        (packaged(-1, "5.00"), "package_size"),
        (packaged(1000, "-5.00"), "package_price"),
        (packaged(1000, "1000000000.01"), "package_price"),
        (tiered(PricingModel.GRADUATED, ()), "tiers"),
        (tiered(PricingModel.VOLUME, ()), "tiers"),
        (Price("USD", D(0), 0, PricingModel.PER_UNIT, D("0.01"), tiers=TIERS), "tiers"),
        (Price("USD", D(0), 0, PricingModel.PACKAGE, package_size=1, tiers=TIERS), "tiers"),
        (Price("USD", D(0), 0, PricingModel.GRADUATED, D("0.01"), tiers=TIERS), "unit_price"),
        (Price("USD", D(0), 0, PricingModel.PER_UNIT, package_size=10), "package_size"),
        (Price("USD", D(0), 0, PricingModel.PER_UNIT, package_price=D(1)), "package_price"),
    ],
)
def test_every_invalid_price_names_its_field(price: Price, field: str) -> None:
    assert _field_of(price) == field


@pytest.mark.parametrize(
    ("tiers", "field"),
    [
        ((Tier(1000, D(1)), Tier(1000, D(1)), Tier(None, D(1))), "tiers[1].up_to"),
        ((Tier(1000, D(1)), Tier(500, D(1)), Tier(None, D(1))), "tiers[1].up_to"),
        ((Tier(0, D(1)), Tier(None, D(1))), "tiers[0].up_to"),
        ((Tier(-5, D(1)), Tier(None, D(1))), "tiers[0].up_to"),
        ((Tier(1000, D(1)), Tier(2000, D(1))), "tiers[1].up_to"),
        ((Tier(1000, D(1)),), "tiers[0].up_to"),
        ((Tier(None, D(1)), Tier(None, D(1))), "tiers[0].up_to"),
        ((Tier(None, D(1)), Tier(1000, D(1))), "tiers[0].up_to"),
        ((Tier(10, D("-0.01")), Tier(None, D(1))), "tiers[0].unit_price"),
        ((Tier(10, D(1)), Tier(None, D("1000000.000001"))), "tiers[1].unit_price"),
        ((Tier(10, D("0.00000001")), Tier(None, D(1))), "tiers[0].unit_price"),
        ((Tier(10, D(1)), Tier(None, D(1), D("1000000001"))), "tiers[1].flat_fee"),
        ((Tier(10, D(1), D("-1")), Tier(None, D(1))), "tiers[0].flat_fee"),
    ],
)
def test_every_invalid_tier_names_its_field(tiers: tuple[Tier, ...], field: str) -> None:
    assert _field_of(tiered(PricingModel.GRADUATED, tiers)) == field
    assert _field_of(tiered(PricingModel.VOLUME, tiers)) == field
    with pytest.raises(PriceError):
        validate_tiers(tiers)


def test_validate_tiers_refuses_no_tiers() -> None:
    with pytest.raises(PriceError) as caught:
        validate_tiers(())
    assert caught.value.field == "tiers"


def test_an_invalid_price_is_refused_when_billed() -> None:
    with pytest.raises(PriceError) as caught:
        price_period(packaged(0, "5.00"), 10)
    assert caught.value.field == "package_size"
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "price",
    [
        per_unit("1000000", fee="1000000000"),
        per_unit("0.000001", fee="0.000001"),
        per_unit("1.0000000"),  # trailing zeros are no precision
        packaged(1, "1000000000"),
        tiered(PricingModel.GRADUATED, (Tier(1, D(0)), Tier(None, D("0.000001"), D(10**9)))),
        tiered(PricingModel.VOLUME, (Tier(None, D("0.5")),)),
    ],
)
def test_prices_at_the_limits_are_valid(price: Price) -> None:
    validate(price)


# Properties


@st.composite
def tier_ladders(draw: st.DrawFn) -> tuple[Tier, ...]:
    bounds = sorted(draw(st.lists(st.integers(1, 10**6), unique=True, max_size=5)))
    amounts = st.decimals(min_value=0, max_value=1000, places=6)
    return tuple(
        Tier(bound, draw(amounts), draw(st.sampled_from([D(0), draw(amounts)])))
        for bound in [*bounds, None]
    )


PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, database=None)


@PROPERTY_SETTINGS
@given(
    tiers=tier_ladders(),
    model=st.sampled_from([PricingModel.GRADUATED, PricingModel.VOLUME]),
    included=st.integers(0, 10**4),
    units=st.integers(0, 2 * 10**6),
    fraction=st.fractions(min_value=0, max_value=1, max_denominator=10**7),
)
def test_the_total_is_always_the_sum_of_the_lines(
    tiers: tuple[Tier, ...], model: PricingModel, included: int, units: int, fraction: Fraction
) -> None:
    price = Price("USD", D("12.34"), included, model, tiers=tiers)
    bill = price_period(price, units, fraction)
    assert bill.total == sum((line.amount for line in bill.lines), D(0))
    assert all(line.amount.as_tuple().exponent == -2 for line in bill.lines)
    charged = sum(line.quantity for line in bill.lines if line.kind == "tier")
    assert charged == bill.billable_units == max(0, units - included)


@PROPERTY_SETTINGS
@given(
    tiers=tier_ladders(),
    included=st.integers(0, 10**4),
    units=st.integers(0, 2 * 10**6),
    more=st.integers(0, 10**6),
)
def test_a_graduated_total_never_falls_as_units_grow(
    tiers: tuple[Tier, ...], included: int, units: int, more: int
) -> None:
    price = Price("USD", D(0), included, PricingModel.GRADUATED, tiers=tiers)
    assert price_period(price, units).total <= price_period(price, units + more).total
