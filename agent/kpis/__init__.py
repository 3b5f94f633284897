"""The store's own figures: timers of open orders, escalations, and KPIs over a period.

Everything here reads ``order_times`` (migration m004), which triggers fill
from every path that changes an order, and ``return_tasks``.
"""
