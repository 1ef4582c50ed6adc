"""Device drivers shipped with netimmutable: ``frr`` (real FRRouting over SSH) and ``sim`` (simulated)."""
