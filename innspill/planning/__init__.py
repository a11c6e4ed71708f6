"""Deciding what is due: the pure planner, its actions and state, and the tick that queues them."""
