"""The review store's alembic migrations; `ReviewStore.open` applies them."""
