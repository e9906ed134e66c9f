"""Deployment on Docker: naming, labels, and what Docker really has."""
