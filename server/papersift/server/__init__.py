"""The papersift gRPC server: validation, ranking, caching and the store behind the API."""
