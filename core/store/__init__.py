"""What the workstation keeps: a database (SQLAlchemy; SQLite by default) and the folder it lives in."""
