// LethePipeline: pipeline.json, fingerprints, the runner, status and inspect.
