"""The Hub copy: Parquet parts, the card and its figures, ownership records, verification and upload."""
