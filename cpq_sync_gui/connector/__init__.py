"""Zuora's own CPQ connector endpoint: triggering its Account/Order sync the way the Salesforce buttons do."""
