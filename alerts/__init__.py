"""Deduplicated alerts for new ``error`` findings, and the channels they go out on."""

from alerts.channels import channels_from_environment
from alerts.send import send_alerts

__all__ = ["channels_from_environment", "send_alerts"]
