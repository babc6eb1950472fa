"""Pools: every human task's due date, priority and stalled state; claim-next, distribution
policies, separation of duties at assignment, reassignment, SLA scans and offboarding."""
