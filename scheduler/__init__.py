"""The scheduler process: `python -m scheduler`. Never started inside the web workers."""
