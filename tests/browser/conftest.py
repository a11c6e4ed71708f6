"""Fixtures every browser test module shares: one served dashboard and one Chromium."""

from tests.browser.served import chromium, played_round

__all__ = ["chromium", "played_round"]
