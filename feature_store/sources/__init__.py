"""Sources: readers that turn folders of WFDB records into canonical rows."""
