"""The service desk: cases and work orders with their life cycle, SLA clocks,
preventive maintenance, job reports, and the notices work orders call for.

Every channel opens work through `cases.open_case` (alerts through
`alert_cases`); work orders move only through `work_orders`. Routing them onto
engineers is the dispatcher's (`dispatch/`), which imports this package, never the
other way round.
"""
