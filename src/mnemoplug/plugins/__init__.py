"""Built-in plugins. They use the same hooks as third-party plugins and are opt-in:
``Memory(plugins=[PIIRedactor(), AuditLog("audit.jsonl"), MemoryMetrics(), MemoryTracing()])``."""

from .audit import AuditLog
from .metrics import MemoryMetrics, mount_metrics
from .otel import MemoryTracing
from .pii import PIIRedactor, redact

__all__ = [
    "AuditLog",
    "MemoryMetrics",
    "MemoryTracing",
    "PIIRedactor",
    "mount_metrics",
    "redact",
]
