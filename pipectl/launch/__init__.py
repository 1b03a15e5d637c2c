"""Launching the services' processes, one home each: what the native stack and the rehearsal share."""
