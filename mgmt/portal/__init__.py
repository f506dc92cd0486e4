"""The developer portal: server-rendered pages over mgmt.developers, for partners."""
