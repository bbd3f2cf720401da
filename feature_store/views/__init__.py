"""Feature views: named, versioned Parquet tables of features, with a catalog and one read API."""
