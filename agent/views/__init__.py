"""Read models for the command line and the UIs: the queue, order details, status."""
