"""Location models for new facilities: MCLP, LSCP, p-median, capacitated and multi-type."""
