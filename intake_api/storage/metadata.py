"""Every table the service owns, gathered for Alembic.

Each domain keeps its own migration branch (`branch_labels`, `down_revision=None` for its first
revision) so domains can evolve independently; `migrate()` upgrades all heads.
Import each domain's models module here so its tables are registered.
"""

from __future__ import annotations

from core.database import Base

# --- domain model modules (import for their side effect of registering tables) ---------------
# (each domain adds one import line here)
# isort: split
import intake_api.agents.models  # noqa: F401
import intake_api.alarms.models  # noqa: F401
import intake_api.assets.models  # noqa: F401
import intake_api.audit.models  # noqa: F401
import intake_api.auth.models  # noqa: F401
import intake_api.calls.models  # noqa: F401
import intake_api.deliveries.models  # noqa: F401
import intake_api.files.models  # noqa: F401
import intake_api.idempotency.models  # noqa: F401
import intake_api.messages.models  # noqa: F401  (also registers bot.dialogue.models)
import intake_api.tickets.models  # noqa: F401
from knowledge_base.models import KBBase

target_metadata = [Base.metadata, KBBase.metadata]
