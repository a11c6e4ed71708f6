"""The 2020 round on a simulated clock: the scenario and the run that plays it."""
