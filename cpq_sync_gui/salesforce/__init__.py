"""Salesforce side of the sync: record ids, and (elsewhere in this package) the REST client."""
