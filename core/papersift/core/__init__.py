"""Shared by the server and the training job: domain types, validation, the SQL store."""
