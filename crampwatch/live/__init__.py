"""The live night: a band streams, the pipeline finds cramps, the prompt wakes, sinks record."""
