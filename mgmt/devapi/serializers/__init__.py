"""Input serializers (what a caller may send, nothing more) and output serializers (what
a caller may see), separate for every endpoint: no field is writable by accident."""
