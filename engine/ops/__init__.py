"""Restoration operators. See base.py for the contract and registry.py for the list."""
