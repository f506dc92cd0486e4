"""Tollgate as an OAuth2 authorization server for its partners (client credentials grant)."""
