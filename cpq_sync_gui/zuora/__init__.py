"""Zuora side of the sync: the REST client, ZOQL helpers and answers/errors in plain words."""
