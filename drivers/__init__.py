"""Devices: barcode scanners and ESC/POS printers. Knows nothing of SQLite."""
