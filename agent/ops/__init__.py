"""Store IT: doctor, Prometheus metrics, backups, restore and retention."""
