"""TLS certificates: checked at upload, sealed at rest, served to Envoy over SDS."""
