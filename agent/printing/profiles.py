"""Printer profiles python-escpos knows: checked by `config check`, not at the first print."""

from __future__ import annotations

from config.settings import Settings


def unknown_profiles(settings: Settings) -> list[str]:
    """One problem line per [[printers]] entry whose profile python-escpos does not know."""
    if not settings.printers:
        return []
    from drivers import escpos_safe  # python-escpos is slow to import: only when printers exist

    known = escpos_safe.profile_names()
    source = settings.__dict__.get("source_path", "config")
    return [f"{source}: printers[{i}].profile: unknown profile {p.profile!r}"
            f" (known: {', '.join(known)})" for i, p in enumerate(settings.printers)
            if p.profile not in known]
