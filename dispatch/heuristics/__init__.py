"""Planning without the solver, where it is too slow to call: timing one route
(`schedule`), the greedy nearest-engineer plan (`greedy`: the solver's warm start on
big days and the benchmarks' baseline), inserting one job into a plan at once
(`emergency`), and the arrival windows a plan can promise (`booking`)."""
