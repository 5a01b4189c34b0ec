"""Dialogs: new job, settings, watch folders, confirmations."""
