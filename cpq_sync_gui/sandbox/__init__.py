"""The built-in sandbox: a simulated Salesforce CPQ org, Zuora tenant and connector over HTTPS."""
