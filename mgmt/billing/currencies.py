"""ISO 4217 currencies and their minor units: how many decimals an amount is billed in.

The table holds the circulating currencies of ISO 4217's list one; fund codes (CLF, UYI,
USN ...), precious metals (XAU ...), XDR and the test codes are not money a price is set
in, and are refused. Codes are upper case, exactly as ISO spells them. HUF and TWD keep
ISO's two decimals even where payment processors round them to whole units.
"""

from decimal import Decimal
from fractions import Fraction
from typing import Final

_ZERO_DECIMAL: Final = frozenset(
    {
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
        "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
    }
)  # fmt: skip

_THREE_DECIMAL: Final = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})

_TWO_DECIMAL: Final = frozenset(
    {
        "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD",
        "BDT", "BGN", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
        "CAD", "CDF", "CHF", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP",
        "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP",
        "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR",
        "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD",
        "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
        "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB",
        "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD",
        "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC",
        "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH",
        "USD", "UYU", "UZS", "VED", "VES", "WST", "XCD", "XCG", "YER", "ZAR", "ZMW",
        "ZWG",
    }
)  # fmt: skip

MINOR_UNITS: Final[dict[str, int]] = (
    dict.fromkeys(_ZERO_DECIMAL, 0)
    | dict.fromkeys(_TWO_DECIMAL, 2)
    | dict.fromkeys(_THREE_DECIMAL, 3)
)


def is_currency(code: str) -> bool:
    """Whether `code` is a currency a price can be set in."""
    return code in MINOR_UNITS


def minor_units(code: str) -> int:
    """Decimals of the currency's minor unit: 2 for USD, 0 for JPY, 3 for KWD."""
    try:
        return MINOR_UNITS[code]
    except KeyError:
        raise ValueError(f"unknown currency {code!r}: not an ISO 4217 currency") from None


def quantize(amount: Decimal | Fraction, code: str) -> Decimal:
    """`amount` rounded to the currency's minor unit, half away from zero (ROUND_HALF_UP).

    Exact whatever the decimal context: an amount is first taken as a fraction, so a
    product of many units and a six-decimal price is never rounded twice. The result
    carries exactly the currency's decimals (Decimal("1.50"), Decimal("2") for JPY).
    """
    decimals = minor_units(code)
    if isinstance(amount, Decimal) and not amount.is_finite():
        raise ValueError(f"cannot round {amount} to a currency amount")
    scaled = Fraction(amount) * 10**decimals
    whole, remainder = divmod(abs(scaled.numerator), scaled.denominator)
    if 2 * remainder >= scaled.denominator:
        whole += 1
    sign = 1 if scaled < 0 and whole else 0
    return Decimal((sign, tuple(int(digit) for digit in str(whole)), -decimals))
