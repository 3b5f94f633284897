"""Paper: the durable print queue and receipt jobs (queue), and the worker that talks to printers (worker)."""
