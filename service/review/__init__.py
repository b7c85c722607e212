"""Editors' review of extracted records: decisions, their audit trail, and gold from them.

`ReviewStore` (`attache.review.store`) keeps them in SQLite or PostgreSQL; the decision and
view types are in `attache.review.decisions`; `attache.review.gold` exports reviewed articles
as eval fixtures.
"""
