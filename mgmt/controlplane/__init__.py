"""The control plane's own rules (when to publish, what history to keep, which gateways
have a change): plain Python, no Django, no I/O."""
