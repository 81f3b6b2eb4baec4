"""Task names: the contract between the senders (web, CLI, beat) and the tasks."""

from __future__ import annotations

ASSESS_LESION = "calcitrack.assess_lesion"
SCAN_ALERTS = "calcitrack.scan_alerts"
SWEEP_PENDING = "calcitrack.sweep_pending"
REASSESS_STALE = "calcitrack.reassess_stale"
SEND_DIGEST = "calcitrack.send_digest"
POST_WEBHOOK = "calcitrack.post_webhook"
ASSESS_LESIONS = "calcitrack.assess_lesions"  # a batch of lesion ids: what senders send
NOOP = "calcitrack.noop"
PACS_SYNC = "calcitrack.pacs_sync"
SEND_WRITE_BACKS = "calcitrack.send_write_backs"
REFIT_PROGNOSIS = "calcitrack.refit_prognosis"
