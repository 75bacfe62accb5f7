"""AP oversight analytics: ingest, store and metrics. Never imports streamlit."""
