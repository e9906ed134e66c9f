"""Master-side use cases: what the CLI and the Ansible modules call."""
