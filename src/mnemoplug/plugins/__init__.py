"""Built-in plugins. They use the same hooks as third-party plugins and are opt-in:
``Memory(plugins=[PIIRedactor(), AuditLog("audit.jsonl")])``."""

from .audit import AuditLog
from .pii import PIIRedactor, redact

__all__ = ["AuditLog", "PIIRedactor", "redact"]
