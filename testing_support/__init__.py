"""What the tests and the benchmarks both need and the product does not.

Throwaway database servers (`servers`) and synthetic city days for the
dispatcher (`city_days`). Not in the wheel, and no product package imports it
(`.importlinter`).
"""
