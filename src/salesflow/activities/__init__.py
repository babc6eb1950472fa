"""The company's memory (DESIGN §4.11): everything that happens with a client outside the
stages -- calls, meetings, e-mail, proposals, notes -- on one timeline with the deals,
handoffs and moves of its work, and next steps that become reminders."""
