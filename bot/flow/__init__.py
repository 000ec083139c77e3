"""The run's flow, stage by stage: targets, characterization, the run, the merge rule."""
