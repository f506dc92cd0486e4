"""The API-version lifecycle's rules and date maths: plain Python, no Django, no I/O."""
