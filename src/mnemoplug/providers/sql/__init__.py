"""SQL code shared by the SQLite and PostgreSQL session and checkpoint stores (SQLAlchemy)."""
