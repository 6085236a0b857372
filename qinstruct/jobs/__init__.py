"""The job system: every long job (training, evaluations, corruption batches, conversions, the demo world) runs
one way -- `qinstruct VERB --config RUN/config.yaml` in its own process, launched, limited, watched and stopped
here (launcher.py), with its run folder (qinstruct.runs) as the only record."""
