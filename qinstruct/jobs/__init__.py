"""The job system: every long job (training, evaluations, corruption batches, conversions, the demo world) has a
JobSpec (spec.py, collected in registry.py) and runs one way -- `python -m qinstruct.jobs.child KIND
RUN/config.yaml` in its own process, admitted, limited, watched and stopped here (launcher.py), with its run
folder (qinstruct.runs) as the only record."""
