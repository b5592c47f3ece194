# Alert models arrive with anomaly detection and the operator workflow.
