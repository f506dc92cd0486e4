"""The developer API's views: each parses with an input serializer, calls one service or
selector of mgmt.developers, and answers with an output serializer."""
