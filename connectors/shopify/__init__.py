"""Shopify connector: Admin GraphQL client, source, sink, webhooks and a strict sandbox."""
