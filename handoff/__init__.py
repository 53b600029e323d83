"""The human handoff service: queue, routing, SLA, agent API and console."""
