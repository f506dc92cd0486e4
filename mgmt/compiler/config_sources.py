"""Where Envoy fetches what a resource names (EDS, RDS, SDS): the one ADS stream.

Its own module so that clusters and their TLS (which imports nothing of clusters) share it.
"""

from envoy.config.core.v3 import config_source_pb2

ADS_CONFIG_SOURCE = config_source_pb2.ConfigSource(
    ads=config_source_pb2.AggregatedConfigSource(),
    resource_api_version=config_source_pb2.ApiVersion.V3,
)
