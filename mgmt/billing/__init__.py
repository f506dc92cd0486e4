"""Usage-based billing: prices, metered periods and the bills made from them."""
