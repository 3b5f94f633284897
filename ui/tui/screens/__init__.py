"""Full screens: login, the queue, an order, the red STOP."""
