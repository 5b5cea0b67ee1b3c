"""SQL shared by the SQLite and PostgreSQL backends (SQLAlchemy): the session and checkpoint
stores (:mod:`.stores`), the memories table's rows and scope conditions (:mod:`.rows`) and the
check of identifiers taken from options (:mod:`.names`)."""
